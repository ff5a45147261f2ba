import Foundation
import Model
import Primitives
import Program
import Tensor

public struct CompileError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = oneLine(description) }
}

/// Program → executable model. The program is validated first (shapes are known), then
/// each instruction is lowered to engine kernels by its op's `KernelKind` (Lowering.swift),
/// with recognised patterns lowered to fused kernels (Patterns.swift).
///
/// The model around the block: token and learned position embeddings, `layers` runs of
/// subprogram 0 on the residual stream (or AltUp's K blocks), a final layer norm and the
/// tied output head — the baseline's frame, so the baseline program compiles to nanoGPT's
/// GPT exactly (same parameters, created and initialised in the same order).
public struct Compiler {
    public let program: Program
    public let vocabulary: Int

    public init(_ program: Program, vocabulary: Int) throws {
        do { try program.validate() } catch let e as ProgramError {
            throw CompileError(description: "\(program.name): \(e.description)")
        }
        self.program = program
        self.vocabulary = vocabulary
    }

    /// Refuses, in one line, a model whose training would not fit in this machine's memory
    /// (estimated from the program's shapes; nothing is allocated).
    public func checkMemory(batch: Int, available: Double = Double(ProcessInfo.processInfo.physicalMemory)) throws {
        let need = try program.memoryEstimate(batch: batch, vocabulary: vocabulary)
        guard need <= 0.8 * available else {
            throw CompileError(description: String(format: "%@: training it at batch %d needs about %.1f GB; this machine has %.1f GB",
                                                   program.name, batch, need / 1e9, available / 1e9))
        }
    }

    /// One graph of the model for `batch` rows, its parameters drawn from `seed`.
    public func build(batch: Int, initStd: Double, seed: UInt64) -> ModelGraph {
        let g = Graph<Float>()
        let c = program.genes.dModel, t = program.genes.context
        let tokens = g.indices([batch, t], name: "tokens")
        var lowering = Lowering(program: program, graph: g, rng: Xoshiro(seed: seed), initStd: initStd,
                                tokens: tokens, vocabulary: vocabulary)
        let targets = g.indices([batch, t], name: "targets")
        let wte = lowering.parameter(.embedding, [vocabulary, c], "wte")
        let wpe = lowering.parameter(.embedding, [t, c], "wpe")
        var x = g.add(g.embedding(tokens, wte), wpe)                              // [B, T, C]
        let k = program.genes.altup
        if k == 1 {
            for l in 0..<program.genes.layers {
                lowering.prefix = "h\(l)."
                x = lowering.lower(subprogram: 0, input: x)
            }
        } else {
            x = lowering.altUp(x, blocks: k)
        }
        lowering.prefix = ""
        let gain = lowering.parameter(.finalNorm, [c], "ln_f")
        let logits = g.matmul(g.norm(.layer, x, gain: gain), wte, transposeW: true)  // [B, T, V]
        let (loss, rows) = g.crossEntropy(logits, targets)
        // What training minimises: the loss plus any auxiliary terms (load balancing).
        let objective = lowering.auxLosses.reduce(loss) { g.add($0, $1) }
        return ModelGraph(graph: g, tokens: tokens, targets: targets, loss: loss, rowLosses: rows,
                          objective: objective, routing: lowering.routing, buffers: lowering.buffers)
    }

    /// The model over `threads` replicas (or `replicas`, where a recipe fixes the count).
    public func replicated(batch: Int, initStd: Double, seed: UInt64, threads: Int, replicas: Int? = nil,
                           precision: Precision = .float32) -> ReplicatedModel {
        ReplicatedModel(batch: batch, threads: replicas ?? threads, precision: precision) {
            build(batch: $0, initStd: initStd, seed: seed)
        }
    }
}
