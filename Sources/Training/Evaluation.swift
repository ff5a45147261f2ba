import Model

/// Mean cross-entropy over the whole split cut into non-overlapping windows of the context
/// length — the same definition as the PyTorch reference, deterministic. A final partial
/// batch is padded with window 0 and the padding's losses are not counted.
public func evaluate(_ model: ReplicatedModel, on data: TokenSplit) -> Double {
    evaluate(model, on: data, until: { false })!
}

/// The same, asking `stop` before every batch: nil if it said stop (so that a search stops
/// within a batch's time, even in the middle of a validation).
public func evaluate(_ model: ReplicatedModel, on data: TokenSplit, until stop: () -> Bool) -> Double? {
    let b = model.batch, t = model.context
    let windows = (data.count - 1) / t
    guard windows > 0 else { return .nan }
    var total: Double = 0
    var w = 0
    while w < windows {
        if stop() { return nil }
        let used = min(b, windows - w)
        for row in 0..<b {
            data.withWindow(from: (row < used ? w + row : 0) * t, length: t + 1) { model.setRow(row, tokens: $0, start: 0) }
        }
        model.forward()
        let losses = model.rowLosses()
        for i in 0..<(used * t) { total += Double(losses[i]) }
        w += used
    }
    return total / Double(windows * t)
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
