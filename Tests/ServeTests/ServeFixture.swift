import Foundation
import Program
import Serve
@testable import Store
import TestSupport

/// A study made directly in the store (no training): a line of descent from vanilla with one
/// known insert per generation, two bands each, one failure whose reason and mutation hold
/// markup, under a name that is a script tag, and a second study beside it.
struct ServeFixture {
    static let name = "<script>alert('x')</script> & co"
    let path: String
    let store: SQLStore
    let study: Study
    let other: Study
    var ids: [Int64] = []

    init(candidates n: Int = 8, engine: Engine = .sqlite) throws {
        path = try temporaryDatabase(engine)
        store = try openStore(path)
        study = try store.study(named: ServeFixture.name, space: "name: x\npopulation: 5\n", seed: 1)
        other = try store.study(named: "control", space: "population: 5\n", seed: 2)
        let vanilla = try TestSupport.seed("vanilla")
        var parent: Int64?, program = vanilla
        for i in 0..<n { ids.append(try add(i, program: program, parent: parent)) ; if i % 2 == 0 { parent = ids.last } ; program = grown(program) }
        _ = try ServeFixture.complete(store, study: other, program: vanilla, loss: 3.1, number: 0)
    }

    /// Candidate i: fails at i == 3 (a reason with markup), else done with two bands.
    mutating func add(_ i: Int, program: Program, parent: Int64?) throws -> Int64 {
        let c = try store.add(Candidate(studyId: study.id!, program: program.text, hash: "h\(i)", parentId: parent,
                                        mutation: i == 0 ? nil : "insert <b>\(i)</b>", mutationKind: i == 0 ? nil : "insert",
                                        drawnKind: i == 0 ? nil : "insert", generation: i, seed: Int64(i)))
        if i == 3 {
            try store.complete(c.id!, Outcome(fitness: .nan, failure: Failure(.compile, "s9 <img src=x onerror=alert(1)>")))
            return c.id!
        }
        try ServeFixture.record(store, c.id!, loss: 3.0 - 0.05 * Double(i), index: i)
        return c.id!
    }

    static func record(_ store: Store, _ id: Int64, loss: Double, index i: Int) throws {
        for band in 0..<2 {
            try store.record(Evaluation(candidateId: id, band: band, loss: loss + 0.1 * Double(1 - band), steps: 100 * (band + 1),
                                        tokens: 1000, seconds: 1, parameters: 100, flopsPerToken: 1000 + 10 * i))
        }
        var o = Outcome(fitness: loss)
        o.scheduleSteps = 200
        try store.complete(id, o)
    }

    static func complete(_ store: Store, study: Study, program: Program, loss: Double, number: Int) throws -> Int64 {
        let c = try store.add(Candidate(studyId: study.id!, program: program.text, hash: "o\(number)-\(UUID())", generation: number))
        try record(store, c.id!, loss: loss, index: number)
        return c.id!
    }

    /// The program with SQUARE spliced after the first GELU of subprogram 0 (an insert).
    func grown(_ p: Program) -> Program {
        var q = p
        var body = q.subprograms[0].instructions
        guard let g = body.firstIndex(where: { $0.op == .gelu }) else { return p }
        let s = g + 1
        for j in (g + 1)..<body.count {
            if body[j].input1 >= s { body[j].input1 += 1 }
            if body[j].op.arity == 2, body[j].input2 >= s { body[j].input2 += 1 }
        }
        body.insert(Instruction(.square, s), at: s)
        q.subprograms[0].instructions = body
        return q
    }

    /// The database's bytes (and its WAL's): unchanged by anything the server does (SQLite's; empty for PostgreSQL).
    func fingerprint() throws -> Data {
        var d = Data()
        guard !isPostgresURL(path) else { return d }
        for f in [path, path + "-wal"] where FileManager.default.fileExists(atPath: f) { d += try Data(contentsOf: URL(fileURLWithPath: f)) }
        return d
    }

    static let hooks = Dashboard.Hooks(population: { _ in 5 }, export: { _, study, c, format in
        ("\(study.name)-\(c.id!).\(format == "config" ? "yaml" : "py")", "# \(format) of #\(c.id!)\n")
    })
}
