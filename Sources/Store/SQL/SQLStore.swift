import Foundation

/// The study store, written once over an engine (`SQLDatabase`): SQLite for one machine,
/// PostgreSQL for many. Several processes (and hosts) may share one database: a candidate is
/// claimed by exactly one worker, under a lease token that every later write of that worker
/// names; a worker silent for longer than the lease (by the database's clock) has its
/// candidate re-queued, and what it sends afterwards is refused.
public final class SQLStore: Store, @unchecked Sendable {
    public let database: SQLDatabase
    public var location: String { database.location }
    var dialect: Dialect { database.dialect }

    public init(_ database: SQLDatabase) { self.database = database }

    /// Called with the seconds each write waited for locks (`evolve store-bench` sums them).
    public var onLockWait: (@Sendable (Double) -> Void)?

    @discardableResult func write<T>(_ body: (SQLConnection) throws -> T) throws -> T {
        guard !database.readOnly else { throw StoreError(description: "\(location) is open read-only") }
        guard let report = onLockWait else { return try database.write(body) }
        let asked = DispatchTime.now().uptimeNanoseconds
        return try database.write { db in
            // SQLite's write transaction begins once it holds the database lock; PostgreSQL's
            // writers wait where they serialize (advisory locks).
            let timed = TimedLocks(base: db)
            if dialect.writerHoldsDatabase { timed.waited = Double(DispatchTime.now().uptimeNanoseconds - asked) / 1e9 }
            defer { report(timed.waited) }
            return try body(timed)
        }
    }

    func read<T>(_ body: (SQLConnection) throws -> T) throws -> T { try database.read(body) }

    /// Inserts a record; its new id (or, `keepingID`, the id it has).
    func insert<R: Row & Identified>(_ record: R, _ db: SQLConnection, keepingID: Bool = false) throws -> Int64 {
        let columns = (keepingID ? [("id", SQLValue(record.id))] : []) + record.columns
        let sql = "INSERT INTO \(R.table) (\(columns.map(\.0).joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", "))) RETURNING id"
        guard let id = try db.rows(sql, columns.map(\.1)).first?.integer("id") else {
            throw StoreError(description: "\(location): an insert into \(R.table) returned no id")
        }
        return id
    }

    /// The records matching `condition`, in `order`, the first `limit` of them (all without one).
    func fetch<R: Row>(_ type: R.Type, _ db: SQLConnection, where condition: String, _ values: SQLValue...,
                       order: String = "id", limit: Int? = nil) throws -> [R] {
        try R.decode(db.rows("SELECT * FROM \(R.table) WHERE \(condition) ORDER BY \(order)\(limit == nil ? "" : " LIMIT ?")",
                             values + (limit.map { [SQLValue($0)] } ?? [])))
    }

    // MARK: - Studies

    public func study(named name: String, space: String, seed: Int64, corpusSha256: String?, corpusPath: String?,
                      seeds: [String]?, products: String?) throws -> Study {
        try write { db in
            try db.serialize(.studies)
            if let s = try fetch(Study.self, db, where: "name = ?", .text(name)).first { return s }
            var s = Study(name: name, space: space, seed: seed, created: Date(), corpusSha256: corpusSha256,
                          corpusPath: corpusPath, seeds: seeds, products: products)
            s.id = try insert(s, db)
            return s
        }
    }

    public func existingStudy(named name: String) throws -> Study? {
        try read { db in try fetch(Study.self, db, where: "name = ?", .text(name)).first }
    }

    public func recordCorpus(study: Int64, sha256: String, path: String?) throws {
        try write { db in
            try db.execute("UPDATE study SET corpusSha256 = ?, corpusPath = ? WHERE id = ? AND corpusSha256 IS NULL",
                           .text(sha256), SQLValue(path), .integer(study))
        }
    }

    public func recordSeeds(study: Int64, _ seeds: [String]) throws {
        try write { db in
            try db.execute("UPDATE study SET seeds = ? WHERE id = ? AND seeds IS NULL", Study.seedsValue(seeds), .integer(study))
        }
    }

