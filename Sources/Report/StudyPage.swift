import Foundation
import Program
import Store

/// A study's page, drawn from a snapshot: the same HTML in `evolve report`'s file (no links)
/// and on `evolve serve` (links to candidates, live). Fitness over time with the best so far,
/// the population now with its Pareto front, the hurdle bands, the ladder's rungs, failures by kind with their
/// reasons, per-mutation-kind statistics, workers and their leases, the latest candidates,
/// and the best program with its lineage and its block against its seed.
public struct StudyPage {
    public let snapshot: StudySnapshot
    public let links: Links

    public init(_ snapshot: StudySnapshot, links: Links = .none) { self.snapshot = snapshot; self.links = links }

    var study: Study { snapshot.study }

    /// The page's body (`Page.html` frames it).
    public func body(now: Date = Date()) -> String {
        let completed = snapshot.completed
        let c = snapshot.counts
        var body = "<h1>Study \(escape(study.name))</h1>\n"
        body += "<p class=\"summary\">\(escape(snapshot.location)) · started \(escape("\(study.created)")) · "
            + "<span id=\"completed\">\(c.done + c.failed)</span> completed (\(c.failed) failed), \(c.running) running, \(c.queued) queued</p>\n"
        body += fitnessPlot(completed)
        body += populationPlot(completed)
        body += bandsPlot(completed)
        body += ladderSection()
        body += failureTable()
        body += mutationTable()
        body += workerTable(now: now)
        body += latestTable()
        body += bestSection()
        body += "<details><summary>Search space</summary><pre>\(escape(study.space))</pre></details>\n"
        return body
    }

    public func html(mark: String? = nil) -> String {
        Page.html(title: "evolve · \(escape(study.name))", body: body(), links: links, mark: mark)
    }

    /// Fitness over time: every completed candidate by order of completion, and the best so far.
    func fitnessPlot(_ completed: [Candidate]) -> String {
        Plot(title: "Fitness over time", xLabel: "candidate (in order of completion)", yLabel: "validation loss",
             series: [
                .init(name: "candidate", color: "#4a7bd0",
                      points: completed.enumerated().compactMap { n, c in c.fitness.map { (Double(n + 1), $0) } }),
                .init(name: "best so far", color: "#d0502a", points: snapshot.bestSoFar, line: true),
             ]).svg()
    }

    /// The population now: the last P completed, loss against cost, with its Pareto front.
    func populationPlot(_ completed: [Candidate]) -> String {
        let points = completed.suffix(snapshot.population).compactMap { c -> (x: Double, y: Double)? in
            guard let f = c.fitness, let e = snapshot.bands(c).last else { return nil }
            return (Double(e.flopsPerToken), f)
        }
        // The members nothing beats in both loss and FLOPs per token.
        let ranks = paretoRanks(points.map { ($0.y, $0.x) })
        let front = zip(points, ranks).filter { $0.1 == 0 }.map(\.0).sorted { $0.x < $1.x }
        return Plot(title: "The population now (last \(snapshot.population) completed)", xLabel: "FLOPs per token (forward)",
                    yLabel: "validation loss", series: [
                        .init(name: "member", color: "#3a9a5b", points: points),
                        .init(name: "Pareto front (\(front.count))", color: "#d0502a", points: front, line: true),
                    ]).svg()
    }

    /// Hurdle bands: each band's loss by order of completion, coloured by band.
    func bandsPlot(_ completed: [Candidate]) -> String {
        let colors = ["#8d6cc4", "#4a7bd0", "#3a9a5b", "#d09a2a", "#d0502a", "#555555"]
        var bands: [Int: [(x: Double, y: Double)]] = [:]
        for (n, c) in completed.enumerated() where c.reusedFrom == nil {
            for e in snapshot.evaluations[c.id!] ?? [] { if let l = e.loss { bands[e.band, default: []].append((Double(n + 1), l)) } }
        }
        return Plot(title: "Hurdle bands: validation loss at the end of each band", xLabel: "candidate (in order of completion)",
                    yLabel: "validation loss",
                    series: bands.keys.sorted().map { b in
                        .init(name: "band \(b) (\(bands[b]!.count))", color: colors[b % colors.count], points: bands[b]!)
                    }).svg()
    }
}
