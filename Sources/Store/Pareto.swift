/// Non-dominated sorting (as NSGA-II) of candidates' (loss, cost) points: rank 0 is the
/// front — points no other point beats in both coordinates (lower is better in each); rank
/// r is the front once ranks < r are gone. Here, beside the candidate records, so that the
/// search's Pareto tournaments and the report's drawn front are one rule.
public func paretoRanks(_ points: [(Double, Double)]) -> [Int] {
    func dominates(_ a: (Double, Double), _ b: (Double, Double)) -> Bool {
        a.0 <= b.0 && a.1 <= b.1 && (a.0 < b.0 || a.1 < b.1)
    }
    var rank = [Int](repeating: -1, count: points.count), r = 0
    while rank.contains(-1) {
        let left = points.indices.filter { rank[$0] == -1 }
        let front = left.filter { i in !left.contains { j in j != i && dominates(points[j], points[i]) } }
        for i in front { rank[i] = r }
        r += 1
    }
    return rank
}
