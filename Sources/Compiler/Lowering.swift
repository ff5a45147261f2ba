import Primitives
import Program
import Tensor

/// The state of one compilation: the graph being built and the parameter stream. Generic
/// over the scalar, so that the op tests can lower every op in Double and check its
/// gradients against finite differences; models train in Float.
struct Lowering<S: Scalar> {
    let program: Program
    let graph: Graph<S>
    var rng: Xoshiro
    let initStd: Double
    let tokens: IndexTensor
    let vocabulary: Int
    var prefix = ""
    private var plans: [Int: SubprogramPlan] = [:]
    /// Terms added to the training objective (Switch's load-balancing losses).
    var auxLosses: [Tensor<S>] = []
    /// Every routing layer's histogram.
    var routing: [(name: String, stats: RoutingStats)] = []
    /// Fixed, unlearned tensors (Hash routing's tables), named as parameters are.
    var buffers: [(name: String, shape: [Int], values: [Float])] = []

    init(program: Program, graph: Graph<S>, rng: Xoshiro, initStd: Double, tokens: IndexTensor, vocabulary: Int) {
        self.program = program; self.graph = graph; self.rng = rng; self.initStd = initStd
        self.tokens = tokens; self.vocabulary = vocabulary
    }

    var genes: Genes { program.genes }

    /// A parameter of `kind` for the state `name` (under the current prefix, with the kind's
    /// suffix), started and decayed as the initialisation table says.
    mutating func parameter(_ kind: ParameterKind, _ shape: [Int], _ name: String) -> Tensor<S> {
        let p = graph.parameter(shape, name: prefix + name + (kind.suffix.isEmpty ? "" : "." + kind.suffix), decays: kind.decays)
        switch kind.initialisation {
        case .normal(let std): p.fillNormal(std: std.value(initStd: initStd, layers: genes.layers), &rng)
        case .constant(let x): p.fill(S(x))
        case .mdha(let taps): for j in 0..<p.count { p[j] = S(Initialisation.mdha(j, channels: shape[1], taps: taps)) }
        }
        return p
    }

    /// The states of one subprogram run: a tensor per state, nil where a fused kernel
    /// absorbed it, and the parts of a grouped DENSE's output.
    struct States {
        var tensors: [Tensor<S>?]
        var slices: [Int: ChannelSlice<S>] = [:]
        subscript(_ s: Int) -> Tensor<S> { tensors[s]! }
        func slice(_ s: Int) -> ChannelSlice<S> { slices[s] ?? ChannelSlice(tensors[s]!) }
    }

    /// Runs subprogram k on x; returns its output.
    mutating func lower(subprogram k: Int, input x: Tensor<S>) -> Tensor<S> {
        if plans[k] == nil { plans[k] = SubprogramPlan(program.subprograms[k], isBlock: k == 0) }
        let plan = plans[k]!
        var states = States(tensors: [x])
        for (i, ins) in program.subprograms[k].instructions.enumerated() {
            states.tensors.append(plan.absorbed.contains(i) ? nil : lower(ins, at: i, plan, &states))
        }
        return states.tensors.last!!
    }

    /// Instruction i of a subprogram, by its op's kernel kind; nil when its output lives on
    /// only inside a fused kernel (a grouped DENSE's part).
    mutating func lower(_ ins: Instruction, at i: Int, _ plan: SubprogramPlan, _ states: inout States) -> Tensor<S>? {
        let g = graph, name = "s\(i + 1)"
        func a() -> Tensor<S> { states[ins.input1] }
        func b() -> Tensor<S> { states[ins.input2] }
        switch ins.op.spec.kernel {
        case .unary(let f): return g.unary(f, a())
        case .binary(let f): return g.binary(f, a(), b())
        case .reduce(let r): return g.reduce(r, a())
        case .mulConstant: return g.unary(.mulConstant(ins.constant), a())
        case .addConstant: return g.unary(.addConstant(ins.constant), a())
        case .softmax: return g.softmax(a())
        case .causalMask: return g.causalMask(a())
        case .cumSum: return g.cumSum(a())
        case .learnedScale: return g.multiply(a(), parameter(.scale, [a().channels], name))
        case .learnedShift: return g.add(a(), parameter(.shift, [a().channels], name))
        case .dense: return dense(ins, at: i, plan, &states)
        case .conv(let taps): return g.causalConv(a(), parameter(.conv(taps: taps), [taps, a().channels, width(ins)], name))
        case .depthwiseConv(let taps): return g.depthwiseConv(a(), parameter(.depthwiseConv(taps: taps), [taps, a().channels], name))
        case .scores:
            let d = Double(a().channels / genes.heads)
            return g.unary(.mulConstant(1 / d.squareRoot()), g.batchedMatmul(heads(a()), heads(b()), transB: true))
        case .attend:
            if let (q, k, v) = plan.attention[i] {
                return g.attention(q: states.slice(q), k: states.slice(k), v: states.slice(v), heads: genes.heads)
            }
            let o = g.batchedMatmul(a(), heads(b()))                                   // [B, H, T, D]
            return g.reshape(g.transpose(o, 1, 2), b().shape)
        case .call:
            if let kind = Pattern.norm(program, ins.dim) {
                return g.norm(kind, a(), gain: parameter(.normGain, [a().channels], name))
            }
            // A called subprogram's parameters are named under its call site ("h0.s11.s9.scale"),
            // so two calls of one subprogram never make two parameters of one name.
            let outer = prefix
            prefix += name + "."
            let y = lower(subprogram: ins.dim, input: a())
            prefix = outer
            return y
        case .sparseFFN:
            return sparseFFN(a(), block: width(ins), name + ".ffn", residual: plan.residualProjections.contains(i))
        }
    }

    /// A DENSE: alone, one GEMM; in a group feeding fused attention, one GEMM for the whole
    /// group (made at its first member), each member a slice of it.
    private mutating func dense(_ ins: Instruction, at i: Int, _ plan: SubprogramPlan, _ states: inout States) -> Tensor<S>? {
        let x = states[ins.input1], w = width(ins), name = "s\(i + 1)"
        guard let first = plan.groupOf[i] else {
            return graph.matmul(x, parameter(.dense(residual: plan.residualProjections.contains(i)), [x.channels, w], name))
        }
        if first == i {
            let members = plan.denseGroups[first]!
            let fused = graph.matmul(x, parameter(.dense(residual: false), [x.channels, w * members.count], name))
            for (n, m) in members.enumerated() { states.slices[m + 1] = ChannelSlice(fused, offset: n * w, width: w) }
        }
        return nil
    }

    /// An instruction's `dim` in channels.
    func width(_ ins: Instruction) -> Int { ins.dim * genes.dModel / 8 }

    /// [B, T, W] → [B, H, T, W/H].
    func heads(_ x: Tensor<S>) -> Tensor<S> {
        let h = genes.heads
        return graph.transpose(graph.reshape(x, [x.shape[0], x.shape[1], h, x.channels / h]), 1, 2)
    }
}
