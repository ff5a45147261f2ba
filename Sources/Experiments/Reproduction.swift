import Compiler
import Foundation
import Program
import Model
import Tensor
import Training

/// A matched comparison from one of the seed papers: programs trained with one recipe over
/// several seeds — for a given seed every variant sees the same batches (the batch stream is
/// seeded by the recipe's seed alone) — first at equal steps, then at equal wall-clock (each
/// variant gets the steps it can run in the first variant's mean time).
public struct Reproduction {
    public struct Variant {
        public var label: String
        public var program: Program
    }

    public let name: String
    /// The paper's finding, in a sentence.
    public let summary: String
    public let variants: [Variant]
    /// The finding as statements the measured runs can confirm or refute.
    public var claims: [Claim] = []

    public static let names = ["primer", "sffn", "mpoe", "altup"]

    /// The comparison called `name`, with seed programs read from `seeds` (a folder).
    public static func named(_ name: String, seeds: String) throws -> Reproduction {
        let files = SeedFiles(folder: seeds)
        switch name {
        case "primer": return try primer(files)
        case "sffn": return try sparseFFN(files)
        case "mpoe": return try mpoExperts(files)
        case "altup": return try altUp(files)
        default: throw ProgramError("unknown reproduction '\(name)' (known: \(names.joined(separator: ", ")))")
        }
    }

    /// The seed programs' folder.
    struct SeedFiles {
        let folder: String
        func load(_ file: String) throws -> Program { try Program.load(path: "\(folder)/\(file).program") }
        func variant(_ label: String, _ file: String) throws -> Variant { Variant(label: label, program: try load(file)) }
    }

    static func primer(_ f: SeedFiles) throws -> Reproduction {
        let (vanilla, sq, ez) = ("vanilla (GELU)", "squared ReLU", "Primer-EZ")
        return Reproduction(name: "primer", summary: "Primer: squared ReLU beats ReLU and GELU; MDHA helps; Primer-EZ (both) helps most",
                            variants: [try f.variant(vanilla, "vanilla"), try f.variant("ReLU", "relu"),
                                       try f.variant(sq, "squared-relu"), try f.variant("MDHA", "mdha"),
                                       try f.variant(ez, "primer-ez")],
                            claims: [.lower(sq, than: "ReLU"), .lower(sq, than: vanilla), .lower("MDHA", than: vanilla),
                                     .lower(ez, than: vanilla), .lower(ez, than: sq), .lower(ez, than: "MDHA"),
                                     .lower(ez, than: vanilla, at: .equalTime)])
    }

    static func sparseFFN(_ f: SeedFiles) throws -> Reproduction {
        // Equal active cells b·g = 4·d_model (the dense MLP's width) and 4x that in memory:
        // from b = 1 block of g = 512 to b = 16 of g = 32 (dims are eighths of d_model).
        var sweep = [Variant]()
        for (b, dim) in [(1, 32), (2, 16), (4, 8), (8, 4), (16, 2)] {
            var p = try f.load("avgk-sffn")
            p.genes.topk = b
            p.genes.experts = 4 * b
            p.subprograms = p.subprograms.map { sub in
                var s = sub
                for i in s.instructions.indices where s.instructions[i].op == .sparseFFN { s.instructions[i].dim = dim }
                return s
            }
            try p.validate()
            sweep.append(Variant(label: "Avg-K g=\(dim * p.genes.dModel / 8) b=\(b)", program: p))
        }
        // The paper's Avg-K is the seed avgk-sffn: 8 blocks of d_model/2 per token.
        let avgk = "Avg-K g=64 b=8", largest = sweep.first!.label, smallest = sweep.last!.label
        return Reproduction(name: "sffn", summary: "Sparse FFN (Liu et al.): at equal active FLOPs, Avg-K with small blocks beats Switch and Hash routing; smaller memory blocks help",
                            variants: [try f.variant("dense", "vanilla"), try f.variant("Switch", "switch-moe"),
                                       try f.variant("Hash", "hash-ffn")] + sweep,
                            claims: [.lower(avgk, than: "Switch"), .lower(avgk, than: "Hash"), .lower(avgk, than: "dense"),
                                     .lower("Switch", than: "dense"), .lower("Hash", than: "dense"),
                                     .lower(smallest, than: largest), .lower(avgk, than: largest)])
    }

    static func mpoExperts(_ f: SeedFiles) throws -> Reproduction {
        // The paper's gradient mask on the shared central core, dropped half the steps.
        var masked = try f.load("mpo-moe")
        masked.genes.mpoMask = 0.5
        let maskedLabel = "MPO MoE, gradient mask 0.5"
        return Reproduction(name: "mpoe", summary: "MPOE (Gao et al.): experts sharing an MPO central tensor match Switch MoE with far fewer parameters; masking the central tensor's gradient helps",
                            variants: [try f.variant("dense", "vanilla"), try f.variant("Switch MoE", "switch-moe"),
                                       try f.variant("MPO MoE", "mpo-moe"), Variant(label: maskedLabel, program: masked)],
                            claims: [.notWorse("MPO MoE", than: "Switch MoE"), .fewerParameters("MPO MoE", than: "Switch MoE"),
                                     .lower("Switch MoE", than: "dense"), .lower("MPO MoE", than: "dense"),
                                     .notWorse(maskedLabel, than: "MPO MoE")])
    }

