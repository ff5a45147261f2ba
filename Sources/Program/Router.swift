/// How a sparse feed-forward layer picks blocks: Switch (a learned softmax router, gated,
/// with the load-balancing loss), Hash (a fixed table over token ids), Avg-K (the blocks
/// whose mean key best matches the token; no gate, no extra loss).
public enum Router: String, Hashable, Codable, Sendable, CaseIterable {
    case `switch`, hash, avgk

    /// The router's row of the router table.
    public var spec: RouterSpec {
        switch self {
        case .switch: return RouterSpec(scoresBlocks: true, learnedWeights: true, gated: true, balancingLoss: true, tokenTable: false)
        case .hash: return RouterSpec(scoresBlocks: false, learnedWeights: false, gated: false, balancingLoss: false, tokenTable: true)
        case .avgk: return RouterSpec(scoresBlocks: true, learnedWeights: false, gated: false, balancingLoss: false, tokenTable: false)
        }
    }

    /// "switch, hash or avgk", for errors.
    public static var names: String {
        let all = allCases.map(\.rawValue)
        return all.dropLast().joined(separator: ", ") + " or " + all.last!
    }
}

/// What a router is made of, in the style of the op table: the cost model reads it, the
/// compiler's lowering and the PyTorch writer switch over `Router` exhaustively (a new
/// router is a build error until both back ends compute it), and the parity test trains
/// every router through both.
public struct RouterSpec: Sendable, Equatable {
    /// Scores each token against every block (a [C, E] product per token): Switch against
    /// its router weights, Avg-K against the blocks' mean keys.
    public let scoresBlocks: Bool
    /// Owns a [C, E] weight of its own (Switch's router).
    public let learnedWeights: Bool
    /// Scales a block's output by the router's probability.
    public let gated: Bool
    /// Adds the load-balancing loss 0.01·E·Σᵢ fᵢ·Pᵢ to the objective.
    public let balancingLoss: Bool
    /// Routes by a fixed random table over token ids (a buffer, not a parameter).
    public let tokenTable: Bool
}
