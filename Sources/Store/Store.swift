import Foundation
import GRDB

public struct StoreError: Error, CustomStringConvertible {
    public let description: String
}

/// The SQLite database of one or more studies (WAL, so readers never block the writer).
/// Several processes may share it: every write is an IMMEDIATE transaction (GRDB's choice
/// for a pool) that waits up to `busyTimeout` for the lock, a candidate is claimed by
/// exactly one worker, and a worker that stops sending heartbeats has its candidate re-queued.
public final class SQLiteStore: Store, @unchecked Sendable {
    public let path: String
    public var location: String { path }
    let pool: any DatabaseWriter
    public let readOnly: Bool

    /// SQLite's header field that says which application a file belongs to: evolve's
    /// databases carry 'evol', and evolve writes no other non-empty database.
    static let applicationID: Int32 = 0x6576_6F6C

    /// Opens (or creates) a study database. `readOnly` opens an existing one without writing
    /// anything, not even its journal mode (the study commands that only read use it).
    public init(path: String, busyTimeout: TimeInterval = 60, readOnly: Bool = false) throws {
        self.path = path
        self.readOnly = readOnly
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        do {
            let exists = ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) > 0
            if readOnly && !exists { throw StoreError(description: "\(path): no such database") }
            if exists { try SQLiteStore.checkOwner(path) }
            if readOnly {
                config.readonly = true
                pool = try DatabaseQueue(path: path, configuration: config)
            } else {
                try? FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                         withIntermediateDirectories: true)
                pool = try DatabasePool(path: path, configuration: config)
            }
            let migrator = Schema.migrator
            if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                throw StoreError(description: "\(path) was written by a newer evolve (its schema has migrations this build does not know); nothing was changed")
            }
            guard !readOnly else { return }
            try migrator.migrate(pool)
            if try pool.read({ try Int32.fetchOne($0, sql: "PRAGMA application_id") }) != SQLiteStore.applicationID {
                try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA application_id = \(SQLiteStore.applicationID)") }
            }
        } catch let e as StoreError {
            throw e
        } catch {
            throw SQLiteStore.explain(error, path)
        }
    }

    /// Refuses a non-empty file that is not evolve's, reading it without writing: evolve's
    /// own mark, or (databases from before the mark) evolve's tables and migrations.
    static func checkOwner(_ path: String) throws {
        var config = Configuration()
        config.readonly = true
        let (id, tables) = try DatabaseQueue(path: path, configuration: config).read { db in
            (try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0,
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"))
        }
        if id == applicationID || tables.isEmpty { return }
        if id == 0 && Set(["grdb_migrations", "study", "candidate", "evaluation"]).isSubset(of: tables) { return }
        let what = id != 0 ? String(format: "application id 0x%08x", id) : "tables \(tables.prefix(5).joined(separator: ", "))"
        throw StoreError(description: "\(path) is not an evolve database (it holds \(what)); nothing was changed")
    }

    /// A one-line reason for a database error.
    static func explain(_ error: Error, _ path: String) -> StoreError {
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return StoreError(description: "\(path) is locked by another process (gave up waiting); nothing was changed")
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return StoreError(description: "\(path) is not an evolve database (or is damaged)")
            case .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM:
                return StoreError(description: "\(path) cannot be opened for writing")
            default:
                return StoreError(description: "\(path): \(e.message ?? "\(e.resultCode)")")
            }
        }
        return StoreError(description: "\(path): \(error)")
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        guard !readOnly else { throw StoreError(description: "\(path) is open read-only") }
        do { return try pool.write(body) } catch let e as StoreError { throw e } catch { throw SQLiteStore.explain(error, path) }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch { throw SQLiteStore.explain(error, path) }
    }

    // MARK: - Studies

    /// The study of this name, created with `space`, `seed` and the corpus if it does not
    /// exist yet (the caller checks first that an existing one matches).
    public func study(named name: String, space: String, seed: Int64, corpusSha256: String? = nil,
                      corpusPath: String? = nil) throws -> Study {
        try write { db in
            if let s = try Study.filter(Column("name") == name).fetchOne(db) { return s }
            var s = Study(name: name, space: space, seed: seed, created: Date(), corpusSha256: corpusSha256, corpusPath: corpusPath)
            try s.insert(db)
            return s
        }
    }

    /// The study of this name, if there is one (reads only).
    public func existingStudy(named name: String) throws -> Study? {
        try read { db in try Study.filter(Column("name") == name).fetchOne(db) }
    }

    /// Records the corpus of a study made before studies remembered theirs.
    public func recordCorpus(study: Int64, sha256: String, path: String?) throws {
        try write { db in
            try db.execute(sql: "UPDATE study SET corpusSha256 = ?, corpusPath = ? WHERE id = ? AND corpusSha256 IS NULL",
                           arguments: [sha256, path, study])
        }
    }

    // MARK: - Candidates

    @discardableResult
    public func add(_ candidate: Candidate) throws -> Candidate {
        try write { db in
            var c = candidate
            try c.insert(db)
            return c
        }
    }

    /// Running candidates of the study (to re-queue those whose worker has died).
    public func running(study: Int64) throws -> [Candidate] {
        try read { db in
            try Candidate.filter(Column("studyId") == study && Column("status") == CandidateStatus.running.rawValue).fetchAll(db)
        }
    }

    /// A running candidate back to the queue; with `holder`, only while that worker holds it
    /// (so a candidate another worker has claimed since is left alone).
    public func requeue(_ id: Int64, heldBy holder: Worker? = nil) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE candidate SET status = 'queued', worker = NULL, heartbeat = NULL
                WHERE id = ? AND status = 'running' AND (? IS NULL OR worker = ?)
                """, arguments: [id, holder, holder])
        }
    }

    /// Every study in the database, oldest first.
    public func studies() throws -> [Study] {
        try read { db in try Study.order(Column("id")).fetchAll(db) }
    }

    /// The finite losses other candidates of the study reached at the end of band `band`.
    public func bandLosses(study: Int64, band: Int, excluding id: Int64) throws -> [Double] {
        try read { db in
            try Double.fetchAll(db, sql: """
                SELECT e.loss FROM evaluation e JOIN candidate c ON c.id = e.candidateId
                WHERE c.studyId = ? AND e.band = ? AND e.lossKind = 'finite' AND c.id != ?
                """, arguments: [study, band, id])
        }
    }

    /// The oldest queued candidate of the study, now running under `worker`; nil if none.
    public func claim(study: Int64, worker: Worker) throws -> Candidate? {
        try write { db in
            guard var c = try Candidate.filter(Column("studyId") == study && Column("status") == CandidateStatus.queued.rawValue)
                .order(Column("id")).fetchOne(db) else { return nil }
            c.status = .running
            c.worker = worker
            c.heartbeat = Date()
            try c.update(db)
            return c
        }
    }

    /// Renews `worker`'s lease on a candidate; false if it no longer holds it.
    @discardableResult
    public func heartbeat(_ id: Int64, worker: Worker) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE candidate SET heartbeat = ? WHERE id = ? AND worker = ? AND status = 'running'",
                           arguments: [Date(), id, worker])
            return db.changesCount == 1
        }
    }

    /// Running candidates whose worker has been silent for `seconds` go back to the queue.
    @discardableResult
    public func requeueStale(study: Int64, olderThan seconds: TimeInterval) throws -> Int {
        try write { db in
            try db.execute(sql: """
                UPDATE candidate SET status = 'queued', worker = NULL, heartbeat = NULL
                WHERE studyId = ? AND status = 'running' AND heartbeat < ?
                """, arguments: [study, Date().addingTimeInterval(-seconds)])
            return db.changesCount
        }
    }

    public func record(_ evaluation: Evaluation) throws {
        try write { db in
            var e = evaluation
            try e.insert(db, onConflict: .replace)   // a re-run of a re-queued band replaces it
        }
    }

    /// Marks a candidate done (fitness = its last band's loss) or failed, and gives it the
    /// next completion number — the order the search replays. With `worker`, only while that
    /// worker still holds it: false means its lease was lost (re-queued as silent) and the
    /// result is dropped, so no candidate is ever completed twice.
    @discardableResult
    public func complete(_ id: Int64, worker: Worker? = nil, _ outcome: Outcome) throws -> Bool {
        try write { db in
            let next = (try Int64.fetchOne(db, sql: "SELECT MAX(completion) FROM candidate") ?? 0) + 1
            let kind = LossKind(outcome.fitness)
            try db.execute(sql: """
                UPDATE candidate SET status = ?, failure = ?, failureReason = ?, fitness = ?, fitnessKind = ?, completion = ?,
                       worker = NULL, heartbeat = NULL, fingerprint = ?, replicas = ?, scheduleSteps = ?,
                       trainSeconds = ?, overheadSeconds = ?, reusedFrom = ?
                WHERE id = ? AND completion IS NULL AND (? IS NULL OR (worker = ? AND status = 'running'))
                """, arguments: [outcome.failure == nil ? "done" : "failed", outcome.failure?.kind.rawValue, outcome.failure?.reason,
                                 kind == .finite ? outcome.fitness : nil, kind.rawValue, next,
                                 outcome.fingerprint, outcome.replicas, outcome.scheduleSteps,
                                 outcome.trainSeconds, outcome.overheadSeconds, outcome.reusedFrom, id, worker, worker])
            return db.changesCount == 1
        }
    }

    /// Makes the study's next candidate, running under `worker`: `make` gets its number (0,
    /// 1, 2 … across all processes) and the completed candidates, and runs outside any
    /// transaction (drawing and validating a child takes a while; other workers must not wait
    /// on it). The write that follows only checks that neither the count nor the completed
    /// list moved meanwhile, and inserts; if either did, the child is drawn again from the new
    /// state — so two workers never make the same child, and every child is a function of
    /// the database it was inserted into. Nil once the study has `limit` candidates.
    public func makeCandidate(study: Int64, limit: Int, worker: Worker,
                              _ make: (_ number: Int, _ completed: [Candidate]) throws -> Candidate) throws -> Candidate? {
        func state(_ db: Database) throws -> (number: Int, completed: Int) {
            (try Candidate.filter(Column("studyId") == study).fetchCount(db),
             try Candidate.filter(Column("studyId") == study && Column("completion") != nil).fetchCount(db))
        }
        while true {
            let (seen, completed) = try read { db in
                (try state(db), try Candidate.filter(Column("studyId") == study && Column("completion") != nil)
                    .order(Column("completion")).fetchAll(db))
            }
            guard seen.number < limit else { return nil }
            var c = try make(seen.number, completed)
            c.status = .running
            c.worker = worker
            c.heartbeat = Date()
            let made: Candidate? = try write { db in
                guard try state(db) == seen else { return nil }
                try c.insert(db)
                return c
            }
            if let made { return made }
        }
    }

    /// Completed candidates (done or failed) in order of completion.
    public func completed(study: Int64) throws -> [Candidate] {
        try read { db in
            try Candidate.filter(Column("studyId") == study && Column("completion") != nil)
                .order(Column("completion")).fetchAll(db)
        }
    }

    /// A completed candidate with this canonical hash, if any (its result can be reused).
    public func completed(hash: String, study: Int64) throws -> Candidate? {
        try read { db in
            try Candidate.filter(Column("studyId") == study && Column("hash") == hash && Column("completion") != nil)
                .order(Column("completion")).fetchOne(db)
        }
    }

    /// The completed candidate with the lowest finite fitness.
    public func best(study: Int64) throws -> Candidate? {
        try read { db in
            try Candidate.filter(Column("studyId") == study && Column("status") == CandidateStatus.done.rawValue
                                 && Column("fitness") != nil)
                .order(Column("fitness"), Column("completion")).fetchOne(db)
        }
    }

    /// A completed candidate whose functional fingerprint is this one, if any.
    public func completed(fingerprint: String, study: Int64) throws -> Candidate? {
        try read { db in
            try Candidate.filter(Column("studyId") == study && Column("fingerprint") == fingerprint && Column("completion") != nil)
                .order(Column("completion")).fetchOne(db)
        }
    }

    /// Every candidate of the study, in order of making.
    public func candidates(study: Int64) throws -> [Candidate] {
        try read { db in try Candidate.filter(Column("studyId") == study).order(Column("id")).fetchAll(db) }
    }

    public func candidate(_ id: Int64) throws -> Candidate? {
        try read { db in try Candidate.fetchOne(db, key: id) }
    }

    public func evaluations(_ candidate: Int64) throws -> [Evaluation] {
        try read { db in try Evaluation.filter(Column("candidateId") == candidate).order(Column("band")).fetchAll(db) }
    }


    public func counts(study: Int64) throws -> Counts {
        try read { db in
            var c = Counts()
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM candidate WHERE studyId = ? GROUP BY status",
                                        arguments: [study]) {
                let n: Int = row["n"]
                switch CandidateStatus(rawValue: row["status"]) {
                case .queued?: c.queued = n
                case .running?: c.running = n
                case .done?: c.done = n
                case .failed?: c.failed = n
                case nil: break
                }
            }
            return c
        }
    }
}
