// x, y: [R, C]   y = softmax over C. Rows may hold -inf (masked) entries; a row that is
// all -inf gives zeros rather than NaN.
final class SoftmaxKernel<S: Scalar>: Kernel {
    let x: Tensor<S>, y: Tensor<S>
    init(_ x: Tensor<S>, _ y: Tensor<S>) { self.x = x; self.y = y }

    @_specialize(where S == Float)
    func forward() {
        let c = x.channels
        for r in 0..<x.rows {
            let xr = x.value + r * c, yr = y.value + r * c
            var mx = -S.infinity
            for j in 0..<c where xr[j] > mx { mx = xr[j] }
            guard mx > -S.infinity else { for j in 0..<c { yr[j] = 0 }; continue }
            var sum: S = 0
            for j in 0..<c { let e = xr[j] == -S.infinity ? 0 : S.exp(xr[j] - mx); yr[j] = e; sum += e }
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
            var dot: S = 0
            for j in 0..<c { dot += dyr[j] * yr[j] }
            for j in 0..<c {
                let g = yr[j] * (dyr[j] - dot)
                if acc { dxr[j] += g } else { dxr[j] = g }
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
