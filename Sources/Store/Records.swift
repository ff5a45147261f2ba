import Foundation

/// One search: a space file and a seed, and every candidate it has made.
public struct Study: Codable, Sendable {
    public var id: Int64?
    public var name: String
    public var space: String
    public var seed: Int64
    public var created: Date
    /// The corpus it trains on: its sha256 (a resumed study must be given the same text) and
    /// where it was read at the start (to say which file a worker needs).
    public var corpusSha256: String?
    public var corpusPath: String?
    /// The seed programs' texts, so that a worker on another host needs no files but the corpus.
    public var seeds: [String]?
    /// How many candidates the study is to make (the last `evolve search --candidates`); a
    /// worker that joins from another host works until it is reached.
    public var target: Int?
    /// What evolve's engine multiplies every product of the study's jobs in (a `Precision`'s
    /// name), fixed when the study is made, so that workers on other CPUs (and a resume after
    /// a default changed) train as its first jobs did; nil for a study made before it was
    /// recorded, which then runs float32 (`Study.precision` in Search).
    public var products: String?
}

/// How a number came out: non-finite losses are stored as a kind, not as a value.
public enum LossKind: String, Codable, Sendable {
    case finite, inf, nan

    public init(_ x: Double) { self = x.isNaN ? .nan : (x.isInfinite ? .inf : .finite) }
}

public enum CandidateStatus: String, Codable, Sendable {
    case queued, running, done, failed
}

/// Why a candidate failed, in kind (what `evolve status` counts) and in words.
public struct Failure: Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// The program does not validate or compile; the reason says where.
        case compile
        /// A loss that is not finite.
        case diverged
        /// The causality probe saw an output depend on a later token.
        case leaksFuture = "leaks_future"
        /// The engine could not train it (PyTorch's trainer exited: out of memory, an exception).
        case engine
    }

    public var kind: Kind
    public var reason: String

    public init(_ kind: Kind, _ reason: String) { self.kind = kind; self.reason = reason }

    public var description: String { reason.isEmpty ? kind.rawValue : "\(kind.rawValue): \(reason)" }
}

/// A program the search has made, from queued to done or failed. What finishing it recorded
/// is its `outcome`, held whole (nil until then) so that its fields are stated once: the
/// candidate reads them through (`c.trainSeconds`, `c.fingerprint`, …) and the store writes
/// them with one mapping whether it inserts a candidate or completes one.
@dynamicMemberLookup
public struct Candidate: Codable, Sendable {
    public var id: Int64?
    public var studyId: Int64
    public var program: String
    public var hash: String
    public var parentId: Int64?
    /// The mutation in words ("insert subprogram 0 s13 = SQUARE s12").
    public var mutation: String?
    /// The kind of that mutation, and the kind first drawn for this child (they differ when
    /// the drawn kind found no place in the parent).
    public var mutationKind: String?
    public var drawnKind: String?
    public var generation: Int
    public var seed: Int64
    public var status: CandidateStatus
    public var outcome: Outcome?
    public var worker: Worker?
    public var heartbeat: Date?
    public var completion: Int64?
    public var created: Date
    /// The token of the claim that holds it: every write of a worker names it, and one that
    /// names an older claim (the candidate was re-queued and claimed again) is refused.
    public var lease: Int64?
    /// The rung of a ladder it trains at: 0 for a candidate the search made; above 0 for a
    /// rung job, which trains `subject` (a rung-0 candidate) at that rung's size.
    public var rung = 0
    public var subject: Int64?

    public init(studyId: Int64, program: String, hash: String, parentId: Int64? = nil, mutation: String? = nil,
                mutationKind: String? = nil, drawnKind: String? = nil, generation: Int = 0, seed: Int64 = 0) {
        self.studyId = studyId; self.program = program; self.hash = hash; self.parentId = parentId
        self.mutation = mutation; self.mutationKind = mutationKind; self.drawnKind = drawnKind
        self.generation = generation; self.seed = seed
        status = .queued
        created = Date()
    }

