import Foundation
import Program
import Store

/// One HTML page about a study: fitness over time with the best so far, the population the
/// search holds now, the hurdle bands, and the best program with its lineage. Self-contained
/// (inline SVG and CSS), written from the database alone.
public struct StudyReport {
    public let store: Store
    public let study: Study
    /// The population size, for the "population now" plot (the space's P).
    public var population: Int

    public init(store: Store, study: Study, population: Int) {
        self.store = store; self.study = study; self.population = population
    }

    /// The page: a summary line, three plots, failures by kind, the best program's lineage
    /// and listing, and the space file.
    public func html() throws -> String {
        let all = try store.candidates(study: study.id!)
        let completed = try store.completed(study: study.id!)
        let counts = try store.counts(study: study.id!)
        var body = "<h1>Study \(escape(study.name))</h1>\n"
        body += "<p class=\"summary\">\(escape(store.location)) · started \(escape("\(study.created)")) · "
            + "\(counts.done + counts.failed) completed (\(counts.failed) failed), \(counts.running) running, \(counts.queued) queued</p>\n"
        body += fitnessPlot(completed)
        body += try populationPlot(completed)
        body += try bandsPlot(completed)
        body += failureTable(all)
        body += try bestSection()
        body += "<details><summary>Search space</summary><pre>\(escape(study.space))</pre></details>\n"
        return page(title: "evolve · \(escape(study.name))", body: body)
    }

    /// Fitness over time: every completed candidate by completion order, and the best so far.
    func fitnessPlot(_ completed: [Candidate]) -> String {
        var best = Double.infinity
        var bestCurve = [(x: Double, y: Double)]()
        for c in completed {
            if let f = c.fitness, f < best { best = f; bestCurve.append((Double(c.completion!), f)) }
        }
        if let last = completed.last, !bestCurve.isEmpty { bestCurve.append((Double(last.completion!), best)) }
        return Plot(title: "Fitness over time", xLabel: "candidate (in order of completion)", yLabel: "validation loss",
                    series: [
                        .init(name: "candidate", color: "#4a7bd0",
                              points: completed.compactMap { c in c.fitness.map { (Double(c.completion!), $0) } }),
                        .init(name: "best so far", color: "#d0502a", points: bestCurve, line: true),
                    ]).svg()
    }

    /// The population now: the last P completed, loss against cost.
    func populationPlot(_ completed: [Candidate]) throws -> String {
        let members = completed.suffix(population)
        var points = [(x: Double, y: Double)]()
        for c in members {
            guard let f = c.fitness, let e = try store.evaluations(c.reusedFrom ?? c.id!).last else { continue }
            points.append((Double(e.flopsPerToken), f))
        }
        // Its Pareto front over loss and FLOPs per token: the members nothing beats in both.
        let ranks = paretoRanks(points.map { ($0.y, $0.x) })
        let front = zip(points, ranks).filter { $0.1 == 0 }.map(\.0).sorted { $0.x < $1.x }
        return Plot(title: "The population now (last \(population) completed)", xLabel: "FLOPs per token (forward)",
                    yLabel: "validation loss", series: [
                        .init(name: "member", color: "#3a9a5b", points: points),
                        .init(name: "Pareto front (\(front.count))", color: "#d0502a", points: front, line: true),
                    ]).svg()
    }

    /// Hurdle bands: each band's loss by completion, coloured by band.
    func bandsPlot(_ completed: [Candidate]) throws -> String {
        let colors = ["#8d6cc4", "#4a7bd0", "#3a9a5b", "#d09a2a", "#d0502a", "#555555"]
        var bands: [Int: [(x: Double, y: Double)]] = [:]
        for c in completed where c.reusedFrom == nil {
            for e in try store.evaluations(c.id!) { if let l = e.loss { bands[e.band, default: []].append((Double(c.completion!), l)) } }
        }
        return Plot(title: "Hurdle bands: validation loss at the end of each band", xLabel: "candidate (in order of completion)",
                    yLabel: "validation loss",
                    series: bands.keys.sorted().map { b in
                        .init(name: "band \(b) (\(bands[b]!.count))", color: colors[b % colors.count], points: bands[b]!)
                    }).svg()
    }

    /// Failures by kind; empty when none failed.
    func failureTable(_ all: [Candidate]) -> String {
        let failures = Dictionary(grouping: all.compactMap(\.failure), by: { $0 }).mapValues(\.count)
        guard !failures.isEmpty else { return "" }
        var html = "<h2>Failures</h2>\n<table><tr><th>kind</th><th>candidates</th></tr>\n"
        for (k, n) in failures.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            html += "<tr><td>\(escape(k.rawValue))</td><td>\(n)</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// The best program and how it came to be.
    func bestSection() throws -> String {
        guard let b = try store.best(study: study.id!) else { return "" }
        var html = String(format: "<h2 id=\"best\">Best: #%lld, validation loss %.4f%@</h2>\n", b.id!, b.fitness!,
                          b.bitsPerByte.map { String(format: " (%.4f bits per byte)", $0) } ?? "")
        html += "<h3>Lineage</h3>\n<table class=\"lineage\"><tr><th>candidate</th><th>generation</th><th>mutation</th><th>val_loss</th><th>change at equal steps</th></tr>\n"
        for a in try store.lineage(b.id!) {
            let loss = a.fitness.map { String(format: "%.4f", $0) } ?? (a.failure?.rawValue ?? a.status.rawValue)
            let change = try store.changeAgainstParent(a).map { String(format: "%+.4f", $0) } ?? ""
            html += "<tr><td>#\(a.id!)</td><td>\(a.generation)</td><td>\(escape(a.mutation ?? "seed"))</td><td>\(loss)</td><td>\(change)</td></tr>\n"
        }
        html += "</table>\n"
        html += try blockFigure(b)
        return html + "<h3>Program</h3>\n<pre class=\"program\">\(escape(b.listing(in: study)))</pre>\n"
    }

    /// The best program's dataflow beside its seed's, subprogram by subprogram, with the
    /// nodes the search added (orange) and removed (dashed) marked.
    func blockFigure(_ best: Candidate) throws -> String {
        guard let root = try store.lineage(best.id!).first, root.id != best.id,
              let seed = try? Program(text: root.program), let found = try? Program(text: best.listing(in: study)) else { return "" }
        var html = "<h3>The block against its seed</h3>\n<p>Added by the search: orange; removed: dashed.</p>\n"
        for k in 0..<max(seed.subprograms.count, found.subprograms.count) {
            let (a, b) = ProgramGraph.pair(best: found, seed: seed, subprogram: k)
            html += "<div class=\"pair\">" + a.svg(title: "\(seed.name), subprogram \(k)")
                + b.svg(title: "#\(best.id!), subprogram \(k)") + "</div>\n"
        }
        return html
    }

    func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(title)</title>
        <style>\(StudyReport.css)</style></head>
        <body>
        \(body)</body></html>

        """
    }

    static let css = """
        body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 760px; color: #222; }
        svg.plot { display: block; margin: 1.5em 0; }
        table { border-collapse: collapse; margin: 0.5em 0; }
        td, th { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: left; }
        pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
        div.pair { display: flex; gap: 16px; align-items: flex-start; overflow-x: auto; }
        """
}
