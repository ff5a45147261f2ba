import Foundation
import Testing
@testable import Program
@testable import Search
@testable import Store
import Primitives
import TestSupport
import Training

/// The ladder of scales in the search: its file, its checks, and the tournament rule.
@Suite("ladder")
struct LadderTests {
    let ladderSpace = packageRoot.appendingPathComponent("search-spaces/tiny-ladder.yaml").path

    /// A space file beside the seeds: tiny's keys and `extra` lines.
    func load(_ extra: String) throws -> SearchSpace {
        let text = """
            seeds: [seeds/vanilla.program]
            genes: {layers: 1, d_model: 32, heads: 2, context: 16}
            budget: {steps: 100}
            hurdles: 1

            """ + extra
        let path = packageRoot.appendingPathComponent("search-spaces/.test-\(UUID()).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try SearchSpace.load(path: path)
    }

    @Test func rungsSetGenesOverTheRungBelow() throws {
        let space = try SearchSpace.load(path: ladderSpace)
        #expect(space.rungs == 3 && space.promote == 0.5)
        let seed = space.seeds[0]
        let genes = (0..<3).map { space.program(seed, rung: $0).genes }
        #expect(genes.map(\.dModel) == [32, 48, 48] && genes.map(\.layers) == [1, 1, 2] && genes.map(\.context) == [16, 16, 32])
        #expect(genes.map(\.heads) == [2, 2, 2])
        #expect([0, 1, 2].map(space.budget(rung:)) == [.steps(100), .steps(150), .steps(200)])
        // Hurdles at rung 0 only: a rung job trains its whole budget, its loss recorded at points halving back from the end.
        #expect(space.bandEnds(steps: 150, rung: 0) == [50, 150] && space.bandEnds(steps: 150, rung: 1) == [9, 18, 37, 75, 150])
        #expect(space.bandEnds(steps: 1200, rung: 2) == [75, 150, 300, 600, 1200] && space.bandEnds(steps: 3, rung: 1) == [1, 3])
        // The block is the candidate's; only the genes change.
        #expect(space.program(seed, rung: 2).subprograms == seed.subprograms)
        #expect(try load("").rungs == 1)
    }

    @Test(arguments: [
        ("ladder: [{d_model: 16, budget: {steps: 10}}]", "ladder: rung 1: d_model 16 is smaller than the rung below's 32"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}, {layers: 1, context: 8, budget: {steps: 10}}]",
         "ladder: rung 2: context 8 is smaller than the rung below's 16"),
        ("ladder: [{budget: {steps: 400}}]", "ladder: rung 1: seed vanilla has"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}, {d_model: 64, budget: {steps: 20}}]", "ladder: rung 2: seed vanilla has"),
        ("ladder: [{d_model: 48, heads: 5, budget: {steps: 10}}]", "ladder: rung 1: seed vanilla with its genes: genes: d_model 48 must divide by 8 and by heads 5"),
        ("ladder: [{d_model: 100000, budget: {steps: 10}}]", "ladder: rung 1: seed vanilla with its genes: genes: d_model 100000 is above"),
        ("ladder: [{d_model: 64}]", "budget: every rung needs its own"),
        ("ladder: [{d_model: 64, budget: {hours: 1}}]", "ladder: rung 1: budget: unknown kind 'hours'"),
        ("ladder: [{d_model: 64, budget: {steps: 0.5}}]", "ladder: rung 1: budget: steps must be a whole number"),
        ("ladder: [{width: 64, budget: {steps: 10}}]", "unknown key 'width' (known: budget, context, d_model, heads, layers)"),
        ("ladder: [{d_model: 0, budget: {steps: 10}}]", "d_model must be a positive integer"),
        ("ladder: {d_model: 64}", "ladder: a list of rungs"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}]\npromote: 0", "promote must be a number F with 0 < F ≤ 1"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}]\npromote: 1.5", "promote must be a number F with 0 < F ≤ 1"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}]\npromote: .nan", "'promote' must be a finite number"),
        ("promote: 0.5", "promote: needs a ladder: to climb"),
        ("reference_seeds: 3", "reference_seeds: needs a ladder:"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}]\nreference_seeds: 0", "reference_seeds must be an integer from 1 to 16"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}]\nreference_seeds: 17", "reference_seeds must be an integer from 1 to 16"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}]\nreference_seeds: 1.5", "reference_seeds must be an integer from 1 to 16"),
        ("promoted_seeds: 2", "promoted_seeds: needs a ladder:"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}]\npromoted_seeds: 0", "promoted_seeds must be an integer from 1 to 16"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}]\npromoted_seeds: 17", "promoted_seeds must be an integer from 1 to 16"),
        ("ladder: [{d_model: 64, budget: {steps: 10}}]\npromoted_seeds: two", "promoted_seeds must be an integer from 1 to 16"),
    ])
    func badLadders(_ extra: String, _ message: String) throws {
        do {
            _ = try load(extra)
            Issue.record("loaded a bad ladder: \(extra)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
            #expect(!"\(error)".contains("\n"))
        }
    }

    /// A rung the data or the machine cannot train is refused before a study is made.
    @Test func rungsThatDoNotFitAreRefused() throws {
        let data = Dataset(text: syntheticText())
        try load("ladder: [{d_model: 64, budget: {steps: 10}}]").checkFits(data)
        for (rung, message) in [("{context: 4096, budget: {steps: 10}}", "ladder: rung 1: corpus:"),
                                ("{d_model: 16384, layers: 512, budget: {steps: 10}}", "ladder: rung 1: vanilla: training it at batch")] {
            do {
                try load("ladder: [\(rung)]").checkFits(data)
                Issue.record("a rung that does not fit passed: \(rung)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
    }

    /// Rows of a study: the seed, three children and rung jobs with chosen losses.
    static func rows() -> [Candidate] {
        var rows = [Candidate]()
        func add(_ rung: Int, subject: Int64?, loss: Double, kind: String? = nil) {
            var c = Candidate(studyId: 1, program: "", hash: "\(rows.count)", parentId: subject == nil && rows.isEmpty ? nil : 1,
                              mutationKind: kind, generation: rows.isEmpty ? 0 : 1)
            c.id = Int64(rows.count + 1)
            c.rung = rung
            c.subject = subject
            c.completion = c.id
            c.outcome = Outcome(fitness: loss)
            rows.append(c)
        }
        add(0, subject: nil, loss: 2.0)                                  // #1 the seed
        add(0, subject: nil, loss: 1.5)                                  // #2 best at rung 0, never climbed
        add(0, subject: nil, loss: 1.8)                                  // #3 climbed to rung 1
        add(0, subject: nil, loss: 1.9)                                  // #4 climbed to rung 2
        add(1, subject: 1, loss: 1.70, kind: Ladder.reference)           // #5, #6 the seed's references at rung 1
        add(1, subject: 1, loss: 1.72, kind: Ladder.reference)
        add(1, subject: 3, loss: 1.6, kind: Ladder.promote)              // #7: #3 gains 0.11 at rung 1
        add(1, subject: 4, loss: 1.65, kind: Ladder.promote)             // #8
        add(2, subject: 4, loss: 1.5, kind: Ladder.promote)              // #9: #4 at rung 2
        return rows
    }

    /// A subject's compute speedup at a rung is read off its job's validation curve and the mean
    /// of the seed's reference jobs' there: a job that reaches every loss with k times less
    /// compute than the references' mean has speedup k. A curve of one point (a job from
    /// before rung jobs kept one), a candidate a hurdle stopped, and the seed have none.
    @Test func speedupsAtARungAreReadOffTheCurves() {
        let rows = Self.rows()
        var rng = Xoshiro(seed: 11)
        for _ in 0..<50 {
            let k = exp(2 * rng.uniform() - 1), a = 4 + rng.uniform(), b = 0.1 + 0.3 * rng.uniform(), d = 0.05 * rng.uniform()
            let tokens = 1536, fpt = 7_000_000
            func curve(_ id: Int64, steps: [Int], _ loss: (Double) -> Double) -> (Int64, [Evaluation]) {
                (id, steps.enumerated().map { band, s in
                    let flops = Double(s * tokens) * Double(fpt)
                    return Evaluation(candidateId: id, band: band, loss: loss(flops), steps: s, tokens: s * tokens, seconds: 1,
                                      parameters: 1, flopsPerToken: fpt)
                })
            }
            let halving = [50, 100, 200, 400, 800]
            let evaluations = Dictionary(uniqueKeysWithValues: [
                curve(1, steps: [57, 171, 400]) { a + 1 - b * log($0) },          // the seed at rung 0
                curve(2, steps: [57, 171]) { a + 1.2 - b * log($0) },             // #2 stopped at a hurdle
                curve(5, steps: halving) { a - b * log($0) + d },                // the seed's references at rung 1,
                curve(6, steps: halving) { a - b * log($0) - d },                // their mean a − b·log F
                curve(7, steps: halving) { a - b * log(k * $0) },                // #3 at rung 1: k times less compute
                curve(8, steps: [800]) { a - b * log($0) },                       // #4 at rung 1, its end only
            ])
            let ladder = LadderResults(candidates: rows.filter { $0.rung == 0 }, jobs: rows.filter { $0.rung > 0 }, evaluations: evaluations)
            let s = ladder.speedup(3, rung: 1)
            #expect(s != nil && abs(s! / k - 1) < 1e-9, "\(String(describing: s)) for k \(k)")
            #expect(ladder.speedup(4, rung: 1) == nil && ladder.speedup(2, rung: 0) == nil && ladder.speedup(1, rung: 1) == nil)
            #expect(LadderResults(candidates: rows.filter { $0.rung == 0 }, jobs: rows.filter { $0.rung > 0 }).speedup(3, rung: 1) == nil)
        }
    }

    /// The tournament key is (highest rung reached, result there): a block that climbed
    /// beats one that only wins at the bottom, and among those that climbed as high, the
    /// better result at that rung wins.
    @Test func theHighestRungDecidesTournaments() {
        let rows = Self.rows()
        let ladder = LadderResults(candidates: rows.filter { $0.rung == 0 }, jobs: rows.filter { $0.rung > 0 })
        let population = Array(rows.prefix(4))
        func win(_ ids: [Int64]) -> Int64 {
            winner(ids.map { population[Int($0) - 1] }, population: population, objective: .loss, reach: { ladder.reach($0.id!) }) { _, _ in nil }.id!
        }
        #expect(ladder.reach(2)! == (0, 1.5) && ladder.reach(3)! == (1, 1.6) && ladder.reach(4)! == (2, 1.5))
        #expect(abs(ladder.gain(3, rung: 1)! - 0.11) < 1e-12 && ladder.gain(4, rung: 2) == nil)   // no reference at rung 2 yet
        #expect(win([2, 3]) == 3)          // rung 1 beats the best rung-0 loss
        #expect(win([2, 3, 4]) == 4)       // rung 2 beats rung 1
        #expect(win([1, 2]) == 2)          // the seed's reference jobs are no climb: rung-0 loss decides
        #expect(ladder.reach(1)! == (0, 2.0) && ladder.reference(rung: 1)!.losses == [1.70, 1.72])
        // A twin (a candidate that took #4's result) reaches what #4 reached.
        var twin = rows[3]
        (twin.id, twin.completion) = (10, 10)
        twin.outcome?.reusedFrom = 4
        let withTwin = LadderResults(candidates: rows.filter { $0.rung == 0 } + [twin], jobs: rows.filter { $0.rung > 0 })
        #expect(withTwin.reach(10)! == (2, 1.5) && Ladder.standings(rows + [twin], rung: 0).count == 4)
        // Without a ladder, the same contenders are ranked by rung-0 loss alone.
        let flat = winner([population[2], population[1], population[3]], population: population, objective: .loss, reach: { _ in nil }) { _, _ in nil }
        #expect(flat.id == 2)
    }
}