    public func setTarget(study: Int64, _ candidates: Int) throws {
        try write { db in try db.execute("UPDATE study SET target = ? WHERE id = ?", SQLValue(candidates), .integer(study)) }
    }

    public func studies() throws -> [Study] {
        try read { db in try fetch(Study.self, db, where: "1 = 1") }
    }

    // MARK: - Candidates

    @discardableResult
    public func add(_ candidate: Candidate) throws -> Candidate {
        try write { db in
            var c = candidate
            c.id = try insert(c, db)
            return c
        }
    }

    /// `make` runs outside any transaction (drawing and validating a child takes a while;
    /// other workers must not wait on it). The write that follows only checks that neither
    /// the count nor the completed list moved meanwhile, and inserts; if either did, the child
    /// is drawn again from the new state — so two workers never make the same child, and every
    /// child is a function of the database it was inserted into. Numbers and the population
    /// are rung-0 candidates; any completion (a rung job's too: it moves a tournament) counts
    /// as a move.
    public func makeCandidate(study: Int64, limit: Int, recent: Int, worker: Worker,
                              _ make: (_ number: Int, _ completed: [Candidate]) throws -> Candidate) throws -> Candidate? {
        func state(_ db: SQLConnection) throws -> [Int64?] {
            [try db.number("SELECT COUNT(*) AS n FROM candidate WHERE studyId = ? AND rung = 0", .integer(study)),
             try db.number("SELECT COUNT(*) AS n FROM candidate WHERE studyId = ? AND completion IS NOT NULL", .integer(study))]
        }
        while true {
            let (seen, completed) = try read { db in
                (try state(db), try fetch(Candidate.self, db, where: "studyId = ? AND rung = 0 AND completion IS NOT NULL", .integer(study),
                                          order: "completion DESC", limit: max(0, recent)).reversed() as [Candidate])
            }
            let number = Int(seen[0] ?? 0)
            guard number < limit else { return nil }
            var c = try make(number, completed)
            c.status = .running
            c.worker = worker
            let made: Candidate? = try write { db in
                try db.serialize(.completions)   // the state checked is the state inserted into
                guard try state(db) == seen else { return nil }
                c.lease = try db.number("SELECT \(dialect.nextLease) AS n")
                c.heartbeat = try db.rows("SELECT \(dialect.now) AS t").first?.date("t")
                c.id = try insert(c, db)
                return c
            }
            if let made { return made }
        }
    }

    public func claim(study: Int64, worker: Worker, rungs: [Int]?) throws -> Candidate? {
        // Rungs are small numbers a worker was given; written into the statement as integers.
        let only = rungs.map { " AND rung IN (\($0.map(String.init).joined(separator: ", ")))" } ?? ""
        return try write { db in
            guard let c = try db.rows("""
                UPDATE candidate SET status = 'running', worker = ?, heartbeat = \(dialect.now), lease = \(dialect.nextLease)
                WHERE id = (SELECT id FROM candidate WHERE studyId = ? AND status = 'queued'\(only) ORDER BY id LIMIT 1\(dialect.skipLocked))
                  AND status = 'queued'
                RETURNING *
                """, .text(worker.description), .integer(study)).first.map(Candidate.init(row:)) else { return nil }
            // It trains again from the start: bands an earlier holder recorded go, or a shorter
            // second run would leave them standing beside its own.
            try db.execute("DELETE FROM evaluation WHERE candidateId = ?", .integer(c.id!))
            return c
        }
    }

    @discardableResult
    public func heartbeat(_ id: Int64, lease: Int64) throws -> Bool {
        try write { db in
            try db.execute("UPDATE candidate SET heartbeat = \(dialect.now) WHERE id = ? AND lease = ? AND status = 'running'",
                           .integer(id), .integer(lease)) == 1
        }
    }