    /// An optional field of its outcome; nil while it has none.
    public subscript<T>(dynamicMember field: KeyPath<Outcome, T?>) -> T? { outcome?[keyPath: field] }

    /// The loss it reached, where finite (what ranks it): nil before it finishes, and for an
    /// infinite or NaN loss, whose kind `fitnessKind` keeps.
    public var fitness: Double? { outcome.flatMap { $0.fitness.isFinite ? $0.fitness : nil } }
    public var fitnessKind: LossKind? { outcome.map { LossKind($0.fitness) } }

    /// The failure with its reason, if it failed; `failure` is its kind alone (what is counted).
    public var failed: Failure? { outcome?.failure }
    public var failure: Failure.Kind? { outcome?.failure?.kind }

    /// The program's text named `STUDY-ID` (the text a child inherits names its seed).
    public func listing(in study: Study) -> String {
        var lines = program.split(separator: "\n", omittingEmptySubsequences: false)
        if let i = lines.firstIndex(where: { $0.hasPrefix("program ") }) { lines[i] = "program \(study.name)-\(id ?? 0)" }
        return lines.joined(separator: "\n")
    }
}

/// One hurdle band of a candidate's training.
public struct Evaluation: Codable, Sendable {
    public var id: Int64?
    public var candidateId: Int64
    public var band: Int
    public var loss: Double?
    public var lossKind: LossKind
    public var steps: Int
    public var tokens: Int
    public var seconds: Double
    public var parameters: Int
    public var flopsPerToken: Int
    /// `loss` in bits per UTF-8 byte of the validation text (nil in studies from before it
    /// was recorded, and where the loss is not finite).
    public var bitsPerByte: Double?
    /// The lease it was recorded under.
    public var lease: Int64?

    public init(candidateId: Int64, band: Int, loss: Double, steps: Int, tokens: Int, seconds: Double,
                parameters: Int, flopsPerToken: Int, bitsPerByte: Double? = nil) {
        self.candidateId = candidateId; self.band = band
        lossKind = LossKind(loss)
        self.loss = lossKind == .finite ? loss : nil
        self.steps = steps; self.tokens = tokens; self.seconds = seconds
        self.parameters = parameters; self.flopsPerToken = flopsPerToken
        self.bitsPerByte = lossKind == .finite ? bitsPerByte : nil
    }
}

/// What finishing a candidate records (and, once finished, what the candidate holds).
public struct Outcome: Codable, Sendable {
    public var fitness: Double
    /// The fitness in bits per UTF-8 byte of the validation text, where finite (what compares
    /// studies on different tokenizers); nil in studies from before it was recorded.
    public var bitsPerByte: Double?
    public var failure: Failure?
    public var fingerprint: String?
    public var replicas: Int?
    public var scheduleSteps: Int?
    public var trainSeconds: Double?
    public var overheadSeconds: Double?
    /// The completed candidate whose result this one took (same hash or fingerprint).
    public var reusedFrom: Int64?
    /// Bands trained (not stored: the evaluations say it).
    public var bands = 0

    public init(fitness: Double, failure: Failure? = nil, fingerprint: String? = nil, replicas: Int? = nil,
                scheduleSteps: Int? = nil, trainSeconds: Double? = nil, overheadSeconds: Double? = nil) {
        self.fitness = fitness; self.failure = failure; self.fingerprint = fingerprint; self.replicas = replicas
        self.scheduleSteps = scheduleSteps; self.trainSeconds = trainSeconds; self.overheadSeconds = overheadSeconds
    }
}

/// How many candidates of a study are in each state.
public struct Counts: Equatable, Sendable {
    public var queued = 0, running = 0, done = 0, failed = 0
    /// No rows at all (a rung nothing has reached).
    public static let zero = Counts()
    public init(queued: Int = 0, running: Int = 0, done: Int = 0, failed: Int = 0) {
        self.queued = queued; self.running = running; self.done = done; self.failed = failed
    }
}
