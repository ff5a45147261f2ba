import Foundation
import Primitives
import Testing
@testable import Program
@testable import Search
@testable import Store
import TestSupport
import Training
import Tensor
import Compiler
import Config

func tinySpace() throws -> SearchSpace {
    try SearchSpace.load(path: packageRoot.appendingPathComponent("search-spaces/tiny.yaml").path)
}

/// What a study holds, in completion order: program hash, fitness, parent.
func history(_ path: String, _ space: SearchSpace) throws -> [String] {
    let store = try openStore(path, readOnly: true)
    guard let study = try store.existingStudy(named: space.name) else { return [] }
    return try store.completed(study: study.id!).map { "\($0.hash) \($0.fitness ?? .nan) \($0.parentId ?? 0)" }
}

@Suite("search")
struct SearchTests {
    let data = Dataset(text: syntheticText())

    func run(_ path: String, until n: Int) throws {
        let e = try Evolution(space: try tinySpace(), store: try openStore(path), data: data, threads: 2)
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

    /// A study's jobs multiply in the precision recorded when it was made, whatever this
    /// CPU's default would be: float32 for a study made before studies recorded it, the
    /// recorded one otherwise; a name this build does not know is refused.
    @Test func jobsTakeTheStudysPrecision() throws {
        let space = try tinySpace()
        #expect(space.recipe.precision == nil)
        let fresh = try Evolution(space: space, store: try openStore(temporaryDatabase()), data: data, threads: 1)
        #expect(fresh.study.products == space.recipe.products.rawValue)   // this machine's default, recorded
        func study(recording products: String?) throws -> Store {
            let store = try openStore(temporaryDatabase())
            _ = try store.study(named: space.name, space: space.text, seed: Int64(space.seed), corpusSha256: nil,
                                corpusPath: nil, seeds: nil, products: products)
            return store
        }
        for (recorded, runs) in [(nil, Precision.float32), ("float32", .float32), ("bfloat16", .bfloat16)] {
            let e = try Evolution(space: space, store: try study(recording: recorded), data: data, threads: 1)
            #expect(e.recipe.products == runs, "recorded \(recorded ?? "nothing")")
        }
        #expect {
            _ = try Evolution(space: space, store: try study(recording: "float8"), data: data, threads: 1)
        } throws: { "\($0)".contains("'float8'") && "\($0)".contains("float32, bfloat16") }
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
        let store = try openStore(path)
        let space = try tinySpace()
        let study = try store.study(named: space.name, space: "", seed: 0)
        // A candidate "claimed" by a process that no longer exists (pid 2^22 - 1 is above Linux's default maximum).
        let orphan = try store.addRunning(Candidate(studyId: study.id!, program: space.seeds[0].text, hash: "orphan"),
                                          worker: Worker(host: ProcessInfo.processInfo.hostName, pid: 4194303, start: 1))
        try run(path, until: 5)
        let done = try store.completed(study: study.id!)
        #expect(done.count == 5)
        #expect(Set(done.map(\.id)).count == 5)
        #expect(done.contains { $0.id == orphan.id })
        #expect(try store.counts(study: study.id!).running == 0)
        #expect(try store.counts(study: study.id!).queued == 0)
    }

    /// The probe tells a causal program from one that sees later tokens, and gives programs
    /// that compute the same function the same fingerprint.
    @Test func probeFingerprintsAndChecksCausality() throws {
        let space = try tinySpace(), seed = space.seeds[0]
        func probe(_ edit: (inout [String]) -> Void) throws -> (fingerprint: String, causal: Bool, hash: String) {
            var lines = seed.text.split(separator: "\n").map(String.init)
            edit(&lines)
            let p = try Program(text: lines.joined(separator: "\n"))
            let r = try Run(p, recipe: space.recipe, data: data, threads: 1, causality: .allow).probe
            return (r.fingerprint, r.causal, p.hash)
        }
        let base = try probe { _ in }
        #expect(base.causal)
        // Without MASK every position attends to the whole window.
        let unmasked = try probe { lines in
            let i = lines.firstIndex { $0.contains("= MASK") }!
            lines[i] = lines[i].replacingOccurrences(of: "MASK", with: "ABS")
        }
        #expect(!unmasked.causal)
        // The norm's x · (1/σ) written as x / σ: another text, the same function.
        let divided = try probe { lines in
            let i = lines.lastIndex { $0.contains("= MULTIPLY s2 s7") }!
            lines[i] = lines[i].replacingOccurrences(of: "MULTIPLY s2 s7", with: "DIVIDE s2 s6")
        }
        #expect(divided.hash != base.hash)
        #expect(divided.fingerprint == base.fingerprint)
        let relu = try probe { lines in
            let i = lines.firstIndex { $0.contains("= GELU") }!
            lines[i] = lines[i].replacingOccurrences(of: "GELU", with: "RELU")
        }
        #expect(relu.causal)
        #expect(relu.fingerprint != base.fingerprint)
    }

    @Test func budgetsResolveToSteps() {
        let timed = { 0.01 }
        #expect(Budget.steps(300).steps(tokensPerStep: 768, flopsPerToken: 1000, secondsPerStep: timed) == 300)
        #expect(Budget.tokens(768_000).steps(tokensPerStep: 768, flopsPerToken: 1000, secondsPerStep: timed) == 1000)
        #expect(Budget.flops(3 * 1000 * 768 * 50).steps(tokensPerStep: 768, flopsPerToken: 1000, secondsPerStep: timed) == 50)
        #expect(Budget.seconds(2).steps(tokensPerStep: 768, flopsPerToken: 1000, secondsPerStep: timed) == 200)
        #expect(Budget.flops(1).steps(tokensPerStep: 768, flopsPerToken: 1000, secondsPerStep: timed) == 1)
    }

