import Foundation
import Primitives
import Program
import Tensor
import Training

extension Scaling {
    /// The columns `ScalingTable.csv` writes: a checkpoint of a run, and the recipe it ran
    /// (steps, batch, precision). Tables written before 2026-12-07 end at `val_loss`.
    static let csvHeader = ["program", "size", "d_model", "layers", "seed", "params", "flops_per_token", "training_flops", "val_loss",
                            "steps", "batch_size", "precision"]
    static let olderCSVHeader = Array(csvHeader.prefix(9))

    /// What an earlier table holds for this comparison.
    public struct Reused {
        /// Its runs of this comparison's programs, sizes and seeds.
        public var runs: [Run]
        /// How many of its runs are of other programs, sizes or seeds.
        public var others: Int
        /// Whether it records each run's steps, batch and precision (tables written before
        /// 2026-12-07 do not: their runs are matched on their checkpoints' FLOPs alone).
        public var recipeRecorded: Bool
    }

    /// The runs of an earlier table's CSV (`ScalingTable.csv`) that this comparison would
    /// train: its programs (by name) at its sizes, for `seeds`, so that a comparison can grow
    /// by seeds over several sessions or machines without training a run twice. A row of this
    /// comparison must be what training it here would give — the parameters and FLOPs per
    /// token of the program at that size (else it is another program under the same name, or
    /// another vocabulary), checkpoints at this recipe's training FLOPs, and where the table
    /// records them, this recipe's steps, batch and precision — or the table is refused,
    /// naming its record.
    public func reused(csv text: String, seeds: [UInt64], recipe: Recipe, vocabulary: Int) throws -> Reused {
        let records: [[String]]
        do { records = try CSV.records(text) } catch { throw ScalingError(description: "\(error)") }
        guard let header = records.first, header == Self.csvHeader || header == Self.olderCSVHeader else {
            throw ScalingError(description: "record 1: not a table of evolve scale (its header is \(Self.csvHeader.joined(separator: ",")))")
        }
        let recorded = header == Self.csvHeader
        var found = [Run.Slot: Run](), others = Set<String>()   // the run, its checkpoints in the file's order
        // per (program, size): what training it here would give, its cost and its checkpoints' FLOPs
        var expected = [Int: (cost: Cost, at: [Double])]()
        for (n, f) in records.enumerated().dropFirst() {
            let record = "record \(n + 1)"
            guard f.count == header.count, let dModel = Int(f[2]), let layers = Int(f[3]), let seed = UInt64(f[4]),
                  let params = Int(f[5]), let flopsPerToken = Int(f[6]), let flops = Double(f[7]), let loss = Double(f[8]),
                  flops.isFinite, flops > 0, loss.isFinite,
                  !recorded || (Int(f[9]) != nil && Int(f[10]) != nil && Precision(rawValue: f[11]) != nil) else {
                throw ScalingError(description: "\(record): not a run's checkpoint: \(CSV.line(f).dropLast())")
            }
            guard let p = programs.firstIndex(where: { $0.name == f[0] }), seeds.contains(seed),
                  let s = sizes.firstIndex(where: { $0.dModel == dModel && $0.layers == layers }) else {
                others.insert("\(f[0]) \(dModel) \(layers) \(seed)")
                continue
            }
            if recorded, Int(f[9]) != recipe.steps || Int(f[10]) != recipe.batchSize || f[11] != recipe.products.rawValue {
                throw ScalingError(description: "\(record): \(f[0]) at \(sizes[s]) seed \(seed) ran \(f[9]) steps of batch \(f[10]) in \(f[11]); "
                                   + "this recipe is \(recipe.steps) steps of batch \(recipe.batchSize) in \(recipe.products.rawValue)")
            }
            let ps = p * sizes.count + s
            if expected[ps] == nil {
                let cost = try program(p, at: s).cost(vocabulary: vocabulary)
                expected[ps] = (cost, checkpointFLOPs(p, s, recipe: recipe, flopsPerToken: cost.flopsPerToken))
            }
            let (cost, at) = expected[ps]!
            guard cost.parameters == params, cost.flopsPerToken == flopsPerToken else {
                throw ScalingError(description: "\(record): \(f[0]) at \(sizes[s]) has \(params) parameters and \(flopsPerToken) FLOPs/token there, "
                                   + "\(cost.parameters) and \(cost.flopsPerToken) here with a vocabulary of \(vocabulary): another program under the same name, or other data")
            }
            let slot = Run.Slot(program: p, size: s, seed: seed)
            var run = found[slot] ?? Run(program: p, size: s, seed: seed, parameters: params, flopsPerToken: flopsPerToken, curve: [])
            guard run.curve.count < at.count, abs(flops - at[run.curve.count]) <= 1e-9 * at[run.curve.count] else {
                throw ScalingError(description: "\(record): \(f[0]) at \(sizes[s]) seed \(seed) checkpoint \(run.curve.count + 1) after \(flops) training FLOPs; "
                                   + "this recipe's \(checkpoints) checkpoints of \(recipe.steps) steps fall at \(at.map { String($0) }.joined(separator: ", "))")
            }
            run.curve.append((flops, loss))
            found[slot] = run
        }
        let runs = found.values.sorted { ($0.size, $0.seed, $0.program) < ($1.size, $1.seed, $1.program) }
        for run in runs where run.curve.count != checkpoints {
            throw ScalingError(description: "\(programs[run.program].name) at \(sizes[run.size]) seed \(run.seed): \(run.curve.count) of \(checkpoints) checkpoints")
        }
        return Reused(runs: runs, others: others.count, recipeRecorded: recorded)
    }

    /// The training FLOPs of one step of program `p` at size `s`: 3 × forward FLOPs per
    /// token × tokens per step (`train` records a checkpoint at step t as t of these).
    func flopsPerStep(_ p: Int, _ s: Int, recipe: Recipe, flopsPerToken: Int) -> Double {
        3 * Double(flopsPerToken) * Double(recipe.batchSize * program(p, at: s).genes.context)
    }

    /// The training FLOPs at each checkpoint of program `p` at size `s` under `recipe`.
    func checkpointFLOPs(_ p: Int, _ s: Int, recipe: Recipe, flopsPerToken: Int) -> [Double] {
        let perStep = flopsPerStep(p, s, recipe: recipe, flopsPerToken: flopsPerToken)
        return marks(steps: recipe.steps).map { perStep * Double($0) }
    }

    /// The steps at which a run of `steps` is validated.
    func marks(steps: Int) -> [Int] { (1...checkpoints).map { steps * $0 / checkpoints } }
}
