import Foundation
import Store

/// Several studies' best-so-far curves on one plot (a search against its random control).
public struct ComparePage {
    public let snapshots: [StudySnapshot]
    public let links: Links

    public init(_ snapshots: [StudySnapshot], links: Links = .served) { self.snapshots = snapshots; self.links = links }

    public func html(mark: String? = nil) -> String {
        let names = snapshots.map { links.a(links.study($0.study.name), escape($0.study.name)) }
        var body = "<h1>Compare \(names.joined(separator: ", "))</h1>\n"
        body += Plot(title: "Best so far", xLabel: "candidates completed", yLabel: "best validation loss",
                     series: snapshots.enumerated().map { i, s in
                         .init(name: s.study.name, color: Plot.color(i), points: s.bestSoFar, line: true)
                     }).svg()
        body += "<table class=\"compare\"><tr><th>study</th><th>completed</th><th>best</th></tr>\n"
        for s in snapshots {
            let best = s.best.map { links.a(links.candidate(s.study.name, $0.id!), String(format: "%.4f (#%lld)", $0.fitness!, $0.id!)) } ?? "–"
            body += "<tr><td>\(links.a(links.study(s.study.name), escape(s.study.name)))</td><td>\(s.completed.count)</td><td>\(best)</td></tr>\n"
        }
        return Page.html(title: "evolve · compare", body: body + "</table>\n", links: links, mark: mark)
    }
}
