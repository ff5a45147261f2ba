import Foundation
import Testing
@testable import Program
@testable import Search
@testable import Store
import TestSupport
import Training

func tinySpace() throws -> SearchSpace {
    try SearchSpace.load(path: packageRoot.appendingPathComponent("search-spaces/tiny.yaml").path)
}

func temporaryDatabase() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("evolve-search-\(UUID()).db").path
}

/// What a study holds, in completion order: program hash, fitness, parent.
func history(_ path: String, _ space: SearchSpace) throws -> [String] {
    let store = try Store(path: path)
    let study = try store.study(named: space.name, space: "", seed: 0)
    return try store.completed(study: study.id!).map { "\($0.hash) \($0.fitness ?? .nan) \($0.parentId ?? 0)" }
}

@Suite("search")
struct SearchTests {
    let data = Dataset(text: syntheticText())

    func run(_ path: String, until n: Int) throws {
        let e = try Evolution(space: try tinySpace(), store: try Store(path: path), data: data, threads: 2)
        e.report = { _ in }
        try e.run(until: n)
    }

    @Test func bandsDoubleAndEndAtTheBudget() throws {
        var s = try tinySpace()
        s.hurdles = 4
        #expect(s.bandEnds(steps: 31) == [1, 3, 7, 15, 31])
        s.hurdles = 0
        #expect(s.bandEnds(steps: 31) == [31])
    }

    /// Stopped and started again, a study goes on to the history of an uninterrupted one.
    @Test func resumesToTheSameHistory() throws {
        let straight = temporaryDatabase(), resumed = temporaryDatabase()
        try run(straight, until: 7)
        try run(resumed, until: 3)
        try run(resumed, until: 5)
        try run(resumed, until: 7)
        let a = try history(straight, try tinySpace()), b = try history(resumed, try tinySpace())
        #expect(a.count == 7)
        #expect(a == b)
    }

    /// A candidate left running by a dead process is trained again — once — and nothing
    /// completed is lost or repeated.
    @Test func deadWorkersCandidatesAreRequeued() throws {
        let path = temporaryDatabase()
        try run(path, until: 3)
        let store = try Store(path: path)
        let space = try tinySpace()
        let study = try store.study(named: space.name, space: "", seed: 0)
        // A candidate "claimed" by a process that no longer exists (pid 2^22 - 1 is above Linux's default maximum).
        let orphan = try store.addRunning(Candidate(studyId: study.id!, program: space.seeds[0].text, hash: "orphan"),
                                          worker: "\(ProcessInfo.processInfo.hostName):4194303")
        try run(path, until: 5)
        let done = try store.completed(study: study.id!)
        #expect(done.count == 5)
        #expect(Set(done.map(\.id)).count == 5)
        #expect(done.contains { $0.id == orphan.id })
        #expect(try store.counts(study: study.id!).running == 0)
        #expect(try store.counts(study: study.id!).queued == 0)
    }

    @Test(arguments: [
        ("population: 3\ntournament: 5\nseeds: [seeds/vanilla.program]\n", "tournament 5 is larger than population 3"),
        ("seeds: [seeds/nothere.program]\n", "cannot read the file"),
        ("seeds: [seeds/vanilla.program]\nmutations: {grow: 1}\n", "mutations: unknown kind 'grow'"),
        ("seeds: [seeds/vanilla.program]\nops: [ADD, FOO]\n", "ops: unknown op 'FOO'"),
        ("seeds: [seeds/vanilla.program]\npopulaton: 4\n", "unknown key 'populaton'"),
        ("seeds: [seeds/vanilla.program]\ntraining: {stepz: 3}\n", "unknown key 'stepz'"),
        ("seeds: [1, 2\n", "not valid YAML"),
    ])
    func badSpaceFiles(_ text: String, _ message: String) throws {
        let path = packageRoot.appendingPathComponent("search-spaces/.test-\(UUID()).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try SearchSpace.load(path: path)
            Issue.record("loaded a bad space file")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
            #expect(!"\(error)".contains("\n"))
        }
    }
}
