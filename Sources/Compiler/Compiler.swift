import Program
import Tensor
import Training

public struct CompileError: Error, CustomStringConvertible {
    public let description: String
}

/// Program → executable model. The program is validated first (shapes are known), then
/// each instruction is lowered to engine ops, with recognised patterns lowered to fused
/// kernels: layer / RMS norm subprograms, T_MAT_MUL → MASK → SOFTMAX → MAT_MUL chains (to
/// fused attention), and the DENSEs that feed one attention (to one GEMM).
///
/// The model around the block: token and learned position embeddings, `layers` runs of
/// subprogram 0 on the residual stream, a final layer norm and the tied output head —
/// the baseline's frame, so the vanilla seed compiles to the baseline exactly (same
/// parameters, created and initialised in the same order).
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

    /// One graph of the model for `batch` rows, its parameters drawn from `seed`.
    public func build(batch: Int, initStd: Double, seed: UInt64) -> ModelGraph {
        let g = Graph<Float>()
        let c = program.genes.dModel, t = program.genes.context
        let tokens = g.indices([batch, t], name: "tokens")
        var lowering = Lowering(program: program, graph: g, rng: Xoshiro(seed: seed), initStd: initStd,
                                tokens: tokens, vocabulary: vocabulary)
        let targets = g.indices([batch, t], name: "targets")
        let wte = lowering.weight([vocabulary, c], "wte", std: initStd)
        let wpe = lowering.weight([t, c], "wpe", std: initStd)
        var x = g.add(g.embedding(tokens, wte), wpe)
        let k = program.genes.altup
        if k == 1 {
            for l in 0..<program.genes.layers {
                lowering.prefix = "h\(l)."
                x = lowering.lower(subprogram: 0, input: x)
            }
        } else {
            x = lowering.altUp(x, blocks: k)
        }
        let gain = g.parameter([c], name: "ln_f")
        gain.fill(1)
        let logits = g.matmul(g.norm(.layer, x, gain: gain), wte, transposeW: true)
        let (loss, rows) = g.crossEntropy(logits, targets)
        // What training minimises: the loss plus any auxiliary terms (load balancing).
        let objective = lowering.auxLosses.reduce(loss) { g.add($0, $1) }
        return ModelGraph(graph: g, tokens: tokens, targets: targets, loss: loss, rowLosses: rows,
                          objective: objective, routing: lowering.routing)
    }

    /// The model over `threads` replicas (or the recipe's count).
    public func replicated(recipe r: Recipe, threads: Int) -> ReplicatedModel {
        ReplicatedModel(batch: r.batchSize, threads: r.replicas ?? threads) { build(batch: $0, initStd: r.initStd, seed: r.seed) }
    }
}

/// The state of one compilation: the graph being built and the parameter stream.
struct Lowering {
    let program: Program
    let graph: Graph<Float>
    var rng: Xoshiro
    let initStd: Double
    let tokens: IndexTensor
    let vocabulary: Int
    var prefix = ""
    private var plans: [Int: SubprogramPlan] = [:]
    /// Terms added to the training objective (Switch's load-balancing losses).
    var auxLosses: [Tensor<Float>] = []
    /// Every routing layer's histogram.
    var routing: [(name: String, stats: RoutingStats)] = []

    init(program: Program, graph: Graph<Float>, rng: Xoshiro, initStd: Double, tokens: IndexTensor, vocabulary: Int) {
        self.program = program; self.graph = graph; self.rng = rng; self.initStd = initStd
        self.tokens = tokens; self.vocabulary = vocabulary
    }

    var genes: Genes { program.genes }

    mutating func weight(_ shape: [Int], _ name: String, std: Double) -> Tensor<Float> {
        let p = graph.parameter(shape, name: prefix + name, decays: true)
        p.fillNormal(std: std, &rng)
        return p
    }

    mutating func vector(_ width: Int, _ name: String, fill: Float) -> Tensor<Float> {
        let p = graph.parameter([width], name: prefix + name)
        p.fill(fill)
        return p
    }

