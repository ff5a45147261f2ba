import ArgumentParser
import Foundation
import Program

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a program file readably: each state's shape, parameters and FLOPs per token.")

    @Argument(help: "A program file: the text form, or YAML / JSON.")
    var file: String

    @Option(help: "Vocabulary size for the embedding and head (tinyshakespeare's is 65).")
    var vocabulary = 65

    func run() throws {
        try reportingErrors {
            let p = try Program.load(path: file)
            for (k, sub) in p.subprograms.enumerated() {
                print(k == 0 ? "subprogram 0 (the decoder block, input s0 \(StateShape.residual))" : "subprogram \(k)")
                // Shapes for the first call site (subprogram 0: the residual stream).
                let input = k == 0 ? StateShape.residual : firstCallInput(p, k) ?? .residual
                let shapes = (try? p.shapes(subprogram: k, input: input)) ?? []
                for (i, ins) in sub.instructions.enumerated() {
                    let line = "  s\(i + 1) = \(ins.text)"
                    let shape = i + 1 < shapes.count ? "\(shapes[i + 1])" : ""
                    print(line.padding(toLength: max(36, line.count + 2), withPad: " ", startingAt: 0) + shape)
                }
            }
            let cost = try p.cost(vocabulary: vocabulary)
            let g = p.genes
            print(keyValues([
                "program": p.name, "hash": p.hash, "layers": "\(g.layers)", "d_model": "\(g.dModel)",
                "heads": "\(g.heads)", "context": "\(g.context)",
                "params": "\(cost.parameters)", "flops_per_token": "\(cost.flopsPerToken)",
            ]))
        }
    }
}

/// The input shape of subprogram k at its first call, searching callers in order.
private func firstCallInput(_ p: Program, _ k: Int) -> StateShape? {
    for caller in 0..<k {
        guard let shapes = try? p.shapes(subprogram: caller, input: caller == 0 ? .residual : firstCallInput(p, caller) ?? .residual)
        else { continue }
        for ins in p.subprograms[caller].instructions where ins.op == .call && ins.dim == k {
            return shapes[ins.input1]
        }
    }
    return nil
}
