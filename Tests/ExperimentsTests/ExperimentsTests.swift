import Foundation
import Testing
@testable import Experiments
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
        r = Reproduction(name: r.name, claim: r.claim, variants: r.variants.map {
            var v = $0
            v.program.genes.layers = 1; v.program.genes.dModel = 32; v.program.genes.heads = 2; v.program.genes.context = 16
            return v
        })
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
    }
}
