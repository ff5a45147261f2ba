import Foundation

/// The records as table rows: the columns each is written with, and how it is read back.
/// One place for both engines (their tables have the same columns).
protocol Row {
    static var table: String { get }
    /// Every column but `id`, with its value.
    var columns: [(String, SQLValue)] { get }
    init(row: SQLRow) throws
}

extension Row {
    /// Records from rows, decoded on two threads when there are thousands of them: a study's
    /// page reads every candidate and band, and decoding them was half of its time.
    static func decode(_ rows: [SQLRow]) throws -> [Self] {
        let parts = rows.count >= 4096 ? 2 : 1
        guard parts > 1 else { return try rows.map(Self.init(row:)) }
        var decoded = [[Self]](repeating: [], count: parts)
        var failure: Error?
        let failing = NSLock()
        decoded.withUnsafeMutableBufferPointer { out in
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                do {
                    out[p] = try rows[(rows.count * p / parts)..<(rows.count * (p + 1) / parts)].map(Self.init(row:))
                } catch {
                    failing.lock(); failure = failure ?? error; failing.unlock()
                }
            }
        }
        if let failure { throw failure }
        return decoded.flatMap { $0 }
    }
}

/// A record with its row id (nil before it is inserted).
protocol Identified { var id: Int64? { get } }
extension Study: Identified {}
extension Candidate: Identified {}
extension Evaluation: Identified {}

struct MissingColumn: Error, CustomStringConvertible {
    let table: String, column: String
    var description: String { "\(table).\(column) is empty where a value is needed (the database is damaged)" }
}

extension SQLRow {
    func required<T>(_ column: String, _ table: String, _ read: (String) throws -> T?) throws -> T {
        guard let v = try read(column) else { throw MissingColumn(table: table, column: column) }
        return v
    }
    func int(_ column: String) throws -> Int? { try integer(column).map { Int($0) } }
    func enumeration<E: RawRepresentable>(_ column: String) throws -> E? where E.RawValue == String {
        try text(column).flatMap(E.init(rawValue:))
    }
}

extension Study: Row {
    static let table = "study"

    /// The seeds' texts as stored: a JSON array of strings.
    static func seedsValue(_ seeds: [String]?) -> SQLValue {
        SQLValue(seeds.flatMap { try? String(decoding: JSONEncoder().encode($0), as: UTF8.self) })
    }

    var columns: [(String, SQLValue)] {
        [("name", .text(name)), ("space", .text(space)), ("seed", .integer(seed)), ("created", .date(created)),
         ("corpusSha256", SQLValue(corpusSha256)), ("corpusPath", SQLValue(corpusPath)),
         ("seeds", Study.seedsValue(seeds)),
         ("target", SQLValue(target)), ("products", SQLValue(products))]
    }

    init(row r: SQLRow) throws {
        let t = Study.table
        self.init(id: try r.integer("id"), name: try r.required("name", t, r.text), space: try r.required("space", t, r.text),
                  seed: try r.required("seed", t, r.integer), created: try r.required("created", t, r.date),
                  corpusSha256: try r.text("corpusSha256"), corpusPath: try r.text("corpusPath"),
                  seeds: try r.text("seeds").flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) },
                  target: try r.int("target"), products: try r.text("products"))
    }
}

extension Candidate: Row {
    static let table = "candidate"

    var columns: [(String, SQLValue)] {
        [("studyId", .integer(studyId)), ("program", .text(program)), ("hash", .text(hash)), ("parentId", SQLValue(parentId)),
         ("mutation", SQLValue(mutation)), ("mutationKind", SQLValue(mutationKind)), ("drawnKind", SQLValue(drawnKind)),
         ("generation", SQLValue(generation)), ("seed", .integer(seed)), ("status", .text(status.rawValue)),
         ("worker", SQLValue(worker?.description)), ("heartbeat", SQLValue(heartbeat)), ("completion", SQLValue(completion)),
         ("created", .date(created)), ("lease", SQLValue(lease)), ("rung", SQLValue(rung)), ("subject", SQLValue(subject))]
            + Outcome.columns(outcome)
    }

