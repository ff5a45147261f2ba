import Foundation

public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) {
        self.description = description.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// What the search, the study commands and the report need from a study database. Each
/// engine implements it (`SQLStore` over SQLite or PostgreSQL); what follows from these calls alone is
/// written once, in the extension below, for every engine.
public protocol Store: AnyObject, Sendable {
    /// The database's path or URL, for messages.
    var location: String { get }

    // Studies
    /// The study of this name, made (with these fields) if there is none.
    func study(named name: String, space: String, seed: Int64, corpusSha256: String?, corpusPath: String?,
               seeds: [String]?, products: String?) throws -> Study
    func existingStudy(named name: String) throws -> Study?
    func recordCorpus(study: Int64, sha256: String, path: String?) throws
    /// Records the seeds of a study made before studies kept them.
    func recordSeeds(study: Int64, _ seeds: [String]) throws
    /// Records how many candidates the study is to make (workers elsewhere read it).
    func setTarget(study: Int64, _ candidates: Int) throws
    func studies() throws -> [Study]

    // Making, claiming and finishing candidates
    @discardableResult func add(_ candidate: Candidate) throws -> Candidate
    /// Makes the study's next candidate, running under `worker`: `make` gets its number (0,
    /// 1, 2 … across all processes) and the last `recent` completed candidates (the
    /// population), and runs outside any transaction; nil once the study has `limit`.
    func makeCandidate(study: Int64, limit: Int, recent: Int, worker: Worker,
                       _ make: (_ number: Int, _ completed: [Candidate]) throws -> Candidate) throws -> Candidate?
    /// The oldest queued candidate (of `rungs` only, where given), now running under `worker`
    /// with a fresh lease token; nil if none.
    func claim(study: Int64, worker: Worker, rungs: [Int]?) throws -> Candidate?
    /// Renews a lease (by the database's clock); false if it has been lost.
    @discardableResult func heartbeat(_ id: Int64, lease: Int64) throws -> Bool
    /// A running candidate back to the queue; with `lease`, only while that lease holds it.
    func requeue(_ id: Int64, lease: Int64?) throws
    /// Running candidates silent for `seconds` (by the database's clock) go back to the queue.
    @discardableResult func requeueStale(study: Int64, olderThan seconds: TimeInterval) throws -> Int
    /// Records a band's evaluation; with `lease`, only while that lease holds the candidate.
    @discardableResult func record(_ evaluation: Evaluation, lease: Int64?) throws -> Bool
    /// Marks a candidate done or failed with the next completion number — the order the search
    /// replays; with `lease`, only while that lease holds it (false: the result is dropped).
    /// With `promotion`, the same transaction queues the rung jobs it sends up the ladder.
    @discardableResult func complete(_ id: Int64, lease: Int64?, _ outcome: Outcome, promoting promotion: Promotion?) throws -> Bool

    // Reading. "Candidates" are rung-0 rows, the ones the search makes; rung jobs (rung > 0)
    // are read by `rungJobs` and `ladder`, and by id (`candidate`), and are claimed,
    // leased and re-queued (`claim`, `running`, `requeueStale`) like any row.
    func running(study: Int64) throws -> [Candidate]
    /// Losses at the end of `band` of the study's rung-0 candidates (hurdles hold at rung 0 only).
    func bandLosses(study: Int64, band: Int, excluding id: Int64) throws -> [Double]
    /// Rung-0 candidates in completion order.
    func completed(study: Int64) throws -> [Candidate]
    /// The first completed row at `rung` with that hash or fingerprint (a twin whose result is taken).
    func completed(hash: String, rung: Int, study: Int64) throws -> Candidate?
    func completed(fingerprint: String, rung: Int, study: Int64) throws -> Candidate?
    /// The rung-0 candidate with the lowest loss.
    func best(study: Int64) throws -> Candidate?
    /// Every rung-0 candidate, in the order made.
    func candidates(study: Int64) throws -> [Candidate]
    /// Every rung job (rung > 0), in the order queued.
    func rungJobs(study: Int64) throws -> [Candidate]
    /// Every subject's standing at every rung, from one snapshot; with `curves`, also every
    /// row's validation losses (for compute speedups), which selection does without.
    func ladder(study: Int64, curves: Bool) throws -> LadderResults
    func candidate(_ id: Int64) throws -> Candidate?
    func evaluations(_ candidate: Int64) throws -> [Evaluation]
    /// How many rows of each rung are in each state (index 0: the candidates).
    func countsByRung(study: Int64) throws -> [Counts]
    /// Up to `limit` of the study's (rung-0) candidates with ids above `after`, by id (a page of them).
    func candidates(study: Int64, after: Int64, limit: Int) throws -> [Candidate]
    /// Every evaluation of the study's candidates, by candidate, in one read.
    func evaluations(study: Int64) throws -> [Int64: [Evaluation]]
    /// When the study's first and last candidates were made; nil before it has any.
    func madeBetween(study: Int64) throws -> ClosedRange<Date>?
    /// The store's change mark: one cheap query.
    func changes() throws -> ChangeMark
}

extension Store {
    /// The oldest queued candidate of any rung (`claim(study:worker:rungs:)`).
    public func claim(study: Int64, worker: Worker) throws -> Candidate? { try claim(study: study, worker: worker, rungs: nil) }

    public func study(named name: String, space: String, seed: Int64) throws -> Study {
        try study(named: name, space: space, seed: seed, corpusSha256: nil, corpusPath: nil, seeds: nil, products: nil)
    }

    public func requeue(_ id: Int64) throws { try requeue(id, lease: nil) }

    public func ladder(study: Int64) throws -> LadderResults { try ladder(study: study, curves: false) }

    @discardableResult
    public func complete(_ id: Int64, lease: Int64?, _ outcome: Outcome) throws -> Bool {
        try complete(id, lease: lease, outcome, promoting: nil)
    }

    /// The rung-0 candidates in each state.
    public func counts(study: Int64) throws -> Counts { try countsByRung(study: study)[0] }

    public func completed(hash: String, study: Int64) throws -> Candidate? { try completed(hash: hash, rung: 0, study: study) }

    public func completed(fingerprint: String, study: Int64) throws -> Candidate? {
        try completed(fingerprint: fingerprint, rung: 0, study: study)
    }

    public func record(_ evaluation: Evaluation) throws { try record(evaluation, lease: nil) }

    @discardableResult
    public func complete(_ id: Int64, _ outcome: Outcome) throws -> Bool { try complete(id, lease: nil, outcome) }

    /// Inserts a candidate already running under `worker` (made and claimed at once).
    public func addRunning(_ candidate: Candidate, worker: Worker) throws -> Candidate {
        var c = candidate
        c.status = .running
        c.worker = worker
        c.heartbeat = Date()
        return try add(c)
    }

    public func complete(_ id: Int64, fitness: Double, failure: Failure? = nil) throws {
        try complete(id, Outcome(fitness: fitness, failure: failure))
    }

    /// A child's change in loss against its parent at equal training steps: its last band's
    /// loss minus the parent's at the end of the same band. Nil for a seed, or where either
    /// has no finite loss there (a result taken from a twin counts as the twin's).
    public func changeAgainstParent(_ c: Candidate) throws -> Double? {
        guard let parentId = c.parentId, let parent = try candidate(parentId) else { return nil }
        guard let last = try evaluations(c.reusedFrom ?? c.id!).last, let loss = last.loss else { return nil }
        let theirs = try evaluations(parent.reusedFrom ?? parentId).first { $0.band == last.band && $0.steps == last.steps }
        return theirs?.loss.map { loss - $0 }
    }

    /// The candidate and its ancestors, oldest first.
    public func lineage(_ id: Int64) throws -> [Candidate] {
        var chain = [Candidate]()
        var next: Int64? = id
        while let i = next, let c = try candidate(i) {
            chain.append(c)
            next = c.parentId
        }
        return chain.reversed()
    }
}

/// Whether `location` names a PostgreSQL database (a URL) rather than a SQLite file.
public func isPostgresURL(_ location: String) -> Bool {
    location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
}

/// Opens the study database at `location`: a URL `postgres://user[:password]@host[:port]/dbname`
/// (PostgreSQL), or a file path (SQLite). A server that is lost is retried as `reconnection`
/// says (SQLite's busy database waits `busyTimeout` instead).
public func openStore(_ location: String, readOnly: Bool = false, busyTimeout: TimeInterval = 60,
                      reconnection: Reconnection = .never) throws -> SQLStore {
    if isPostgresURL(location) { return SQLStore(try PostgresDatabase(url: location, readOnly: readOnly, reconnection: reconnection)) }
    return SQLStore(try SQLiteDatabase(path: location, busyTimeout: busyTimeout, readOnly: readOnly))
}

/// The database at `location` opened read-only, or nil where there is none yet (no file, an
/// empty one, or a PostgreSQL database without evolve's tables): a check that writes nothing.
public func openExistingStore(_ location: String, reconnection: Reconnection = .never) throws -> SQLStore? {
    if isPostgresURL(location) { return try PostgresDatabase.existing(url: location, reconnection: reconnection).map(SQLStore.init) }
    let size = (try? FileManager.default.attributesOfItem(atPath: location)[.size] as? Int) ?? 0
    return size > 0 ? SQLStore(try SQLiteDatabase(path: location, readOnly: true)) : nil
}
