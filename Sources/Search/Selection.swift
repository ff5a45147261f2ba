import Program
import Store

/// What a tournament ranks candidates by.
public enum Objective: Sendable, Equatable, CustomStringConvertible {
    /// Validation loss alone (Primer's).
    case loss
    /// Validation loss and a cost, together: a candidate's rank is its Pareto rank in the
    /// population (0: nothing is better in both), ties broken by loss.
    case pareto(CostAxis)

    public enum CostAxis: String, Sendable, CaseIterable {
        case flopsPerToken = "flops_per_token", params
    }

    public var description: String {
        switch self {
        case .loss: return "loss"
        case .pareto(let axis): return "pareto over loss and \(axis.rawValue)"
        }
    }
}

/// How parents are chosen.
public enum Selection: String, Sendable, CaseIterable {
    /// Regularized evolution: the best of S drawn from the last P completed.
    case tournament
    /// The control: every child is a mutation of a seed, drawn at random (no selection).
    case random
}

/// A completed candidate's cost on an axis, from its program (nil if it does not validate).
func cost(_ c: Candidate, _ axis: Objective.CostAxis, vocabulary: Int) -> Double? {
    guard let p = try? Program(text: c.program), let cost = try? p.cost(vocabulary: vocabulary) else { return nil }
    return Double(axis == .params ? cost.parameters : cost.flopsPerToken)
}

/// The tournament's winner among `contenders` on a ladder of scales: the highest rung comes
/// first. `reach` gives a member's highest rung with a finished job of finite loss, and that
/// loss (nil: rung 0 alone). Only the contenders that reached the highest rung among them
/// take part, compared by their loss there — which orders them as their gain over the seed
/// at that rung does, since every subject of a rung is measured against the same reference
/// jobs — so a block that climbed and still wins outranks one that only wins at the bottom.
/// Where none climbed, the objective decides as without a ladder.
func winner(_ contenders: [Candidate], population: [Candidate], objective: Objective,
            reach: (Candidate) -> (rung: Int, loss: Double)?, cost: (Candidate, Objective.CostAxis) -> Double?) -> Candidate {
    let reached = contenders.map { reach($0) ?? (0, .infinity) }
    let top = reached.map(\.rung).max() ?? 0
    guard top > 0 else { return winner(contenders, population: population, objective: objective, cost: cost) }
    return zip(contenders, reached).filter { $0.1.rung == top }.min { $0.1.loss < $1.1.loss }!.0
}

/// The tournament's winner among `contenders`, drawn from `population`; `cost` gives a
/// member's cost on an axis (for a Pareto objective).
func winner(_ contenders: [Candidate], population: [Candidate], objective: Objective,
            cost: (Candidate, Objective.CostAxis) -> Double?) -> Candidate {
    func loss(_ c: Candidate) -> Double { c.fitness ?? .infinity }
    guard case .pareto(let axis) = objective else { return contenders.min { loss($0) < loss($1) }! }
    // Failed members (no finite loss) rank behind every finished one, whatever their cost.
    let finished = population.filter { loss($0).isFinite }
    let ranks = paretoRanks(finished.map { (loss($0), cost($0, axis) ?? .infinity) })
    var rankOf = [Int64: Int]()
    for (c, r) in zip(finished, ranks) { rankOf[c.id!] = r }
    return contenders.min { (rankOf[$0.id!] ?? .max, loss($0)) < (rankOf[$1.id!] ?? .max, loss($1)) }!
}
