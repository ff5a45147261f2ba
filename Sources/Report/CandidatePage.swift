import Foundation
import Program
import Store

/// One candidate: what it is and how it ended, its lineage with each step's change, its
/// evaluations (bands and the curve beside its parent's, rungs), its block against its parent and
/// its seed, its program, and (served) links to download it as a config or a PyTorch module.
public struct CandidatePage {
    public let snapshot: StudySnapshot
    public let candidate: Candidate
    public let links: Links

    public init(_ snapshot: StudySnapshot, candidate: Candidate, links: Links = .none) {
        self.snapshot = snapshot; self.candidate = candidate; self.links = links
    }

    public func html(mark: String? = nil) -> String {
        Page.html(title: "evolve · \(escape(snapshot.study.name)) #\(candidate.id!)", body: body(), links: links, mark: mark)
    }

    public func body() -> String {
        let c = candidate, name = snapshot.study.name
        var html = "<h1>Candidate #\(c.id!) of \(links.a(links.study(name), escape(name)))</h1>\n"
        html += "<table class=\"facts\">" + facts().map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>" }.joined(separator: "\n") + "</table>\n"
        if c.status == .done, let config = links.export(name, c.id!, "config"), let torch = links.export(name, c.id!, "pytorch") {
            html += "<p class=\"downloads\">Download: <a href=\"\(escape(config))\" download>config (evolve train)</a> · "
                + "<a href=\"\(escape(torch))\" download>PyTorch module</a></p>\n"
        }
        html += lineageTable(snapshot.lineage(c.id!), snapshot: snapshot, links: links)
        html += evaluations()
        html += rungs()
        html += BlockFigure.against(parentOf: c, in: snapshot)
        if c.parentId != nil, snapshot.candidate(c.parentId!)?.parentId != nil { html += BlockFigure.against(seedOf: c, in: snapshot) }
        return html + "<h3>Program</h3>\n<pre class=\"program\">\(escape(c.listing(in: snapshot.study)))</pre>\n"
    }

    /// What the row records, as (heading, HTML) pairs.
    func facts() -> [(String, String)] {
        let c = candidate, name = snapshot.study.name
        var rows = [("status", c.status.rawValue), ("val_loss", outcomeText(c)), ("generation", "\(c.generation)"),
                    ("mutation", escape(c.mutation ?? "seed"))]
        if let f = c.failed { rows.append(("failure", "\(escape(f.kind.rawValue)): \(escape(f.reason))")) }
        if let p = c.parentId { rows.append(("parent", links.a(links.candidate(name, p), "#\(p)"))) }
        if let t = c.reusedFrom { rows.append(("result of", links.a(links.candidate(name, t), "#\(t)") + " (the same program or function)")) }
        if let w = c.worker { rows.append(("worker", escape(w.description))) }
        if let s = c.trainSeconds { rows.append(("training", String(format: "%.1f s", s))) }
        rows.append(("hash", escape(c.hash)))
        return rows
    }

    /// Its bands, and its loss curve over steps beside its parent's.
    func evaluations() -> String {
        let bands = snapshot.bands(candidate)
        guard !bands.isEmpty else { return "" }
        var html = "<h3>Evaluations</h3>\n<table class=\"bands\"><tr><th>band</th><th>steps</th><th>tokens</th><th>val_loss</th>"
            + "<th>seconds</th><th>parameters</th><th>FLOPs per token</th></tr>\n"
        for e in bands {
            html += "<tr><td>\(e.band)</td><td>\(e.steps)</td><td>\(e.tokens)</td><td>\(e.loss.map { String(format: "%.4f", $0) } ?? e.lossKind.rawValue)</td>"
                + "<td>\(String(format: "%.1f", e.seconds))</td><td>\(e.parameters)</td><td>\(e.flopsPerToken)</td></tr>\n"
        }
        html += "</table>\n"
        func curve(_ c: Candidate) -> [(x: Double, y: Double)] { snapshot.bands(c).compactMap { e in e.loss.map { (Double(e.steps), $0) } } }
        var series = [Plot.Series(name: "#\(candidate.id!)", color: "#d0502a", points: curve(candidate), joined: true)]
        if let p = candidate.parentId.flatMap(snapshot.candidate) {
            series.append(.init(name: "parent #\(p.id!)", color: "#4a7bd0", points: curve(p), joined: true))
        }
        return html + Plot(title: "Validation loss at the end of each band", xLabel: "training steps", yLabel: "validation loss",
                           series: series, height: 260).svg()
    }
}
