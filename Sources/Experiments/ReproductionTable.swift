import Foundation
import Program

/// A reproduction's results as Markdown (tables, with the command, commit and machine
/// beside them, and whether each difference exceeds the seed-to-seed spread) and as CSV
/// (one row per run).
public struct ReproductionTable {
    public let reproduction: Reproduction
    public let equalSteps: [Reproduction.Run]
    public let equalTime: [Reproduction.Run]
    public let command: String
    public let commit: String
    public let machine: String

    public init(_ reproduction: Reproduction, equalSteps: [Reproduction.Run], equalTime: [Reproduction.Run],
                command: String, commit: String, machine: String) {
        self.reproduction = reproduction; self.equalSteps = equalSteps; self.equalTime = equalTime
        self.command = command; self.commit = commit; self.machine = machine
    }

    public var markdown: String {
        let labels = reproduction.variants.map(\.label)
        let seeds = Set(equalSteps.map(\.seed)).count
        var md = "# Reproduction: \(reproduction.name)\n\n"
        md += "The paper's finding: \(reproduction.summary).\n\n"
        md += "- command: `\(command)`\n- commit: `\(commit)`\n- machine: \(machine)\n"
        md += "- \(seeds) seeds; for a given seed every variant trains on the same batches.\n\n"
        let steps = equalSteps.first?.steps ?? 0
        md += "## Equal steps (\(steps))\n\n"
        md += "| variant | val_loss (mean ± std) | val_bpb | vs \(labels[0]) | params | FLOPs/token | seconds | tokens/s |\n|---|---|---|---|---|---|---|---|\n"
        for (v, label) in labels.enumerated() {
            let runs = equalSteps.filter { $0.variant == v }
            md += "| \(label) | \(meanStd(runs)) | \(bitsPerByte(runs)) | \(versus(v, equalSteps)) | \(runs[0].parameters) | \(runs[0].flopsPerToken) | "
                + String(format: "%.1f | %.0f |\n", Statistics.mean(runs.map(\.seconds)), Statistics.mean(runs.map(\.tokensPerSecond)))
        }
        let budget = Statistics.mean(equalTime.filter { $0.variant == 0 }.map(\.seconds))
        md += String(format: "\n## Equal wall-clock (%.1f s, %@'s mean time)\n\n", budget, labels[0])
        md += "| variant | steps | val_loss (mean ± std) | val_bpb | vs \(labels[0]) | seconds |\n|---|---|---|---|---|---|\n"
        for (v, label) in labels.enumerated() {
            let runs = equalTime.filter { $0.variant == v }
            md += "| \(label) | \(runs[0].steps) | \(meanStd(runs)) | \(bitsPerByte(runs)) | \(versus(v, equalTime)) | "
                + String(format: "%.1f |\n", Statistics.mean(runs.map(\.seconds)))
        }
        md += "\nval_loss is in nats per token; val_bpb is its mean in bits per UTF-8 byte of the validation text "
            + "(comparable across tokenizers; — where the runs predate it).\n"
        md += "\n\"vs\" is the mean difference in val_loss over the same seeds (negative: better), marked "
            + "**beyond spread** when larger than the larger of the two variants' seed-to-seed standard deviations.\n"
        if !reproduction.claims.isEmpty { md += "\n## The paper's claims at this scale\n\n" + claimsMarkdown }
        let routed = equalSteps.filter { !$0.routing.isEmpty && $0.seed == equalSteps[0].seed }
        if !routed.isEmpty {
            md += "\n## Routing: tokens of the validation split per expert (seed \(equalSteps[0].seed), equal steps)\n\n"
            for r in routed {
                md += "**\(labels[r.variant])**\n\n"
                for layer in r.routing {
                    let total = max(layer.chosen.reduce(0, +), 1)
                    let shares = layer.chosen.map { String(format: "%.0f", 100 * Double($0) / Double(total)) }
                    md += "- \(layer.name): % per expert [\(shares.joined(separator: " "))], dropped \(layer.dropped)\n"
                }
                md += "\n"
            }
        }
        return md
    }

