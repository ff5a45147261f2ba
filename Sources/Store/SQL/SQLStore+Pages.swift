import Foundation

/// Reads for viewers of a study (`evolve serve`, the report): pages of candidates, all of a
/// study's bands at once, and the change mark they poll.
extension SQLStore {
    public func candidates(study: Int64, after: Int64, limit: Int) throws -> [Candidate] {
        try read { db in
            try fetch(Candidate.self, db, where: "studyId = ? AND rung = 0 AND id > ?", .integer(study), .integer(after), limit: max(0, limit))
        }
    }

    public func evaluations(study: Int64) throws -> [Int64: [Evaluation]] {
        try read { db in try evaluations(study: study, db) }
    }

    func evaluations(study: Int64, _ db: SQLConnection) throws -> [Int64: [Evaluation]] {
        let rows = try db.rows("""
            SELECT e.* FROM evaluation e JOIN candidate c ON c.id = e.candidateId
            WHERE c.studyId = ? ORDER BY e.candidateId, e.band
            """, .integer(study))
        return Dictionary(grouping: try Evaluation.decode(rows), by: \.candidateId)
    }

    public func madeBetween(study: Int64) throws -> ClosedRange<Date>? {
        try read { db in
            let first = try fetch(Candidate.self, db, where: "studyId = ? AND rung = 0", .integer(study), order: "id", limit: 1).first
            let last = try fetch(Candidate.self, db, where: "studyId = ? AND rung = 0", .integer(study), order: "id DESC", limit: 1).first
            guard let a = first?.created, let b = last?.created else { return nil }
            return min(a, b)...max(a, b)
        }
    }

    public func changes() throws -> ChangeMark {
        try read { db in
            guard let row = try db.rows("""
                SELECT (SELECT COUNT(*) FROM study) AS studies, (SELECT COUNT(*) FROM candidate) AS candidates,
                       (SELECT COUNT(*) FROM candidate WHERE status = 'running') AS running,
                       (SELECT MAX(completion) FROM candidate) AS completions, (SELECT MAX(id) FROM evaluation) AS evaluations
                """).first else { return ChangeMark() }
            var mark = ChangeMark()
            mark.studies = Int(try row.integer("studies") ?? 0)
            mark.candidates = Int(try row.integer("candidates") ?? 0)
            mark.running = Int(try row.integer("running") ?? 0)
            mark.completions = try row.integer("completions") ?? 0
            mark.evaluations = try row.integer("evaluations") ?? 0
            return mark
        }
    }
}