    @Test(arguments: [
        ("population: 3\ntournament: 5\nseeds: [seeds/vanilla.program]\n", "tournament 5 is larger than population 3"),
        ("seeds: [seeds/nothere.program]\n", "no such file"),
        ("seeds: [seeds/vanilla.program]\nmutations: {grow: 1}\n", "mutations: unknown kind 'grow'"),
        ("seeds: [seeds/vanilla.program]\nops: [ADD, FOO]\n", "ops: unknown op 'FOO'"),
        ("seeds: [seeds/vanilla.program]\npopulaton: 4\n", "unknown key 'populaton'"),
        ("seeds: [seeds/vanilla.program]\ntraining: {stepz: 3}\n", "unknown key 'stepz'"),
        ("seeds: [1, 2\n", "not valid YAML"),
        ("seeds: [seeds/vanilla.program]\nbudget: {hours: 2}\n", "budget: unknown kind 'hours'"),
        ("seeds: [seeds/vanilla.program]\nbudget: {steps: 0}\n", "budget: one of"),
        ("seeds: [seeds/vanilla.program]\nchoices: {dims: [3]}\n", "choices: dim 3 is not one of"),
        ("seeds: [seeds/vanilla.program]\nchoices: {dimz: [8]}\n", "choices: unknown key 'dimz' (known: dims, experts, heads, layers, widths)"),
        ("seeds: [seeds/vanilla.program]\nconstraint: {param: [0.9, 1.1]}\n", "constraint: unknown key 'param' (known: flops_per_token, params)"),
        ("seeds: [seeds/vanilla.program]\ngenes: {layerz: 2}\n", "genes: unknown key 'layerz'"),
        ("seeds: [seeds/vanilla.program]\ngenes: {capacity: .inf}\n", "genes: 'capacity' must be a finite number, found inf"),
        ("seeds: [seeds/vanilla.program]\ntraining: {learning_rate: .nan}\n", "training: 'learning_rate' must be a finite number, found nan"),
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

    /// A study resumes from its space's text with comments, layout and key order changed,
    /// never with a value changed.
    @Test func resumeComparesValuesNotLayout() {
        let a = "seeds: [a.program]\nbudget: {steps: 100}\ntraining: {batch_size: 4, seed: 2}\n"
        let b = "# a comment\ntraining:\n  seed: 2\n  batch_size: 4\nbudget: {steps: 100}   # the same\nseeds:\n- a.program\n"
        #expect(YAMLFile.differingKeys(a, b).isEmpty)
        #expect(YAMLFile.differingKeys(a, b.replacingOccurrences(of: "seed: 2", with: "seed: 3") + "hurdles: 1\n") == ["hurdles", "training"])
    }

    @Test func paretoRanksPeelFronts() {
        // (loss, cost): a and b trade off, c is beaten by a, d by everything.
        let ranks = paretoRanks([(1.0, 5.0), (2.0, 1.0), (1.5, 6.0), (3.0, 7.0), (1.0, 5.0)])
        #expect(ranks == [0, 0, 1, 2, 0])
    }

    /// With a Pareto objective, a tournament's winner has the best rank among the
    /// contenders: a contender on the population's front always beats one behind it.
    @Test func paretoSelectionPicksFromTheFront() {
        var rng = Xoshiro(seed: 8)
        let population: [Candidate] = (0..<30).map { i in
            var c = Candidate(studyId: 1, program: "", hash: "\(i)")
            c.id = Int64(i)
            c.outcome = Outcome(fitness: 2 + rng.uniform())
            return c
        }
        let costs = population.map { _ in 1e6 * (1 + rng.uniform()) }
        let ranks = paretoRanks(zip(population, costs).map { ($0.fitness!, $1) })
        #expect(ranks.contains(0) && ranks.contains { $0 > 0 })
        var fromFront = 0
        for _ in 0..<200 {
            let contenders = (0..<5).map { _ in population[rng.below(population.count)] }
            let w = winner(contenders, population: population, objective: .pareto(.flopsPerToken)) { c, _ in costs[Int(c.id!)] }
            let best = contenders.map { ranks[Int($0.id!)] }.min()!
            #expect(ranks[Int(w.id!)] == best)
            if best == 0 { fromFront += 1 }
            // Loss alone picks the lowest loss, front or not.
            let byLoss = winner(contenders, population: population, objective: .loss) { _, _ in nil }
            #expect(byLoss.fitness == contenders.map { $0.fitness! }.min())
        }
        #expect(fromFront > 0)
    }

    /// The default space holds the size: every child's FLOPs per token and parameters stay
    /// within its bounds of the seed's, whatever the mutation.
    @Test func constraintBoundsHoldForEveryChild() throws {
        let space = try SearchSpace.load(path: packageRoot.appendingPathComponent("search-spaces/primer.yaml").path)
        let bounds = try #require(space.constraint)
        let seed = space.seeds[0], base = try seed.cost(vocabulary: 65)
        var rng = Xoshiro(seed: 9), stats = Mutator.Stats(), parent = seed
        for _ in 0..<150 {
            let child = try space.mutator.mutate(parent, using: &rng, stats: &stats) {
                bounds.admits($0, seed: seed, vocabulary: 65)
            }.program
            let c = try child.cost(vocabulary: 65)
            #expect(bounds.flopsPerToken!.contains(Double(c.flopsPerToken) / Double(base.flopsPerToken)))
            #expect(bounds.parameters!.contains(Double(c.parameters) / Double(base.parameters)))
            parent = child     // a lineage, so that drift would show
        }
        #expect(stats.rejected.values.reduce(0, +) > 0, "the bounds never turned a child down: \(stats.rejected)")
    }
}
