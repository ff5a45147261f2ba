import Foundation
import Primitives
import Training

/// A scaling comparison's results as Markdown (final losses and compute speedups per size,
/// with the command, commit and machine beside them) and as CSV (one row per checkpoint of
/// every run): the twin of `ReproductionTable` for `Scaling`. The plot is drawn by the
/// command line, which holds the charts.
public struct ScalingTable {
    public let scaling: Scaling
    public let runs: [Scaling.Run]
    public let recipe: Recipe
    public let seeds: [UInt64]
    public let command: String, commit: String, machine: String
    /// Lines the header adds (where runs read from an earlier table came from).
    public let notes: [String]

    public init(scaling: Scaling, runs: [Scaling.Run], recipe: Recipe, seeds: [UInt64], command: String, commit: String,
                machine: String, notes: [String] = []) {
        self.scaling = scaling; self.runs = runs; self.recipe = recipe; self.seeds = seeds
        self.command = command; self.commit = commit; self.machine = machine; self.notes = notes
    }

    /// Program `p`'s seed-mean curve at size `s`.
    public func curve(_ p: Int, _ s: Int) -> [(flops: Double, loss: Double)] {
        Scaling.meanCurve(runs.filter { $0.program == p && $0.size == s })
    }

    /// Per size, the last program's speedup over the first.
    public var speedups: [(size: String, value: Double?)] {
        scaling.sizes.indices.map { s in
            ("\(scaling.sizes[s].dModel)", ComputeSpeedup.of(curve(scaling.programs.count - 1, s), over: curve(0, s)))
        }
    }

    public func markdown(plot: String) -> String {
        let reference = scaling.programs[0].name
        var md = "# Scaling: \(scaling.programs.map(\.name).joined(separator: " vs "))\n\n"
        md += "- command: `\(command)`\n- commit: `\(commit)`\n- machine: \(machine)\n"
        md += notes.map { "- \($0)\n" }.joined()
        md += "- recipe: \(recipe.steps) steps, batch \(recipe.batchSize), seeds \(seeds.map(String.init).joined(separator: ", ")); "
        md += "validation loss on the whole split at \(scaling.checkpoints) checkpoints\n\n"
        md += "Compute speedup: the ratio of the training FLOPs the reference (\(reference)) and a program need to reach "
        md += "the worse of their two final losses, read off their seed-mean curves (log-FLOPs interpolation). > 1: the program needs less.\n\n"
        md += "| size | program | params | FLOPs/token | final val_loss (mean ± sd) | speedup over \(reference) |\n|---|---|---|---|---|---|\n"
        for s in scaling.sizes.indices {
            for p in scaling.programs.indices {
                let mine = runs.filter { $0.program == p && $0.size == s }
                let finals = mine.map { $0.curve.last!.loss }
                let speedup = p == 0 ? "1 (reference)" : ComputeSpeedup.of(curve(p, s), over: curve(0, s)).map { String(format: "%.2fx", $0) } ?? "n/a"
                md += "| \(scaling.sizes[s]) | \(scaling.programs[p].name) | \(mine.first?.parameters ?? 0) | \(mine.first?.flopsPerToken ?? 0) | "
                md += String(format: "%.4f ± %.4f", Statistics.mean(finals), Statistics.std(finals)) + " | \(speedup) |\n"
            }
        }
        return md + "\n![validation loss against training FLOPs](\(plot))\n"
    }

    public var csv: String {
        var out = CSV.line(Scaling.csvHeader)
        for r in runs {
            let size = scaling.sizes[r.size]
            for point in r.curve {
                out += CSV.line([scaling.programs[r.program].name, "\(size)", "\(size.dModel)", "\(size.layers)", "\(r.seed)",
                                 "\(r.parameters)", "\(r.flopsPerToken)", "\(point.flops)", "\(point.loss)",
                                 "\(recipe.steps)", "\(recipe.batchSize)", recipe.products.rawValue])
            }
        }
        return out
    }
}
