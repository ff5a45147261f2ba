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
    /// Fixed tensors the model computes with that are not learned (Hash routing's tables),
    /// by name: a checkpoint keeps them beside the weights, for other frameworks to load.
    public let buffers: [(name: String, shape: [Int], values: [Float])]

    public init(graph: Graph<Float>, tokens: IndexTensor, targets: IndexTensor, loss: Tensor<Float>,
                rowLosses: @escaping () -> [Float], objective: Tensor<Float>? = nil,
                routing: [(name: String, stats: RoutingStats)] = [], buffers: [(name: String, shape: [Int], values: [Float])] = []) {
        self.graph = graph; self.tokens = tokens; self.targets = targets
        self.loss = loss; self.rowLosses = rowLosses; self.objective = objective ?? loss; self.routing = routing
        self.buffers = buffers
    }

    public var batch: Int { tokens.shape[0] }
    public var context: Int { tokens.shape[1] }
}