    /// Runs subprogram k on x; returns its output.
    mutating func lower(subprogram k: Int, input x: Tensor<Float>) -> Tensor<Float> {
        let sub = program.subprograms[k]
        if plans[k] == nil { plans[k] = SubprogramPlan(sub, isBlock: k == 0) }
        let plan = plans[k]!
        var states: [Tensor<Float>?] = [x]
        var slices: [Int: ChannelSlice<Float>] = [:]     // state → its part of a grouped DENSE
        let g = graph
        for (i, ins) in sub.instructions.enumerated() {
            let name = "s\(i + 1)"
            if plan.absorbed.contains(i) { states.append(nil); continue }
            func input(_ s: Int) -> Tensor<Float> { states[s]! }
            let a = states[ins.input1]   // nil when absorbed into a fused kernel
            let out: Tensor<Float>?
            switch ins.op {
            case .add, .difference, .multiply, .divide, .max, .min:
                let ops: [Op: BinaryOp] = [.add: .add, .difference: .subtract, .multiply: .multiply,
                                           .divide: .divide, .max: .max, .min: .min]
                out = g.binary(ops[ins.op]!, a!, input(ins.input2))
            case .absRoot, .square, .exp, .log, .abs, .recip, .sign, .cos, .sin, .tanh, .sigmoid,
                 .relu, .gelu, .swish, .cMul, .cAdd:
                out = g.unary(Lowering.unary(ins), a!)
            case .softmax: out = g.softmax(a!)
            case .mask: out = g.causalMask(a!)
            case .cumSum: out = g.cumSum(a!)
            case .scale: out = g.multiply(a!, vector(a!.channels, name + ".scale", fill: 1))
            case .shift: out = g.add(a!, vector(a!.channels, name + ".shift", fill: 0))
            case .reduceSum: out = g.reduce(.sum, a!)
            case .reduceMean: out = g.reduce(.mean, a!)
            case .reduceMax: out = g.reduce(.max, a!)
            case .dense:
                let width = ins.dim * genes.dModel / 8
                if let first = plan.groupOf[i] {
                    // One GEMM for the group, created at its first member.
                    if first == i {
                        let members = plan.denseGroups[first]!
                        let w = weight([a!.channels, width * members.count], name + ".dense", std: initStd)
                        let fused = g.matmul(a!, w)
                        for (n, m) in members.enumerated() { slices[m + 1] = ChannelSlice(fused, offset: n * width, width: width) }
                    }
                    out = nil
                } else {
                    let residual = plan.residualProjections.contains(i)
                    let std = residual ? initStd / (2 * Double(genes.layers)).squareRoot() : initStd
                    out = g.matmul(a!, weight([a!.channels, width], name + ".dense", std: std))
                }
            case .sparseFFN:
                out = sparseFFN(a!, block: ins.dim * genes.dModel / 8, name + ".ffn",
                                residual: plan.residualProjections.contains(i))
            case .dconv3, .dconv7, .dconv15, .dconv31:
                // Primer's MDHA init: the current position 0.5, each earlier tap 0.5/width.
                let taps = ins.op.convWidth!
                let w = graph.parameter([taps, a!.channels], name: prefix + name + ".dconv")
                for j in 0..<w.count { w[j] = j < a!.channels ? 0.5 : Float(0.5 / Double(taps)) }
                out = g.depthwiseConv(a!, w)
            case .tMatMul:
                let (q, k) = (heads(a!), heads(input(ins.input2)))          // [B, H, T, D]
                let d = Double(a!.channels / genes.heads)
                out = g.unary(.mulConstant(1 / d.squareRoot()), g.batchedMatmul(q, k, transB: true))
            case .matMul:
                if let (q, k, v) = plan.attention[i] {
                    func slice(_ s: Int) -> ChannelSlice<Float> { slices[s] ?? ChannelSlice(states[s]!) }
                    out = g.attention(q: slice(q), k: slice(k), v: slice(v), heads: genes.heads)
                } else {
                    let v = input(ins.input2)
                    let o = g.batchedMatmul(a!, heads(v))                       // [B, H, T, D]
                    out = g.reshape(g.transpose(o, 1, 2), v.shape)
                }
            case .call:
                if let kind = Lowering.norm(program, ins.dim) {
                    out = g.norm(kind, a!, gain: vector(a!.channels, name + ".norm", fill: 1))
                } else {
                    out = lower(subprogram: ins.dim, input: a!)
                }
            case .conv3, .conv7, .conv15, .conv31:
                // Causal convolution mixing channels; init N(0, std/√W) keeps the output scale of a DENSE.
                let taps = ins.op.convWidth!, width = ins.dim * genes.dModel / 8
                let w = weight([taps, a!.channels, width], name + ".conv", std: initStd / Double(taps).squareRoot())
                out = g.causalConv(a!, w)
            }
            states.append(out)
        }
        return states.last!!
    }

