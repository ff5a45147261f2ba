import Foundation

/// What `copy` moved.
public struct CopySummary: Sendable {
    public var candidates = 0, evaluations = 0, requeued = 0
    public init() {}
}

extension SQLStore {
    /// Copies a study — the study, its candidates with their ids, completion numbers and
    /// leases, and their evaluations — from `source` into this store, in one transaction, so
    /// that the copy resumes where the original stood and `evolve show ID` names the same
    /// candidate in both. Candidates running in the source go into the queue (they are
    /// trained again). Refused, with nothing written, where this store already has a study of
    /// that name or any of its ids or completion numbers.
    public func copy(_ study: Study, from source: SQLStore) throws -> CopySummary {
        let (candidates, evaluations) = try source.read { db in
            (try fetch(Candidate.self, db, where: "studyId = ?", .integer(study.id!)),
             try fetch(Evaluation.self, db, where: "candidateId IN (SELECT id FROM candidate WHERE studyId = ?)", .integer(study.id!),
                       order: "candidateId, band"))
        }
        var summary = CopySummary()
        try write { db in
            let clash = { (what: String) in StoreError(description: "\(self.location) already holds \(what); copy into a new database (nothing was written)") }
            if try fetch(Study.self, db, where: "name = ? OR id = ?", .text(study.name), .integer(study.id!)).first != nil {
                throw clash("a study named \(study.name) (or with its id)")
            }
            let ids = candidates.map { SQLValue.integer($0.id!) }, completions = candidates.compactMap { $0.completion.map(SQLValue.integer) }
            for (column, values) in [("id", ids), ("completion", completions)] where !values.isEmpty {
                let marks = values.map { _ in "?" }.joined(separator: ", ")
                if try db.rows("SELECT COUNT(*) AS n FROM candidate WHERE \(column) IN (\(marks))", values).first?.integer("n") ?? 0 > 0 {
                    throw clash("candidates with the same \(column == "id" ? "ids" : "completion numbers")")
                }
            }
            _ = try insert(study, db, keepingID: true)
            // Parents before children: ids grow with making, and a parent is made first.
            for var c in candidates.sorted(by: { $0.id! < $1.id! }) {
                if c.status == .running {
                    c.status = .queued; c.worker = nil; c.heartbeat = nil
                    summary.requeued += 1
                }
                _ = try insert(c, db, keepingID: true)
                summary.candidates += 1
            }
            // A candidate that was running trains again from the start: its bands so far stay behind.
            let running = Set(candidates.filter { $0.status == .running }.map(\.id!))
            for e in evaluations where !running.contains(e.candidateId) { _ = try insert(e, db); summary.evaluations += 1 }
            for statement in dialect.afterExplicitIDs { try db.execute(statement, []) }
        }
        return summary
    }
}
