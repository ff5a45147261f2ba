import Foundation
import Program
import Store

/// The study page's tables: failures, mutation kinds, workers, the latest candidates, the best.
extension StudyPage {
    /// Failures by kind, each with its most frequent reasons; empty when none failed.
    func failureTable() -> String {
        let failed = snapshot.candidates.compactMap(\.failed)
        guard !failed.isEmpty else { return "" }
        var html = "<h2>Failures</h2>\n<table class=\"failures\"><tr><th>kind</th><th>candidates</th><th>most frequent reasons</th></tr>\n"
        for (kind, all) in Dictionary(grouping: failed, by: \.kind).sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let reasons = Dictionary(grouping: all.map(\.reason), by: { $0 }).mapValues(\.count)
                .sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(3)
                .map { "\(escape(String($0.key.prefix(300)))) (\($0.value))" }.joined(separator: "<br>")
            html += "<tr><td>\(escape(kind.rawValue))</td><td>\(all.count)</td><td class=\"reason\">\(reasons)</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// Per mutation kind: children it was drawn for, children it made, and their change in
    /// loss against the parent at equal steps (mean and best), as `evolve status` prints.
    func mutationTable() -> String {
        let children = snapshot.candidates.filter { $0.mutationKind != nil }
        guard !children.isEmpty else { return "" }
        var html = "<h2>Mutations</h2>\n<table class=\"mutations\"><tr><th>kind</th><th>drawn first</th><th>made</th>"
            + "<th>mean change</th><th>best change</th><th>measured</th></tr>\n"
        for kind in Set(children.compactMap(\.mutationKind) + children.compactMap(\.drawnKind)).sorted() {
            let made = children.filter { $0.mutationKind == kind }
            let changes = made.compactMap(snapshot.changeAgainstParent)
            let mean = changes.isEmpty ? "n/a" : String(format: "%+.4f", changes.reduce(0, +) / Double(changes.count))
            html += "<tr><td>\(escape(kind))</td><td>\(children.filter { $0.drawnKind == kind }.count)</td><td>\(made.count)</td>"
                + "<td>\(mean)</td><td>\(changes.min().map { String(format: "%+.4f", $0) } ?? "n/a")</td><td>\(changes.count)</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// Running candidates: who holds each lease and when it last beat.
    func workerTable(now: Date) -> String {
        let running = snapshot.candidates.filter { $0.status == .running }
        guard !running.isEmpty else { return "<h2>Workers</h2>\n<p class=\"workers\">No candidate is running.</p>\n" }
        var html = "<h2>Workers</h2>\n<table class=\"workers\"><tr><th>worker</th><th>candidate</th><th>lease</th><th>last heartbeat</th></tr>\n"
        for c in running {
            let age = c.heartbeat.map { String(format: "%.0f s ago", max(0, now.timeIntervalSince($0))) } ?? "never"
            html += "<tr><td>\(escape(c.worker?.description ?? "?"))</td><td>\(links.a(links.candidate(study.name, c.id!), "#\(c.id!)"))</td>"
                + "<td>\(c.lease.map { "\($0)" } ?? "")</td><td>\(age)</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// The last 20 candidates made (the JSON API pages through all of them).
    func latestTable() -> String {
        let latest = snapshot.candidates.suffix(20).reversed()
        guard !latest.isEmpty else { return "" }
        var html = "<h2>Latest candidates</h2>\n<table class=\"latest\"><tr><th>candidate</th><th>status</th><th>val_loss</th><th>mutation</th></tr>\n"
        for c in latest {
            html += "<tr id=\"c\(c.id!)\"><td>\(links.a(links.candidate(study.name, c.id!), "#\(c.id!)"))</td><td>\(c.status.rawValue)</td>"
                + "<td>\(outcomeText(c))</td><td>\(escape(c.mutation ?? "seed"))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// The best program and how it came to be.
    func bestSection() -> String {
        guard let b = snapshot.best else { return "" }
        var html = String(format: "<h2 id=\"best\">Best: %@, validation loss %.4f%@</h2>\n",
                          links.a(links.candidate(study.name, b.id!), "#\(b.id!)"), b.fitness!,
                          b.bitsPerByte.map { String(format: " (%.4f bits per byte)", $0) } ?? "")
        html += lineageTable(snapshot.lineage(b.id!), snapshot: snapshot, links: links)
        html += BlockFigure.against(seedOf: b, in: snapshot)
        return html + "<h3>Program</h3>\n<pre class=\"program\">\(escape(b.listing(in: study)))</pre>\n"
    }
}

/// A candidate's loss, or how it ended where it has none.
func outcomeText(_ c: Candidate) -> String {
    c.fitness.map { String(format: "%.4f", $0) } ?? escape(c.failure?.rawValue ?? c.fitnessKind?.rawValue ?? c.status.rawValue)
}

/// A lineage, oldest first: each step's mutation and its change in loss at equal steps.
func lineageTable(_ chain: [Candidate], snapshot: StudySnapshot, links: Links) -> String {
    var html = "<h3>Lineage</h3>\n<table class=\"lineage\"><tr><th>candidate</th><th>generation</th><th>mutation</th><th>val_loss</th><th>change at equal steps</th></tr>\n"
    for a in chain {
        let change = snapshot.changeAgainstParent(a).map { String(format: "%+.4f", $0) } ?? ""
        html += "<tr><td>\(links.a(links.candidate(snapshot.study.name, a.id!), "#\(a.id!)"))</td><td>\(a.generation)</td>"
            + "<td>\(escape(a.mutation ?? "seed"))</td><td>\(outcomeText(a))</td><td>\(change)</td></tr>\n"
    }
    return html + "</table>\n"
}
