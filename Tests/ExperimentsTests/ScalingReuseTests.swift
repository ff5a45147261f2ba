import Foundation
import Testing
@testable import Experiments
import Program
import TestSupport
import Training

/// `evolve scale --reuse`: an earlier table's runs read back as they were written, the ones
/// this comparison would not train left out, and a table of another recipe or another program
/// under the same name refused naming its record. No training: the runs are made up at the
/// FLOPs `train` would record.
@Suite("scaling tables reused")
struct ScalingReuseTests {
    static let vocabulary = 65

    /// vanilla and Primer-EZ (names awkward for CSV) at two sizes.
    static func scaling() throws -> Scaling {
        var a = try seed("vanilla"), b = try seed("primer-ez")
        a.name = "vanilla, \"the seed\""
        b.name = "ez"
        return Scaling(programs: [a, b], sizes: Scaling.sizes([64, 96]))
    }

    static func recipe(steps: Int = 400) -> Recipe {
        var r = Recipe()
        r.steps = steps
        return r
    }

    /// Every (program, size, seed) of `seeds`, with losses that tell them apart.
    static func runs(_ scaling: Scaling, seeds: [UInt64], recipe: Recipe) throws -> [Scaling.Run] {
        var out = [Scaling.Run]()
        for s in scaling.sizes.indices {
            for seed in seeds {
                for p in scaling.programs.indices {
                    let cost = try scaling.program(p, at: s).cost(vocabulary: vocabulary)
                    let at = scaling.checkpointFLOPs(p, s, recipe: recipe, flopsPerToken: cost.flopsPerToken)
                    out.append(Scaling.Run(program: p, size: s, seed: seed, parameters: cost.parameters, flopsPerToken: cost.flopsPerToken,
                                           curve: at.enumerated().map { ($0.element, 3 - 0.1 * Double($0.offset) + 0.01 * Double(p + 2 * s) + 0.001 * Double(seed)) }))
                }
            }
        }
        return out
    }

    static func csv(_ scaling: Scaling, _ runs: [Scaling.Run], recipe: Recipe, seeds: [UInt64]) -> String {
        ScalingTable(scaling: scaling, runs: runs, recipe: recipe, seeds: seeds, command: "", commit: "", machine: "").csv
    }

    static func same(_ a: [Scaling.Run], _ b: [Scaling.Run]) -> Bool {
        func key(_ r: Scaling.Run) -> String {
            "\(r.program) \(r.size) \(r.seed) \(r.parameters) \(r.flopsPerToken) " + r.curve.map { "\($0.flops):\($0.loss)" }.joined(separator: ",")
        }
        return a.map(key).sorted() == b.map(key).sorted()
    }

