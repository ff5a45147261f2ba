import Model

/// Mean cross-entropy over a validation set's windows — the whole split in non-overlapping
/// windows of the context, as the PyTorch reference evaluates it, or the set's fixed sample —
/// deterministic. A final partial batch is padded with the first window and the padding's
/// losses are not counted.
public func evaluate(_ model: ReplicatedModel, on set: ValidationSet) -> Double {
    evaluate(model, on: set, until: { false })!
}

/// The same, asking `stop` before every batch: nil if it said stop (so that a search stops
/// within a batch's time, even in the middle of a validation).
public func evaluate(_ model: ReplicatedModel, on set: ValidationSet, until stop: () -> Bool) -> Double? {
    let b = model.batch, t = model.context
    precondition(t == set.context, "a validation set for context \(set.context) evaluated with \(t)")
    guard !set.starts.isEmpty else { return .nan }
    var total: Double = 0
    var w = 0
    while w < set.starts.count {
        if stop() { return nil }
        let used = min(b, set.starts.count - w)
        for row in 0..<b {
            set.split.withWindow(from: set.starts[row < used ? w + row : 0], length: t + 1) { model.setRow(row, tokens: $0, start: 0) }
        }
        model.forward()
        let losses = model.rowLosses()
        for i in 0..<(used * t) { total += Double(losses[i]) }
        w += used
    }
    return total / Double(set.targets)
}

/// A fixed probe of what a model computes: each position's loss on the first `model.batch`
/// windows of `data`, and whether the model is causal — after a token in the middle of each
/// window is changed, every earlier position whose target did not change must keep its
/// loss exactly. A program that lets a position see later tokens fails this, however it
/// does it (a deleted MASK, a mixing along time without one).
public func probe(_ model: ReplicatedModel, on data: TokenSplit, vocabulary: Int) -> (losses: [Float], causal: Bool) {
    let t = model.context, b = model.batch
    // Windows wrap around a split shorter than the probe (a tiny validation split).
    var windows = (0..<b).map { w in (0...t).map { data[(w * t + $0) % data.count] } }
    func losses() -> [Float] {
        for (row, w) in windows.enumerated() { w.withUnsafeBufferPointer { model.setRow(row, tokens: $0, start: 0) } }
        model.forward()
        return model.rowLosses()
    }
    let before = losses()
    // With a one-token vocabulary no later token can differ: causal by definition.
    guard vocabulary > 1 else { return (before, true) }
    // Token p is position p's input and position p−1's target: positions < p − 1 must not move.
    let p = t / 2
    for i in windows.indices {
        // Another token of the window, else the next id.
        windows[i][p] = windows[i].first { $0 != windows[i][p] } ?? (windows[i][p] + 1) % Int32(vocabulary)
    }
    let after = losses()
    let causal = (0..<b).allSatisfy { row in
        (0..<max(0, p - 1)).allSatisfy { j in
            let x = before[row * t + j], y = after[row * t + j]
            return x == y || (x.isNaN && y.isNaN)
        }
    }
    return (before, causal)
}