    public func requeue(_ id: Int64, lease: Int64?) throws {
        try write { db in
            try db.execute("""
                UPDATE candidate SET status = 'queued', worker = NULL, heartbeat = NULL
                WHERE id = ? AND status = 'running'\(lease == nil ? "" : " AND lease = ?")
                """, [.integer(id)] + (lease.map { [.integer($0)] } ?? []))
        }
    }

    @discardableResult
    public func requeueStale(study: Int64, olderThan seconds: TimeInterval) throws -> Int {
        try write { db in
            try db.execute("""
                UPDATE candidate SET status = 'queued', worker = NULL, heartbeat = NULL
                WHERE studyId = ? AND status = 'running' AND heartbeat < \(dialect.secondsAgo)
                """, .integer(study), .real(seconds))
        }
    }

    @discardableResult
    public func record(_ evaluation: Evaluation, lease: Int64?) throws -> Bool {
        try write { db in
            if let lease {
                // The lease check takes the candidate's row lock (an UPDATE, not a read), so no
                // re-queue or claim can slip in between it and the insert.
                let held = try db.execute("UPDATE candidate SET heartbeat = \(dialect.now) WHERE id = ? AND lease = ? AND status = 'running'",
                                          .integer(evaluation.candidateId), .integer(lease))
                guard held == 1 else { return false }
            }
            // A band trained again under a newer lease replaces the one recorded before.
            try db.execute("DELETE FROM evaluation WHERE candidateId = ? AND band = ?",
                           .integer(evaluation.candidateId), SQLValue(evaluation.band))
            var e = evaluation
            e.lease = lease
            _ = try insert(e, db)
            return true
        }
    }

    @discardableResult
    public func complete(_ id: Int64, lease: Int64?, _ outcome: Outcome, promoting promotion: Promotion?) throws -> Bool {
        try write { db in
            try db.serialize(.completions)
            let next = (try db.number("SELECT MAX(completion) AS n FROM candidate") ?? 0) + 1
            let columns: [(String, SQLValue)] = [("status", .text(outcome.failure == nil ? "done" : "failed")), ("completion", .integer(next)),
                                                 ("worker", .null), ("heartbeat", .null)] + Outcome.columns(outcome)
            guard try db.execute("""
                UPDATE candidate SET \(columns.map { "\($0.0) = ?" }.joined(separator: ", "))
                WHERE id = ? AND completion IS NULL\(lease == nil ? "" : " AND lease = ? AND status = 'running'")
                """, columns.map(\.1) + [.integer(id)] + (lease.map { [.integer($0)] } ?? [])) == 1 else { return false }
            if let promotion { try promote(after: id, promotion, db) }
            return true
        }
    }