    init(row r: SQLRow) throws {
        let t = Candidate.table
        self.init(studyId: try r.required("studyId", t, r.integer), program: try r.required("program", t, r.text),
                  hash: try r.required("hash", t, r.text), parentId: try r.integer("parentId"), mutation: try r.text("mutation"),
                  mutationKind: try r.text("mutationKind"), drawnKind: try r.text("drawnKind"),
                  generation: try r.required("generation", t, r.int), seed: try r.required("seed", t, r.integer))
        id = try r.integer("id")
        status = try r.required("status", t, r.enumeration)
        outcome = try Outcome(row: r)
        worker = try r.text("worker").flatMap(Worker.init)
        heartbeat = try r.date("heartbeat")
        completion = try r.integer("completion")
        created = try r.required("created", t, r.date)
        lease = try r.integer("lease")
        rung = try r.required("rung", t, r.int)
        subject = try r.integer("subject")
    }
}

/// An outcome lives in its candidate's row: these columns are what completing a candidate
/// writes, and what inserting one (a copy) writes beside the candidate's own.
extension Outcome {
    /// The columns and their values; all NULL for a candidate not finished yet. A loss that
    /// is not finite is stored as its kind alone.
    static func columns(_ o: Outcome?) -> [(String, SQLValue)] {
        let kind = o.map { LossKind($0.fitness) }
        return [("failure", SQLValue(o?.failure?.kind.rawValue)), ("failureReason", SQLValue(o?.failure?.reason)),
                ("fitness", kind == .finite ? SQLValue(o?.fitness) : .null), ("fitnessKind", SQLValue(kind?.rawValue)),
                ("bitsPerByte", kind == .finite ? SQLValue(o?.bitsPerByte) : .null),
                ("fingerprint", SQLValue(o?.fingerprint)), ("replicas", SQLValue(o?.replicas)),
                ("scheduleSteps", SQLValue(o?.scheduleSteps)), ("trainSeconds", SQLValue(o?.trainSeconds)),
                ("overheadSeconds", SQLValue(o?.overheadSeconds)), ("reusedFrom", SQLValue(o?.reusedFrom))]
    }

    /// The outcome a candidate's row records; nil where it has none (no fitness kind: it has
    /// not finished). The bands it trained are not stored (its evaluations say).
    init?(row r: SQLRow) throws {
        guard let kind: LossKind = try r.enumeration("fitnessKind") else { return nil }
        let fitness = kind == .finite ? try r.required("fitness", Candidate.table, r.real) : kind == .inf ? .infinity : .nan
        let failure = try (r.enumeration("failure") as Failure.Kind?).map { Failure($0, try r.text("failureReason") ?? "") }
        self.init(fitness: fitness, failure: failure, fingerprint: try r.text("fingerprint"), replicas: try r.int("replicas"),
                  scheduleSteps: try r.int("scheduleSteps"), trainSeconds: try r.real("trainSeconds"),
                  overheadSeconds: try r.real("overheadSeconds"))
        reusedFrom = try r.integer("reusedFrom")
        bitsPerByte = try r.real("bitsPerByte")
    }
}

extension Evaluation: Row {
    static let table = "evaluation"

    var columns: [(String, SQLValue)] {
        [("candidateId", .integer(candidateId)), ("band", SQLValue(band)), ("loss", SQLValue(loss)),
         ("lossKind", .text(lossKind.rawValue)), ("steps", SQLValue(steps)), ("tokens", SQLValue(tokens)),
         ("seconds", .real(seconds)), ("parameters", SQLValue(parameters)), ("flopsPerToken", SQLValue(flopsPerToken)),
         ("bitsPerByte", SQLValue(bitsPerByte)), ("lease", SQLValue(lease))]
    }

    init(row r: SQLRow) throws {
        let t = Evaluation.table
        self.init(candidateId: try r.required("candidateId", t, r.integer), band: try r.required("band", t, r.int),
                  loss: .nan, steps: try r.required("steps", t, r.int), tokens: try r.required("tokens", t, r.int),
                  seconds: try r.required("seconds", t, r.real), parameters: try r.required("parameters", t, r.int),
                  flopsPerToken: try r.required("flopsPerToken", t, r.int))
        id = try r.integer("id")
        loss = try r.real("loss")
        lossKind = try r.required("lossKind", t, r.enumeration)
        bitsPerByte = try r.real("bitsPerByte")
        lease = try r.integer("lease")
    }
}
