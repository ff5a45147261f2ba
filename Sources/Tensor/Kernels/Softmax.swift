// x, y: [R, C]   y = softmax over C. Rows may hold -inf (masked) entries; a row that is
// all -inf gives zeros rather than NaN.
final class SoftmaxKernel<S: Scalar>: Kernel {
    let x: Tensor<S>, y: Tensor<S>
    init(_ x: Tensor<S>, _ y: Tensor<S>) { self.x = x; self.y = y }

    // Row max and sum in SIMD lanes (`vectorMax`, `vectorSum`) and exp as a select over the
    // whole row, so each loop vectorises: a search's programs put SOFTMAX where attention's
    // fused kernel does not reach (a 512-wide MLP row), and the scalar loops cost a candidate
    // more than its products.
    @_specialize(where S == Float)
    func forward() {
        let c = x.channels
        for r in 0..<x.rows {
            let xr = x.value + r * c, yr = y.value + r * c
            let mx = vectorMax(xr, c)
            guard mx != -S.infinity else { for j in 0..<c { yr[j] = 0 }; continue }
            for j in 0..<c { let e = S.exp(xr[j] - mx); yr[j] = xr[j] == -S.infinity ? 0 : e }
            let sum = vectorSum(yr, c)
            for j in 0..<c { yr[j] /= sum }
        }
    }

    // dx = y ⊙ (dy − Σ dy ⊙ y)
    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad(), let (dx, acc) = x.gradTarget() else { return }
        let c = x.channels
        for r in 0..<x.rows {
            let yr = y.value + r * c, dyr = dy + r * c, dxr = dx + r * c
            let dot = vectorDot(dyr, yr, c)
            if acc {
                for j in 0..<c { dxr[j] += yr[j] * (dyr[j] - dot) }
            } else {
                for j in 0..<c { dxr[j] = yr[j] * (dyr[j] - dot) }
            }
        }
    }
}

// x, y: [..., T, T]   y[i, j] = x[i, j] for j ≤ i, −inf above the diagonal.
final class CausalMaskKernel<S: Scalar>: Kernel {
    let x: Tensor<S>, y: Tensor<S>
    init(_ x: Tensor<S>, _ y: Tensor<S>) { self.x = x; self.y = y }

    @_specialize(where S == Float)
    func forward() {
        let t = x.channels
        for r in 0..<x.rows {
            let i = r % t, xr = x.value + r * t, yr = y.value + r * t
            for j in 0..<t { yr[j] = j <= i ? xr[j] : -S.infinity }
        }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad(), let (dx, acc) = x.gradTarget() else { return }
        let t = x.channels
        for r in 0..<x.rows {
            let i = r % t
            for j in 0..<t {
                let g = j <= i ? dy[r * t + j] : 0
                if acc { dx[r * t + j] += g } else { dx[r * t + j] = g }
            }
        }
    }
}

extension Graph {
    /// Softmax over the last axis.
    public func softmax(_ x: Tensor<S>) -> Tensor<S> {
        let y = activation(x.shape, "softmax", from: [x])
        append(SoftmaxKernel(x, y))
        return y
    }

    /// Causal mask of square score matrices [..., T, T].
    public func causalMask(_ x: Tensor<S>) -> Tensor<S> {
        check(x.shape.count >= 2 && x.shape[x.shape.count - 2] == x.channels,
              "causalMask: \(x.shape) is not [..., T, T]")
        let y = activation(x.shape, "mask", from: [x])
        append(CausalMaskKernel(x, y))
        return y
    }
}