    /// Recycled AltUp (Baykal et al. 2023): the embedding replicated into K blocks; per
    /// layer, learned scalars predict every block from all blocks (x̂ⁱ = Σⱼ pᵢⱼ xʲ), the block
    /// runs on block j* alone (x̃), and a learned gain corrects each prediction:
    /// yⁱ = x̂ⁱ + gᵢ·(x̃ − x̂ʲ*). The K blocks are averaged before the final norm. With p = I
    /// and g = 1 at init, every block equals the baseline's stream.
    mutating func altUp(_ x: Tensor<Float>, blocks k: Int) -> Tensor<Float> {
        let g = graph
        var blocks = Array(repeating: x, count: k)
        for l in 0..<genes.layers {
            prefix = "h\(l)."
            let star = genes.altupMode == .alternating ? l % k : 0
            var predicted = [Tensor<Float>]()
            for i in 0..<k {
                var sum: Tensor<Float>?
                for j in 0..<k {
                    let p = graph.parameter([1], name: prefix + "altup.p\(i)\(j)")
                    p.fill(i == j ? 1 : 0)
                    let term = g.multiply(blocks[j], p)
                    sum = sum.map { g.add($0, term) } ?? term
                }
                predicted.append(sum!)
            }
            let computed = lower(subprogram: 0, input: blocks[star])
            let delta = g.binary(.subtract, computed, predicted[star])
            blocks = (0..<k).map { i in
                let gain = graph.parameter([1], name: prefix + "altup.g\(i)")
                gain.fill(1)
                return g.add(predicted[i], g.multiply(delta, gain))
            }
        }
        return g.unary(.mulConstant(1 / Double(k)), blocks.dropFirst().reduce(blocks[0]) { g.add($0, $1) })
    }

    /// [B, T, W] → [B, H, T, W/H].
    private func heads(_ x: Tensor<Float>) -> Tensor<Float> {
        let h = genes.heads
        return graph.transpose(graph.reshape(x, [x.shape[0], x.shape[1], h, x.channels / h]), 1, 2)
    }

    /// The fused norm a called subprogram is, if it is exactly one.
    static func norm(_ p: Program, _ k: Int) -> NormKind? {
        guard let body = Pattern.canonicalBody(p, k) else { return nil }
        if body == Pattern.layerNorm { return .layer }
        if body == Pattern.rmsNorm { return .rms }
        return nil
    }

    static func unary(_ ins: Instruction) -> UnaryOp {
        switch ins.op {
        case .absRoot: return .absRoot
        case .square: return .square
        case .exp: return .exp
        case .log: return .logAbs
        case .abs: return .abs
        case .recip: return .reciprocal
        case .sign: return .sign
        case .cos: return .cos
        case .sin: return .sin
        case .tanh: return .tanh
        case .sigmoid: return .sigmoid
        case .relu: return .relu
        case .gelu: return .gelu
        case .swish: return .swish
        case .cMul: return .mulConstant(ins.constant)
        case .cAdd: return .addConstant(ins.constant)
        default: fatalError("\(ins.op) is not a unary op")
        }
    }
}