    /// Queues the jobs a completion at its rung sends up the ladder (`Ladder.climbers`), under
    /// the completion lock, so two completions never queue the same subject twice.
    func promote(after id: Int64, _ promotion: Promotion, _ db: SQLConnection) throws {
        guard let done = try fetch(Candidate.self, db, where: "id = ?", .integer(id)).first, done.rung < promotion.top else { return }
        let rows = try fetch(Candidate.self, db, where: "studyId = ? AND rung IN (0, ?, ?)", .integer(done.studyId),
                             SQLValue(done.rung), SQLValue(done.rung + 1))
        let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.id!, $0) })
        for subject in Ladder.climbers(rows, from: done.rung, fraction: promotion.fraction) {
            guard let s = byID[subject] else { continue }
            for var job in promotion.jobs(s, done.rung + 1) {
                job.status = .queued
                job.rung = done.rung + 1
                job.subject = subject
                _ = try insert(job, db)
            }
        }
    }

    // MARK: - Reading

    public func running(study: Int64) throws -> [Candidate] {
        try read { db in try fetch(Candidate.self, db, where: "studyId = ? AND status = 'running'", .integer(study)) }
    }

    public func bandLosses(study: Int64, band: Int, excluding id: Int64) throws -> [Double] {
        try read { db in
            try db.rows("""
                SELECT e.loss AS loss FROM evaluation e JOIN candidate c ON c.id = e.candidateId
                WHERE c.studyId = ? AND c.rung = 0 AND e.band = ? AND e.lossKind = 'finite' AND c.id != ?
                """, .integer(study), SQLValue(band), .integer(id)).compactMap { try $0.real("loss") }
        }
    }

    public func completed(study: Int64) throws -> [Candidate] {
        try read { db in
            try fetch(Candidate.self, db, where: "studyId = ? AND rung = 0 AND completion IS NOT NULL", .integer(study), order: "completion")
        }
    }

    public func completed(hash: String, rung: Int, study: Int64) throws -> Candidate? {
        try read { db in
            try fetch(Candidate.self, db, where: "studyId = ? AND hash = ? AND rung = ? AND completion IS NOT NULL", .integer(study),
                      .text(hash), SQLValue(rung), order: "completion", limit: 1).first
        }
    }

    public func completed(fingerprint: String, rung: Int, study: Int64) throws -> Candidate? {
        try read { db in
            try fetch(Candidate.self, db, where: "studyId = ? AND fingerprint = ? AND rung = ? AND completion IS NOT NULL", .integer(study),
                      .text(fingerprint), SQLValue(rung), order: "completion", limit: 1).first
        }
    }

    public func best(study: Int64) throws -> Candidate? {
        try read { db in
            try fetch(Candidate.self, db, where: "studyId = ? AND rung = 0 AND status = 'done' AND fitness IS NOT NULL", .integer(study),
                      order: "fitness, completion", limit: 1).first
        }
    }

    public func candidates(study: Int64) throws -> [Candidate] {
        try read { db in try fetch(Candidate.self, db, where: "studyId = ? AND rung = 0", .integer(study)) }
    }

    public func rungJobs(study: Int64) throws -> [Candidate] {
        try read { db in try fetch(Candidate.self, db, where: "studyId = ? AND rung > 0", .integer(study)) }
    }

    public func ladder(study: Int64, curves: Bool) throws -> LadderResults {
        try read { db in
            let rows = try fetch(Candidate.self, db, where: "studyId = ?", .integer(study))
            let evaluations = curves ? try evaluations(study: study, db) : [:]
            return LadderResults(candidates: rows.filter { $0.rung == 0 }, jobs: rows.filter { $0.rung > 0 }, evaluations: evaluations)
        }
    }

    public func candidate(_ id: Int64) throws -> Candidate? {
        try read { db in try fetch(Candidate.self, db, where: "id = ?", .integer(id)).first }
    }

    public func evaluations(_ candidate: Int64) throws -> [Evaluation] {
        try read { db in try fetch(Evaluation.self, db, where: "candidateId = ?", .integer(candidate), order: "band") }
    }

    public func countsByRung(study: Int64) throws -> [Counts] {
        try read { db in
            var counts = [Counts()]
            for row in try db.rows("SELECT rung, status, COUNT(*) AS n FROM candidate WHERE studyId = ? GROUP BY rung, status",
                                   .integer(study)) {
                let n = Int(try row.integer("n") ?? 0), rung = Int(try row.integer("rung") ?? 0)
                guard rung >= 0 && rung < 1024 else { continue }
                while counts.count <= rung { counts.append(Counts()) }
                switch CandidateStatus(rawValue: try row.text("status") ?? "") {
                case .queued?: counts[rung].queued = n
                case .running?: counts[rung].running = n
                case .done?: counts[rung].done = n
                case .failed?: counts[rung].failed = n
                case nil: break
                }
            }
            return counts
        }
    }
}

/// A connection that adds up the time its `serialize` calls wait.
final class TimedLocks: SQLConnection {
    let base: SQLConnection
    var waited = 0.0
    init(base: SQLConnection) { self.base = base }
    func rows(_ sql: String, _ values: [SQLValue]) throws -> [SQLRow] { try base.rows(sql, values) }
    func execute(_ sql: String, _ values: [SQLValue]) throws -> Int { try base.execute(sql, values) }
    func serialize(_ key: LockKey) throws {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try base.serialize(key)
        waited += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }
}
