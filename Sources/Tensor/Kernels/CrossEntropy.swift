// logits: [N, V]    targets: [N]    loss: [1] = mean over rows of −log softmax(logits)[target]
// probs [N, V] and the per-row losses [N] are kept: backward needs the first, evaluation
// over a partly filled batch the second.
final class CrossEntropyKernel<S: Scalar>: Kernel {
    let logits: Tensor<S>, targets: IndexTensor, loss: Tensor<S>
    let n: Int, v: Int
    let probs: UnsafeMutablePointer<S>
    let rowLoss: UnsafeMutablePointer<S>

    init(_ logits: Tensor<S>, _ targets: IndexTensor, _ loss: Tensor<S>) {
        self.logits = logits; self.targets = targets; self.loss = loss
        n = logits.rows; v = logits.channels
        probs = .allocate(capacity: n * v); probs.initialize(repeating: 0, count: n * v)
        rowLoss = .allocate(capacity: n); rowLoss.initialize(repeating: 0, count: n)
    }

    deinit { probs.deallocate(); rowLoss.deallocate() }

    @_specialize(where S == Float)
    func forward() {
        loss[0] = crossEntropyForward(logits.value, targets.value, probs, rowLoss, n, v)
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dl = loss.incomingGrad(), let (dx, acc) = logits.gradTarget() else { return }
        crossEntropyBackward(probs, targets.value, dl[0] / S(n), dx, acc, n, v)
    }
}

@_specialize(where S == Float)
func crossEntropyForward<S: Scalar>(
    _ x: UnsafePointer<S>, _ targets: UnsafePointer<Int32>, _ probs: UnsafeMutablePointer<S>,
    _ rowLoss: UnsafeMutablePointer<S>, _ n: Int, _ v: Int
) -> S {
    var total: Double = 0
    for r in 0..<n {
        let xr = x + r * v, pr = probs + r * v
        let target = Int(targets[r])
        check(target >= 0 && target < v, "cross-entropy: target \(target) outside 0..<\(v)")
        var mx = xr[0]
        for j in 1..<max(v, 1) where xr[j] > mx { mx = xr[j] }
        var sum: S = 0
        for j in 0..<v { let e = S.exp(xr[j] - mx); pr[j] = e; sum += e }
        let inv = 1 / sum
        for j in 0..<v { pr[j] *= inv }
        // −log p[target] computed from the logits, not from p, so it stays finite.
        let l = S.log(sum) + mx - xr[target]
        rowLoss[r] = l
        total += Double(l)
    }
    return S(total / Double(n))
}

@_specialize(where S == Float)
func crossEntropyBackward<S: Scalar>(
    _ probs: UnsafePointer<S>, _ targets: UnsafePointer<Int32>, _ scale: S,
    _ dx: UnsafeMutablePointer<S>, _ acc: Bool, _ n: Int, _ v: Int
) {
    for r in 0..<n {
        let pr = probs + r * v, dr = dx + r * v, target = Int(targets[r])
        for j in 0..<v {
            let g = (pr[j] - (j == target ? 1 : 0)) * scale
            if acc { dr[j] += g } else { dr[j] = g }
        }
    }
}

extension Graph {
    /// Mean cross-entropy of logits [..., V] against integer targets [...] → a scalar.
    /// Returns the loss and a reader of the last forward pass's per-row losses.
    public func crossEntropy(_ logits: Tensor<S>, _ targets: IndexTensor) -> (loss: Tensor<S>, rowLosses: () -> [S]) {
        check(targets.count == logits.rows, "cross-entropy: \(targets.count) targets for \(logits.rows) rows")
        let loss = activation([1], "loss", from: [logits])
        let k = CrossEntropyKernel(logits, targets, loss)
        append(k)
        return (loss, { Array(UnsafeBufferPointer(start: k.rowLoss, count: k.n)) })
    }
}
