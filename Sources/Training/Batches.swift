import Model
import Primitives
import Tensor

/// Random training windows, reproducible from a seed: each row starts at a uniform offset
/// in 0..<(count − T − 1); targets are the inputs shifted by one.
public struct BatchSampler {
    private var rng: Xoshiro
    public init(seed: UInt64) { rng = Xoshiro(seed: seed) }

    /// Where the stream stands (a checkpoint keeps it).
    public var state: [UInt64] {
        get { rng.state }
        set { rng.state = newValue }
    }

    public mutating func fill(_ model: ReplicatedModel, from data: TokenSplit) {
        let t = model.context
        precondition(data.count > t + 1, "the training split is shorter than the context")
        for row in 0..<model.batch {
            data.withWindow(from: rng.below(data.count - t - 1), length: t + 1) { model.setRow(row, tokens: $0, start: 0) }
        }
    }
}