    static func altUp(_ f: SeedFiles) throws -> Reproduction {
        var same = try f.load("altup-recycled-k2")
        same.genes.altupMode = .same
        let (alternating, sameLabel) = ("Recycled-AltUp K=2 alternating", "Recycled-AltUp K=2 same")
        return Reproduction(name: "altup", summary: "AltUp (Baykal et al.): a K=2 wider residual stream improves quality at almost no extra compute",
                            variants: [try f.variant("baseline", "vanilla"), try f.variant(alternating, "altup-recycled-k2"),
                                       Variant(label: sameLabel, program: same)],
                            claims: [.lower(alternating, than: "baseline"), .lower(alternating, than: "baseline", at: .equalTime),
                                     .notWorse(alternating, than: sameLabel)])
    }

    /// One training run's measurements.
    public struct Run {
        public var variant: Int, seed: UInt64, steps: Int
        public var valLoss: Double, seconds: Double, tokensPerSecond: Double
        public var parameters: Int, flopsPerToken: Int
        /// `valLoss` in bits per byte (NaN in tables written before it was recorded).
        public var valBitsPerByte = Double.nan
        /// Per routing layer, tokens of the validation split each expert was chosen by.
        public var routing: [(name: String, chosen: [Int], dropped: Int)] = []
    }

    /// Trains every variant for every seed at `recipe.steps`, then at equal wall-clock;
    /// `progress` hears each run as it finishes.
    public func run(recipe: Recipe, seeds: [UInt64], data: Dataset, threads: Int,
                    progress: (String) -> Void = { _ in }) throws -> (equalSteps: [Run], equalTime: [Run]) {
        var equalSteps = [Run]()
        for seed in seeds {
            for v in variants.indices {
                let r = try train(v, seed: seed, steps: recipe.steps, recipe: recipe, data: data, threads: threads)
                progress(Reproduction.describe(r, variants[v].label, "equal steps"))
                equalSteps.append(r)
            }
        }
        // Equal wall-clock: the time the first variant took on average.
        let reference = Statistics.mean(equalSteps.filter { $0.variant == 0 }.map(\.seconds))
        var equalTime = [Run]()
        for v in variants.indices {
            let own = Statistics.mean(equalSteps.filter { $0.variant == v }.map(\.seconds))
            let steps = max(1, Int((Double(recipe.steps) * reference / own).rounded()))
            for seed in seeds {
                let r = v == 0 ? equalSteps.first { $0.variant == 0 && $0.seed == seed }!
                    : try train(v, seed: seed, steps: steps, recipe: recipe, data: data, threads: threads)
                if v != 0 { progress(Reproduction.describe(r, variants[v].label, "equal time")) }
                equalTime.append(r)
            }
        }
        return (equalSteps, equalTime)
    }

    func train(_ v: Int, seed: UInt64, steps: Int, recipe: Recipe, data: Dataset, threads: Int) throws -> Run {
        var r = recipe
        r.seed = seed
        r.steps = steps
        let run = try Training.Run(variants[v].program, recipe: r, data: data, threads: threads)
        let result = try run.train()
        try run.checkFinite(result)
        return Run(variant: v, seed: seed, steps: steps, valLoss: result.valLoss, seconds: result.seconds,
                   tokensPerSecond: result.tokensPerSecond, parameters: run.model.parameterCount,
                   flopsPerToken: run.cost.flopsPerToken, valBitsPerByte: result.valBitsPerByte,
                   routing: routingHistogram(run.model, run.validation))
    }

    /// Per routing layer of a trained model, tokens of the validation set each expert was
    /// chosen by, summed over replicas, and how many were dropped.
    func routingHistogram(_ model: ReplicatedModel, _ validation: ValidationSet) -> [(name: String, chosen: [Int], dropped: Int)] {
        for m in model.replicas { for (_, s) in m.routing { s.reset() } }
        _ = evaluate(model, on: validation)
        return model.primary.routing.enumerated().map { i, layer in
            let all = model.replicas.map { $0.routing[i].stats }
            return (layer.name, all.dropFirst().reduce(all[0].chosen) { zip($0, $1.chosen).map(+) }, all.map(\.dropped).reduce(0, +))
        }
    }

    static func describe(_ r: Run, _ label: String, _ kind: String) -> String {
        String(format: "%@ · seed %llu · %@: %d steps, val_loss %.4f, %.1fs, %.0f tok/s", label, r.seed, kind, r.steps,
               r.valLoss, r.seconds, r.tokensPerSecond)
    }
}