    public var csv: String {
        var out = CSV.line(["comparison", "variant", "seed", "steps", "val_loss", "seconds", "tokens_per_s", "params", "flops_per_token",
                            "val_bpb"])
        for (kind, runs) in [("equal_steps", equalSteps), ("equal_time", equalTime)] {
            for r in runs {
                out += CSV.line([kind, reproduction.variants[r.variant].label, "\(r.seed)", "\(r.steps)",
                                 String(format: "%.5f", r.valLoss), String(format: "%.2f", r.seconds),
                                 String(format: "%.0f", r.tokensPerSecond), "\(r.parameters)", "\(r.flopsPerToken)",
                                 r.valBitsPerByte.isNaN ? "" : String(format: "%.5f", r.valBitsPerByte)])
            }
        }
        return out
    }

    /// The runs' mean bits per byte; — where a run has none (a table from before it was recorded).
    private func bitsPerByte(_ runs: [Reproduction.Run]) -> String {
        let bpb = runs.map(\.valBitsPerByte)
        return bpb.contains { $0.isNaN } ? "—" : String(format: "%.4f", Statistics.mean(bpb))
    }

    private func meanStd(_ runs: [Reproduction.Run]) -> String {
        String(format: "%.4f ± %.4f", Statistics.mean(runs.map(\.valLoss)), Statistics.std(runs.map(\.valLoss)))
    }

    /// The mean paired difference from variant 0, and whether it exceeds the seed spread.
    private func versus(_ v: Int, _ runs: [Reproduction.Run]) -> String {
        guard v != 0 else { return "—" }
        let (d, _, beyond) = Claim.pairedDifference(runs.filter { $0.variant == v }, runs.filter { $0.variant == 0 })
        return String(format: "%+.4f", d) + (beyond ? " **beyond spread**" : " (within spread)")
    }

    /// Each of the paper's claims with its verdict on these runs and the numbers behind it.
    public var claimsMarkdown: String {
        let labels = reproduction.variants.map(\.label)
        var md = "| claim | verdict | numbers |\n|---|---|---|\n"
        for claim in reproduction.claims {
            let runs = claim.budget == .equalSteps ? equalSteps : equalTime
            guard let v = claim.verdict(labels: labels, runs: runs) else {
                // A variant added since these runs: say so rather than drop the claim.
                md += "| \(claim.statement) | not measured yet | rerun `evolve reproduce \(reproduction.name)` |\n"
                continue
            }
            let outcome = v.outcome == .reproduces ? v.outcome.rawValue : "**\(v.outcome.rawValue)**"
            md += "| \(claim.statement) | \(outcome) | \(v.evidence) |\n"
        }
        return md + "\nNumbers: the mean paired difference in val_loss (a − b) and the seed-to-seed spread it must exceed; "
            + "for parameters, a's count against b's.\n"
    }

    /// The runs of a table's CSV (routing histograms are not in it), variants matched to
    /// `reproduction`'s by label.
    public init(_ reproduction: Reproduction, csv: String, command: String, commit: String, machine: String) throws {
        let labels = reproduction.variants.map(\.label)
        var steps = [Reproduction.Run](), time = [Reproduction.Run]()
        let records: [[String]]
        do { records = try CSV.records(csv) } catch { throw ProgramError("\(error)") }
        for (n, f) in records.enumerated().dropFirst() {
            // comparison,variant,seed,steps,val_loss,seconds,tokens_per_s,params,flops_per_token[,val_bpb]
            let bpb = f.count == 10 ? (f[9].isEmpty ? Double.nan : Double(f[9])) : Double.nan
            guard f.count == 9 || f.count == 10, let bpb, f[0] == "equal_steps" || f[0] == "equal_time", let v = labels.firstIndex(of: f[1]),
                  let seed = UInt64(f[2]), let st = Int(f[3]), let loss = Double(f[4]), let sec = Double(f[5]),
                  let tps = Double(f[6]), let params = Int(f[7]), let flops = Int(f[8]) else {
                throw ProgramError("record \(n + 1): not a run of \(reproduction.name): \(CSV.line(f).dropLast())")
            }
            let run = Reproduction.Run(variant: v, seed: seed, steps: st, valLoss: loss, seconds: sec, tokensPerSecond: tps,
                                       parameters: params, flopsPerToken: flops, valBitsPerByte: bpb)
            if f[0] == "equal_steps" { steps.append(run) } else { time.append(run) }
        }
        self.init(reproduction, equalSteps: steps, equalTime: time, command: command, commit: commit, machine: machine)
    }
}