    @Test func readsBackWhatItWrote() throws {
        let scaling = try Self.scaling(), recipe = Self.recipe()
        let written = try Self.runs(scaling, seeds: [1, 2], recipe: recipe)
        let text = Self.csv(scaling, written, recipe: recipe, seeds: [1, 2])
        #expect(Self.same(try scaling.reused(csv: text, seeds: [1, 2], recipe: recipe, vocabulary: Self.vocabulary).runs, written))
        // only the seeds asked for; a seed the file lacks is simply not there
        let two = try scaling.reused(csv: text, seeds: [2, 3], recipe: recipe, vocabulary: Self.vocabulary)
        #expect(Self.same(two.runs, written.filter { $0.seed == 2 }))
        #expect(two.others == 4 && two.recipeRecorded)   // seed 1's four runs
        // a comparison of fewer programs and sizes takes only its own
        let narrow = Scaling(programs: [scaling.programs[1]], sizes: [scaling.sizes[1]])
        let mine = try narrow.reused(csv: text, seeds: [1, 2], recipe: recipe, vocabulary: Self.vocabulary).runs
        #expect(Self.same(mine, written.filter { $0.program == 1 && $0.size == 1 }.map {
            var r = $0; r.program = 0; r.size = 0; return r
        }))
        // a table written before it recorded the recipe (its first nine columns) reads the same
        let older = try CSV.records(text).map { CSV.line(Array($0.prefix(9))) }.joined()
        let old = try scaling.reused(csv: older, seeds: [1, 2], recipe: recipe, vocabulary: Self.vocabulary)
        #expect(Self.same(old.runs, written) && !old.recipeRecorded)
        // reused runs are taken, not trained: nothing is trained when every run is in the file
        let data = Dataset(text: syntheticText())
        let all = try scaling.run(recipe: recipe, seeds: [1, 2], data: data, threads: 1, reused: written) { _, what in
            Issue.record("trained \(what)")
        }
        #expect(Self.same(all, written))
    }

    /// Each kind of table it must refuse, by its record.
    @Test func refusesTablesOfAnotherRecipeOrProgram() throws {
        let scaling = try Self.scaling(), recipe = Self.recipe()
        let written = try Self.runs(scaling, seeds: [1], recipe: recipe)
        let text = Self.csv(scaling, written, recipe: recipe, seeds: [1])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func refused(_ csv: String, recipe r: Recipe = recipe, _ words: String) {
            #expect(throws: ScalingError.self, "\(words)") { _ = try scaling.reused(csv: csv, seeds: [1], recipe: r, vocabulary: Self.vocabulary) }
            do { _ = try scaling.reused(csv: csv, seeds: [1], recipe: r, vocabulary: Self.vocabulary) } catch {
                #expect("\(error)".contains(words), "\(error)")
                #expect(!"\(error)".contains("\n"))
            }
        }
        // other steps, batch or context: the checkpoints fall at other FLOPs
        // other steps: refused by the steps recorded, and in an older table by where its checkpoints fall
        let older = try CSV.records(text).map { CSV.line(Array($0.prefix(9))) }.joined()
        for steps in [200, 401, 800] {
            refused(text, recipe: Self.recipe(steps: steps), "ran 400 steps of batch 12")
            refused(older, recipe: Self.recipe(steps: steps), "of \(steps) steps fall at")
        }
        var wider = recipe
        wider.batchSize += 1
        refused(text, recipe: wider, "ran 400 steps of batch 12")
        // the same checkpoint FLOPs from another recipe (twice the batch, half the steps) or
        // in another precision: refused where the table records its recipe
        var doubled = Self.recipe(steps: 200)
        doubled.batchSize *= 2
        refused(text, recipe: doubled, "ran 400 steps of batch 12")
        var other = recipe
        other.precision = recipe.products == .float32 ? .bfloat16 : .float32
        refused(text, recipe: other, "in \(recipe.products.rawValue); this recipe is 400 steps of batch 12 in \(other.products.rawValue)")
        #expect(try scaling.reused(csv: older, seeds: [1], recipe: doubled, vocabulary: Self.vocabulary).runs.count == 4)
        // another program under the same name: its parameters or FLOPs differ (every numeric field of a row, bumped)
        for column in [5, 6] {
            var edited = lines
            var f = try CSV.records(edited[3])[0]
            f[column] = "\(Int(f[column])! + 1)"
            edited[3] = String(CSV.line(f).dropLast())
            refused(edited.joined(separator: "\n"), "record 4: ")
        }
        // a checkpoint left out, one repeated, two swapped; the last run cut short
        for edit in [{ (l: inout [String]) in l.remove(at: 4) }, { l in l.insert(l[4], at: 4) }, { l in l.swapAt(2, 3) }]
                as [(inout [String]) -> Void] {
            var edited = lines
            edit(&edited)
            refused(edited.joined(separator: "\n"), "checkpoint")
        }
        refused(lines.dropLast(2).joined(separator: "\n"), "7 of 8 checkpoints")
        // not a table of evolve scale, or a row that is not a checkpoint
        refused("comparison,variant,seed\n", "record 1: not a table of evolve scale")
        refused("", "record 1: not a table of evolve scale")
        for (column, value) in [(2, "sixty"), (4, "-1"), (7, "nan"), (7, "0"), (8, ""), (8, "nan"), (8, "inf"), (9, "x"), (10, ""),
                                (11, "float64")] {
            var edited = lines
            var f = try CSV.records(edited[5])[0]
            f[column] = value
            edited[5] = String(CSV.line(f).dropLast())
            refused(edited.joined(separator: "\n"), "record 6: not a run's checkpoint")
        }
        refused(lines[0] + "\n\"open quote\n", "record 2")
    }
}
