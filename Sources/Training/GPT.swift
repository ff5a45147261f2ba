import Tensor

/// What the trainer needs from any model: its graph, where the batch goes, and the loss.
/// The hand-built baseline below and compiled programs both produce one.
public struct ModelGraph {
    public let graph: Graph<Float>
    public let tokens: IndexTensor      // [B, T]
    public let targets: IndexTensor     // [B, T]
    public let loss: Tensor<Float>      // [1], the cross-entropy: what is reported
    /// Per-position losses of the last forward pass, [B·T].
    public let rowLosses: () -> [Float]
    /// What training minimises: the loss plus auxiliary terms, if any.
    public let objective: Tensor<Float>
    /// Routing layers' per-expert histograms, by layer name.
    public let routing: [(name: String, stats: RoutingStats)]

    public init(graph: Graph<Float>, tokens: IndexTensor, targets: IndexTensor, loss: Tensor<Float>,
                rowLosses: @escaping () -> [Float], objective: Tensor<Float>? = nil,
                routing: [(name: String, stats: RoutingStats)] = []) {
        self.graph = graph; self.tokens = tokens; self.targets = targets
        self.loss = loss; self.rowLosses = rowLosses; self.objective = objective ?? loss; self.routing = routing
    }

    public var batch: Int { tokens.shape[0] }
    public var context: Int { tokens.shape[1] }
}

/// The baseline decoder-only transformer (nanoGPT's GPT): learned positions, pre-norm
/// blocks without biases, fused causal attention, a 4x MLP, tied input/output embeddings.
/// Init N(0, std), residual projections scaled by 1/√(2·layers), norm gains 1.
public func buildGPT(_ m: ModelConfig, vocabulary: Int, batch: Int, initStd: Double, seed: UInt64) -> ModelGraph {
    let g = Graph<Float>()
    var rng = Xoshiro(seed: seed)
    let c = m.dModel, t = m.context
    let norm: NormKind = m.norm == "rms" ? .rms : .layer
    let activation: UnaryOp = switch m.activation {
        case "relu": .relu
        case "squared_relu": .squaredRelu
        case "swish": .swish
        default: .gelu
    }
    func weight(_ shape: [Int], _ name: String, std: Double = initStd) -> Tensor<Float> {
        let p = g.parameter(shape, name: name, decays: true)
        p.fillNormal(std: std, &rng)
        return p
    }
    func gain(_ name: String) -> Tensor<Float> {
        let p = g.parameter([c], name: name)
        p.fill(1)
        return p
    }
    let residualStd = initStd / (2 * Double(m.layers)).squareRoot()

    let tokens = g.indices([batch, t], name: "tokens")
    let targets = g.indices([batch, t], name: "targets")
    let wte = weight([vocabulary, c], "wte")
    let wpe = weight([t, c], "wpe")
    var x = g.add(g.embedding(tokens, wte), wpe)                     // [B, T, C]
    for l in 0..<m.layers {
        let qkv = g.matmul(g.norm(norm, x, gain: gain("h\(l).ln1")), weight([c, 3 * c], "h\(l).qkv"))
        let a = g.attention(qkv: qkv, heads: m.heads)                // [B, T, C]
        x = g.add(x, g.matmul(a, weight([c, c], "h\(l).proj", std: residualStd)))
        let u = g.unary(activation, g.matmul(g.norm(norm, x, gain: gain("h\(l).ln2")),
                                             weight([c, m.mlpRatio * c], "h\(l).up")))
        x = g.add(x, g.matmul(u, weight([m.mlpRatio * c, c], "h\(l).down", std: residualStd)))
    }
    let logits = g.matmul(g.norm(norm, x, gain: gain("ln_f")), wte, transposeW: true)  // [B, T, V]
    let (loss, rows) = g.crossEntropy(logits, targets)
    return ModelGraph(graph: g, tokens: tokens, targets: targets, loss: loss, rowLosses: rows)
}

/// The baseline over `threads` replicas (see `ReplicatedModel`).
public func replicatedGPT(_ m: ModelConfig, vocabulary: Int, recipe r: Recipe, threads: Int) -> ReplicatedModel {
    ReplicatedModel(batch: r.batchSize, threads: r.replicas ?? threads) {
        buildGPT(m, vocabulary: vocabulary, batch: $0, initStd: r.initStd, seed: r.seed)
    }
}
