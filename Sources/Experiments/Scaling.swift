import Compiler
import Foundation
import Model
import Primitives
import Program
import Training

/// Primer's headline evaluation: programs trained at several model sizes, the validation
/// loss followed against training compute, and each program's compute speedup over the
/// first (the reference): how many times less training compute it needs to reach the
/// same loss, at each size.
public struct Scaling: Sendable {
    public struct Size: Sendable, Equatable, CustomStringConvertible {
        public var dModel: Int
        public var layers: Int
        public var heads: Int
        public init(dModel: Int, layers: Int, heads: Int) { self.dModel = dModel; self.layers = layers; self.heads = heads }
        public var description: String { "d\(dModel)-L\(layers)" }
    }

    /// One training run: a program at a size and seed, and its validation loss at each checkpoint.
    public struct Run: Sendable {
        public var program: Int
        public var size: Int
        public var seed: UInt64
        public var parameters: Int
        public var flopsPerToken: Int
        /// (training FLOPs so far — 3 × forward FLOPs per token × tokens —, validation loss).
        public var curve: [(flops: Double, loss: Double)]

        /// Which run of a comparison this is: a program, a size, a seed.
        public struct Slot: Hashable, Sendable {
            public var program: Int, size: Int, seed: UInt64
        }
        public var slot: Slot { Slot(program: program, size: size, seed: seed) }
    }

    public var programs: [Program]
    public var sizes: [Size]
    /// Validation checkpoints per run, evenly spaced in steps (the last at the end).
    public var checkpoints = 8

    public init(programs: [Program], sizes: [Size]) { self.programs = programs; self.sizes = sizes }

    /// Sizes that keep the layers' width-to-depth ratio of the baseline (d_model 128, 4
    /// layers, 4 heads, head width 32): d_model w gets w/32 layers and w/32 heads.
    public static func sizes(_ widths: [Int]) -> [Size] {
        widths.map { Size(dModel: $0, layers: max(1, $0 / 32), heads: max(1, $0 / 32)) }
    }

    /// The program with a size's genes.
    public func program(_ p: Int, at s: Int) -> Program {
        var q = programs[p]
        q.genes.dModel = sizes[s].dModel
        q.genes.layers = sizes[s].layers
        q.genes.heads = sizes[s].heads
        return q
    }

    /// Trains every program at every size for every seed with the recipe, but the runs in
    /// `reused` (read from an earlier table: `reused(csv:…)`), which it takes as they are;
    /// `progress` hears each run as it ends.
    public func run(recipe: Recipe, seeds: [UInt64], data: Dataset, threads: Int, reused: [Run] = [],
                    progress: (Run, String) throws -> Void = { _, _ in }) throws -> [Run] {
        var runs = [Run]()
        for s in sizes.indices {
            for seed in seeds {
                for p in programs.indices {
                    if let run = reused.first(where: { $0.slot == Run.Slot(program: p, size: s, seed: seed) }) {
                        runs.append(run)
                        continue
                    }
                    let run = try train(p, at: s, seed: seed, recipe: recipe, data: data, threads: threads)
                    try progress(run, "\(programs[p].name) \(sizes[s]) seed \(seed)")
                    runs.append(run)
                }
            }
        }
        return runs
    }

    func train(_ p: Int, at s: Int, seed: UInt64, recipe: Recipe, data: Dataset, threads: Int) throws -> Run {
        var r = recipe
        r.seed = seed
        let run = try Training.Run(program(p, at: s), recipe: r, data: data, threads: threads)
        let perStep = flopsPerStep(p, s, recipe: r, flopsPerToken: run.cost.flopsPerToken)
        let result = try run.train(marks: marks(steps: r.steps))
        do { try run.checkFinite(result) } catch {
            throw ScalingError(description: "\(run.program.name) at \(sizes[s]) seed \(seed): \(error)")
        }
        return Run(program: p, size: s, seed: seed, parameters: run.model.parameterCount, flopsPerToken: run.cost.flopsPerToken,
                   curve: result.curve.map { (perStep * Double($0.step), $0.loss) })
    }

    /// The mean curve of a program at a size over its seeds (checkpoints line up: same steps).
    public static func meanCurve(_ runs: [Run]) -> [(flops: Double, loss: Double)] {
        ComputeSpeedup.mean(runs.map(\.curve)) ?? []
    }
}

public struct ScalingError: Error, CustomStringConvertible {
    public let description: String
    init(description: String) { self.description = oneLine(description) }
}
