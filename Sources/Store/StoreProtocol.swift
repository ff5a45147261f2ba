import Foundation

/// What the search, the study commands and the report need from a study database. Each
/// engine implements it (SQLite: `SQLiteStore`); what follows from these calls alone is
/// written once, in the extension below, for every engine.
public protocol Store: AnyObject, Sendable {
    /// The database's path or URL, for messages.
    var location: String { get }

    // Studies
    func study(named name: String, space: String, seed: Int64, corpusSha256: String?, corpusPath: String?) throws -> Study
    func existingStudy(named name: String) throws -> Study?
    func recordCorpus(study: Int64, sha256: String, path: String?) throws
    func studies() throws -> [Study]

    // Making, claiming and finishing candidates
    @discardableResult func add(_ candidate: Candidate) throws -> Candidate
    func makeCandidate(study: Int64, limit: Int, worker: Worker,
                       _ make: (_ number: Int, _ completed: [Candidate]) throws -> Candidate) throws -> Candidate?
    func claim(study: Int64, worker: Worker) throws -> Candidate?
    @discardableResult func heartbeat(_ id: Int64, worker: Worker) throws -> Bool
    func requeue(_ id: Int64, heldBy holder: Worker?) throws
    @discardableResult func requeueStale(study: Int64, olderThan seconds: TimeInterval) throws -> Int
    func record(_ evaluation: Evaluation) throws
    @discardableResult func complete(_ id: Int64, worker: Worker?, _ outcome: Outcome) throws -> Bool

    // Reading
    func running(study: Int64) throws -> [Candidate]
    func bandLosses(study: Int64, band: Int, excluding id: Int64) throws -> [Double]
    func completed(study: Int64) throws -> [Candidate]
    func completed(hash: String, study: Int64) throws -> Candidate?
    func completed(fingerprint: String, study: Int64) throws -> Candidate?
    func best(study: Int64) throws -> Candidate?
    func candidates(study: Int64) throws -> [Candidate]
    func candidate(_ id: Int64) throws -> Candidate?
    func evaluations(_ candidate: Int64) throws -> [Evaluation]
    func counts(study: Int64) throws -> Counts
}

extension Store {
    public func study(named name: String, space: String, seed: Int64) throws -> Study {
        try study(named: name, space: space, seed: seed, corpusSha256: nil, corpusPath: nil)
    }

    public func requeue(_ id: Int64) throws { try requeue(id, heldBy: nil) }

    @discardableResult
    public func complete(_ id: Int64, _ outcome: Outcome) throws -> Bool { try complete(id, worker: nil, outcome) }

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

/// Opens the study database at `location` (a file path: SQLite).
public func openStore(_ location: String, readOnly: Bool = false) throws -> Store {
    if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
        throw StoreError(description: "\(location): only SQLite databases (a file path) are supported by this build")
    }
    return try SQLiteStore(path: location, readOnly: readOnly)
}
