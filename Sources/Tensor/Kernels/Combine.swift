// A weighted sum of same-shaped tensors in one pass: y = Σⱼ sⱼ · cⱼ · xⱼ, with cⱼ a learned
// scalar [1] (or 1) and sⱼ = ±1. AltUp's predictions and corrections are such sums; as
// chains of binary ops they read and wrote every block several times over.
//   xs: J tensors [...]    coefficients: J × (scalar [1] or nil)    y: [...]
final class CombineKernel<S: Scalar>: Kernel {
    let xs: [Tensor<S>], coefficients: [Tensor<S>?], signs: [S], y: Tensor<S>

    init(_ xs: [Tensor<S>], _ coefficients: [Tensor<S>?], _ signs: [S], _ y: Tensor<S>) {
        self.xs = xs; self.coefficients = coefficients; self.signs = signs; self.y = y
    }

    func weight(_ j: Int) -> S { signs[j] * (coefficients[j]?.value[0] ?? 1) }

    /// Reads every input once and writes y; backward reads dy and the inputs, writes their gradients.
    func work(backward: Bool) -> Work { .moving((xs.count + 1) * y.count * (backward ? 2 : 1), S.self) }

    @_specialize(where S == Float)
    func forward() {
        let n = y.count, out = y.value
        let w0 = weight(0), x0 = xs[0].value
        for e in 0..<n { out[e] = w0 * x0[e] }
        for j in 1..<xs.count {
            let w = weight(j), x = xs[j].value
            for e in 0..<n { out[e] += w * x[e] }
        }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad() else { return }
        let n = y.count
        for j in xs.indices {
            // dcⱼ = sⱼ · Σ xⱼ ⊙ dy, before xⱼ's gradient is touched (xⱼ may appear twice).
            if let c = coefficients[j], let dc = c.accumulatingGrad() {
                dc[0] += signs[j] * vectorDot(xs[j].value, dy, n)   // SIMD: a scalar sum does not vectorise
            }
            guard let (dx, acc) = xs[j].gradTarget() else { continue }
            let w = weight(j)
            if acc { for e in 0..<n { dx[e] += w * dy[e] } } else { for e in 0..<n { dx[e] = w * dy[e] } }
        }
    }
}

extension Graph {
    /// Σⱼ sⱼ · cⱼ · xⱼ over tensors of one shape: `terms` pairs each x with its learned
    /// scalar c ([1], or nil for 1) and whether it is subtracted.
    public func combine(_ terms: [(x: Tensor<S>, coefficient: Tensor<S>?, negated: Bool)]) -> Tensor<S> {
        check(!terms.isEmpty && terms.allSatisfy { $0.x.shape == terms[0].x.shape && ($0.coefficient?.count ?? 1) == 1 },
              "combine: terms must share one shape, coefficients be scalars: \(terms.map(\.x.shape))")
        let y = activation(terms[0].x.shape, "combine", from: terms.map(\.x) + terms.compactMap(\.coefficient))
        append(CombineKernel(terms.map(\.x), terms.map(\.coefficient), terms.map { $0.negated ? -1 : 1 }, y))
        return y
    }
}
