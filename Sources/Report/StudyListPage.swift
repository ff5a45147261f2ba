import Foundation
import Store

/// The studies in a store, with a form to compare any of them on one plot.
public struct StudyListPage {
    public let location: String
    public let studies: [StudySummary]
    public let links: Links

    public init(location: String, studies: [StudySummary], links: Links = .served) {
        self.location = location; self.studies = studies; self.links = links
    }

    public func html(mark: String? = nil) -> String {
        var body = "<h1>Studies in \(escape(location))</h1>\n"
        guard !studies.isEmpty else { return Page.html(title: "evolve", body: body + "<p>No study yet.</p>\n", links: links, mark: mark) }
        body += "<form action=\"\(escape(links.root ?? ""))compare\" method=\"get\"><table class=\"studies\"><tr><th></th><th>study</th>"
            + "<th>completed</th><th>failed</th><th>running</th><th>queued</th><th>best</th><th>per hour</th><th>workers</th></tr>\n"
        for s in studies {
            let best = s.bestId.map { id in links.a(links.candidate(s.name, id), String(format: "%.4f (#%lld)", s.bestLoss ?? .nan, id)) } ?? "–"
            body += "<tr><td><input type=\"checkbox\" name=\"study\" value=\"\(escape(s.name))\"></td>"
                + "<td>\(links.a(links.study(s.name), escape(s.name)))</td><td>\(s.done + s.failed)</td><td>\(s.failed)</td>"
                + "<td>\(s.running)</td><td>\(s.queued)</td><td>\(best)</td><td>\(s.perHour.map { String(format: "%.1f", $0) } ?? "–")</td>"
                + "<td>\(s.active ? "active" : "idle")</td></tr>\n"
        }
        body += "</table><button type=\"submit\">Compare the checked studies</button></form>\n"
        return Page.html(title: "evolve · studies", body: body, links: links, mark: mark)
    }
}
