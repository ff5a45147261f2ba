import Foundation
import Primitives
import Program
import Training

extension Scaling {
    /// The header `ScalingTable.csv` writes, which a table read back must have.
    static let csvHeader = ["program", "size", "d_model", "layers", "seed", "params", "flops_per_token", "training_flops", "val_loss"]

    /// The runs of an earlier table's CSV (`ScalingTable.csv`) that this comparison would
    /// train: its programs (by name) at its sizes, for `seeds`, so that a comparison can grow
    /// by seeds over several sessions or machines without training a run twice. Rows of other
    /// programs, sizes or seeds are left out. A row of this comparison must be what training
    /// it here would give — the parameters and FLOPs per token of the program at that size
    /// (else it is another program under the same name), and checkpoints at this recipe's
    /// training FLOPs (the same steps, batch, context and number of checkpoints) — or the
    /// table is refused, naming its record.
    public func reused(csv text: String, seeds: [UInt64], recipe: Recipe, vocabulary: Int) throws -> [Run] {
        let records: [[String]]
        do { records = try CSV.records(text) } catch { throw ScalingError(description: "\(error)") }
        guard records.first == Self.csvHeader else {
            throw ScalingError(description: "record 1: not a table of evolve scale (its header is \(Self.csvHeader.joined(separator: ",")))")
        }
        var found = [String: Run]()   // "p s seed" → the run, its checkpoints in the file's order
        for (n, f) in records.enumerated().dropFirst() {
            let record = "record \(n + 1)"
            guard f.count == Self.csvHeader.count, let dModel = Int(f[2]), let layers = Int(f[3]), let seed = UInt64(f[4]),
                  let params = Int(f[5]), let flopsPerToken = Int(f[6]), let flops = Double(f[7]), let loss = Double(f[8]),
                  flops.isFinite, flops > 0, loss.isFinite else {
                throw ScalingError(description: "\(record): not a run's checkpoint: \(CSV.line(f).dropLast())")
            }
            guard let p = programs.firstIndex(where: { $0.name == f[0] }), seeds.contains(seed),
                  let s = sizes.firstIndex(where: { $0.dModel == dModel && $0.layers == layers }) else { continue }
            let cost = try program(p, at: s).cost(vocabulary: vocabulary)
            guard cost.parameters == params, cost.flopsPerToken == flopsPerToken else {
                throw ScalingError(description: "\(record): \(f[0]) at \(sizes[s]) has \(params) parameters and \(flopsPerToken) FLOPs/token there, "
                                   + "\(cost.parameters) and \(cost.flopsPerToken) here: another program under the same name")
            }
            let key = "\(p) \(s) \(seed)"
            var run = found[key] ?? Run(program: p, size: s, seed: seed, parameters: params, flopsPerToken: flopsPerToken, curve: [])
            let at = checkpointFLOPs(p, s, recipe: recipe, flopsPerToken: flopsPerToken)
            guard run.curve.count < at.count, abs(flops - at[run.curve.count]) <= 1e-9 * at[run.curve.count] else {
                throw ScalingError(description: "\(record): \(f[0]) at \(sizes[s]) seed \(seed) checkpoint \(run.curve.count + 1) after \(flops) training FLOPs; "
                                   + "this recipe's \(checkpoints) checkpoints of \(recipe.steps) steps fall at \(at.map { String($0) }.joined(separator: ", "))")
            }
            run.curve.append((flops, loss))
            found[key] = run
        }
        for run in found.values where run.curve.count != checkpoints {
            throw ScalingError(description: "\(programs[run.program].name) at \(sizes[run.size]) seed \(run.seed): \(run.curve.count) of \(checkpoints) checkpoints")
        }
        return found.values.sorted { ($0.size, $0.seed, $0.program) < ($1.size, $1.seed, $1.program) }
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
