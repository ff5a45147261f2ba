import Foundation
import Store

/// The ladder of scales on the study page and a candidate's page: per rung, its jobs, what
/// climbed from it and the seed's reference loss there; the subjects that climbed, each
/// rung's loss and its gain against the seed at that rung (as `evolve status` and `show`).
extension StudyPage {
    /// Empty where no candidate has a rung job yet.
    func ladderSection() -> String {
        guard let ladder = snapshot.ladder else { return "" }
        let jobs = snapshot.jobs, rungs = ladder.rungs
        var html = "<h2>Ladder of scales</h2>\n<p>Gain: the seed's mean loss at the rung minus the candidate's (positive: better); "
            + "hurdle bands apply at rung 0 only.</p>\n"
        html += "<table class=\"rungs\"><tr><th>rung</th><th>completed</th><th>running</th><th>queued</th><th>promoted to the next</th>"
            + "<th>seed's loss</th><th>best gain</th></tr>\n"
        for rung in 0..<rungs {
            let rows = rung == 0 ? snapshot.candidates : jobs.filter { $0.rung == rung }
            let count = { (s: CandidateStatus) in rows.filter { $0.status == s }.count }
            let promoted = Set(jobs.filter { $0.rung == rung + 1 && $0.mutationKind == Ladder.promote }.compactMap(\.subject)).count
            let best = ladder.best(rung: rung)
            html += "<tr><td>\(rung)</td><td>\(count(.done) + count(.failed)) (\(count(.failed)) failed)</td><td>\(count(.running))</td>"
                + "<td>\(count(.queued))</td><td>\(promoted)</td><td>\(referenceText(ladder, rung: rung))</td>"
                + "<td>\(best.map { links.a(links.candidate(study.name, $0.subject), "#\($0.subject)") + String(format: " %+.4f", $0.gain) } ?? "")</td></tr>\n"
        }
        html += "</table>\n"
        html += climbersTable(ladder)
        return html + climbPlot(ladder)
    }

    /// The subjects that climbed past rung 0 (seeds' reference jobs aside), highest rung
    /// reached first, then by loss there: each rung's loss and gain. The first 30.
    func climbersTable(_ ladder: LadderResults) -> String {
        let climbed = ladder.standings.keys.compactMap { s in ladder.reach(s).map { (subject: s, rung: $0.rung, loss: $0.loss) } }
            .filter { $0.rung > 0 }.sorted { ($1.rung, $0.loss, $0.subject) < ($0.rung, $1.loss, $1.subject) }
        guard !climbed.isEmpty else { return "<p>No candidate has finished a rung above 0 yet.</p>\n" }
        var html = "<h3>Climbers (\(climbed.count))</h3>\n<table class=\"climbers\"><tr><th>candidate</th><th>highest rung</th>"
            + (0..<ladder.rungs).map { "<th>rung \($0)</th>" }.joined() + "</tr>\n"
        for c in climbed.prefix(30) {
            html += "<tr><td>\(links.a(links.candidate(study.name, c.subject), "#\(c.subject)"))</td><td>\(c.rung)</td>"
                + (0..<ladder.rungs).map { "<td>\(standingText(ladder, c.subject, rung: $0))</td>" }.joined() + "</tr>\n"
        }
        return html + "</table>\n"
    }

    /// Every finished standing's loss by rung, and the seed's reference loss at each rung.
    func climbPlot(_ ladder: LadderResults) -> String {
        let points = ladder.standings.flatMap { subject, byRung in
            byRung.values.filter { $0.loss.isFinite && !$0.isReference && subject != ladder.seed }.map { (x: Double($0.rung), y: $0.loss) }
        }
        let reference = (0..<ladder.rungs).compactMap { r in ladder.reference(rung: r).flatMap { $0.loss.isFinite ? (x: Double(r), y: $0.loss) : nil } }
        return Plot(title: "Validation loss by rung", xLabel: "rung", yLabel: "validation loss", series: [
            .init(name: "candidate", color: "#4a7bd0", points: points),
            .init(name: "seed (reference)", color: "#d0502a", points: reference, line: true),
        ], height: 260).svg()
    }
}

extension CandidatePage {
    /// Every rung this candidate reached or is queued for; empty without a ladder.
    func rungs() -> String {
        guard let ladder = snapshot.ladder else { return "" }
        let subject = candidate.id!, reached = ladder.standings[subject] ?? [:]
        let pending = snapshot.jobs.filter { $0.subject == subject && reached[$0.rung] == nil }
        guard reached.keys.contains(where: { $0 > 0 }) || !pending.isEmpty else { return "" }
        var html = "<h3>Rungs</h3>\n<table class=\"rungs\"><tr><th>rung</th><th>result</th><th>seed's loss</th><th>jobs</th></tr>\n"
        for rung in Set(reached.keys).union(pending.map(\.rung)).sorted() {
            let jobs = reached[rung].map { $0.jobs.map { "#\($0)" } } ?? pending.filter { $0.rung == rung }.map { "#\($0.id!) \($0.status.rawValue)" }
            html += "<tr><td>\(rung)</td><td>\(standingText(ladder, subject, rung: rung))</td><td>\(referenceText(ladder, rung: rung))</td>"
                + "<td>\(escape(jobs.joined(separator: ", ")))</td></tr>\n"
        }
        return html + "</table>\n"
    }
}

/// A subject's loss at a rung with its bits per byte and gain: "1.9876 (0.8123 bpb), gain +0.0123".
func standingText(_ ladder: LadderResults, _ subject: Int64, rung: Int) -> String {
    guard let s = ladder.standing(subject, rung: rung) else { return "" }
    guard s.loss.isFinite else { return "failed" }
    return String(format: "%.4f", s.loss) + (s.bitsPerByte.map { String(format: " (%.4f bpb)", $0) } ?? "")
        + (ladder.gain(subject, rung: rung).map { String(format: ", gain %+.4f", $0) } ?? "")
}

/// The seed's loss at a rung with its spread over reference seeds: "1.9876 ± 0.0040".
func referenceText(_ ladder: LadderResults, rung: Int) -> String {
    guard let r = ladder.reference(rung: rung), r.loss.isFinite else { return "" }
    return String(format: "%.4f", r.loss) + (r.losses.count > 1 ? String(format: " ± %.4f", r.spread) : "")
}
