import Tensor

/// Random training windows, reproducible from a seed: each row starts at a uniform offset
/// in 0..<(count − T − 1); targets are the inputs shifted by one.
public struct BatchSampler {
    private var rng: Xoshiro
    public init(seed: UInt64) { rng = Xoshiro(seed: seed) }

    public mutating func fill(_ model: ReplicatedModel, from data: [Int32]) {
        let t = model.context
        precondition(data.count > t + 1, "the training split is shorter than the context")
        data.withUnsafeBufferPointer { d in
            for row in 0..<model.batch { model.setRow(row, tokens: d, start: rng.below(data.count - t - 1)) }
        }
    }
}

/// Mean cross-entropy over the whole split cut into non-overlapping windows of the context
/// length — the same definition as the PyTorch reference, deterministic. A final partial
/// batch is padded with window 0 and the padding's losses are not counted.
public func evaluate(_ model: ReplicatedModel, on data: [Int32]) -> Double {
    let b = model.batch, t = model.context
    let windows = (data.count - 1) / t
    guard windows > 0 else { return .nan }
    var total: Double = 0
    var w = 0
    while w < windows {
        let used = min(b, windows - w)
        data.withUnsafeBufferPointer { d in
            for row in 0..<b { model.setRow(row, tokens: d, start: (row < used ? w + row : 0) * t) }
        }
        model.forward()
        let losses = model.rowLosses()
        for i in 0..<(used * t) { total += Double(losses[i]) }
        w += used
    }
    return total / Double(windows * t)
}
