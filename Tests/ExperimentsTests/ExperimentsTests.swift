import Foundation
import Testing
@testable import Experiments
import Program
import TestSupport
import Training

@Suite("reproductions")
struct ExperimentsTests {
    let seeds = packageRoot.appendingPathComponent("search-spaces/seeds").path

    /// Every named comparison loads and its variants differ from one another.
    @Test(arguments: Reproduction.names)
    func comparisonsLoad(_ name: String) throws {
        let r = try Reproduction.named(name, seeds: seeds)
        #expect(r.variants.count >= 3)
        #expect(Set(r.variants.map(\.program.hash)).count == r.variants.count)
    }

    /// The sparse sweep keeps active cells b·g fixed at 4·d_model while blocks shrink.
    @Test func sparseSweepHoldsActiveCells() throws {
        let r = try Reproduction.named("sffn", seeds: seeds)
        let sweep = r.variants.filter { $0.label.hasPrefix("Avg-K") }
        #expect(sweep.count == 5)
        for v in sweep {
            let dim = v.program.subprograms[0].instructions.first { $0.op == .sparseFFN }!.dim
            #expect(v.program.genes.topk * dim * v.program.genes.dModel / 8 == 4 * v.program.genes.dModel)
        }
    }

    /// A short run: every variant and seed at equal steps, the equal-time steps from the
    /// measured times, the same batches per seed (the reference's equal-time runs are its
    /// equal-steps ones), and tables with one CSV row per run.
    @Test func shortRunWritesTables() throws {
        var r = try Reproduction.named("altup", seeds: seeds)
        r = Reproduction(name: r.name, summary: r.summary, variants: r.variants.map {
            var v = $0
            v.program.genes.layers = 1; v.program.genes.dModel = 32; v.program.genes.heads = 2; v.program.genes.context = 16
            return v
        }, claims: r.claims)
        var recipe = Recipe()
        recipe.steps = 20; recipe.batchSize = 4; recipe.warmupSteps = 2
        let data = Dataset(text: syntheticText())
        let (a, b) = try r.run(recipe: recipe, seeds: [1, 2], data: data, threads: 1)
        #expect(a.count == 6 && b.count == 6)
        #expect(a.allSatisfy { $0.steps == 20 && $0.valLoss.isFinite })
        #expect(b.filter { $0.variant == 0 }.map(\.valLoss) == a.filter { $0.variant == 0 }.map(\.valLoss))
        let table = ReproductionTable(r, equalSteps: a, equalTime: b, command: "evolve reproduce altup", commit: "abc", machine: "m")
        #expect(table.csv.split(separator: "\n").count == 1 + 12)
        #expect(table.markdown.contains("## Equal wall-clock"))
        #expect(table.markdown.contains("| Recycled-AltUp K=2 same |"))
        #expect(table.markdown.contains("## The paper's claims at this scale"))
        for claim in r.claims { #expect(table.markdown.contains("| \(claim.statement) | ")) }

        // The CSV holds every run: read back, it gives the same claims section.
        let again = try ReproductionTable(r, csv: table.csv, command: "", commit: "", machine: "")
        #expect(again.equalSteps.count == a.count)
        #expect(zip(again.equalSteps, a).allSatisfy { abs($0.valLoss - $1.valLoss) < 1e-5 && $0.seed == $1.seed && $0.variant == $1.variant })
        #expect(again.equalTime.map(\.steps) == b.map(\.steps))
        #expect(again.claimsMarkdown.components(separatedBy: "\n").count == table.claimsMarkdown.components(separatedBy: "\n").count)
        #expect(throws: ProgramError.self) { try ReproductionTable(r, csv: table.csv + "equal_steps,\"nope\",1,2,3,4,5,6,7\n", command: "", commit: "", machine: "") }
        #expect(throws: ProgramError.self) { try ReproductionTable(r, csv: table.csv + "equal_stepz,\"baseline\",1,2,3,4,5,6,7\n", command: "", commit: "", machine: "") }
    }

    /// Verdicts: a difference counts only beyond the seed spread, in the claimed direction.
    @Test func claimVerdicts() {
        func runs(_ losses: [[Double]], params: [Int] = [100, 50]) -> [Reproduction.Run] {
            losses.enumerated().flatMap { v, ls in
                ls.enumerated().map { s, l in
                    Reproduction.Run(variant: v, seed: UInt64(s), steps: 10, valLoss: l, seconds: 1, tokensPerSecond: 1,
                                     parameters: params[v], flopsPerToken: 1)
                }
            }
        }
        let labels = ["base", "new"]
        let clear = runs([[2.0, 2.1, 2.2], [1.8, 1.9, 2.0]])      // new lower by 0.2, spread 0.1
        let noisy = runs([[2.0, 2.3, 2.6], [1.9, 2.2, 2.5]])      // lower by 0.1, spread 0.3
        let worse = runs([[1.8, 1.9, 2.0], [2.0, 2.1, 2.2]])
        let lower = Claim.lower("new", than: "base"), notWorse = Claim.notWorse("new", than: "base")
        #expect(lower.verdict(labels: labels, runs: clear)?.outcome == .reproduces)
        #expect(lower.verdict(labels: labels, runs: clear)?.evidence == "-0.2000 (spread 0.1000)")
        #expect(lower.verdict(labels: labels, runs: noisy)?.outcome == .unresolved)
        #expect(lower.verdict(labels: labels, runs: worse)?.outcome == .contradicted)
        #expect(notWorse.verdict(labels: labels, runs: noisy)?.outcome == .reproduces)
        #expect(notWorse.verdict(labels: labels, runs: worse)?.outcome == .contradicted)
        #expect(Claim.fewerParameters("new", than: "base").verdict(labels: labels, runs: clear)?.outcome == .reproduces)
        #expect(Claim.fewerParameters("base", than: "new").verdict(labels: labels, runs: clear)?.outcome == .contradicted)
        #expect(Claim.lower("other", than: "base").verdict(labels: labels, runs: clear) == nil)
    }

    /// Every claim names variants of its own comparison.
    @Test(arguments: Reproduction.names)
    func claimsNameVariants(_ name: String) throws {
        let r = try Reproduction.named(name, seeds: seeds)
        let labels = Set(r.variants.map(\.label))
        #expect(!r.claims.isEmpty)
        for c in r.claims { #expect(labels.contains(c.a) && labels.contains(c.b), "\(c.statement)") }
    }
}
