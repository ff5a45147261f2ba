// Causal depthwise convolution along time, one filter per channel:
//   y[b, t, c] = Σ_s w[s, c] · x[b, t − s, c]      (x[t < 0] = 0)
//   x, y: [B, T, C]    w: [W, C]   (Primer's MDHA uses W = 3; the IR offers 3, 7, 15, 31)
final class DepthwiseConvKernel<S: Scalar>: Kernel {
    let x: Tensor<S>, w: Tensor<S>, y: Tensor<S>
    init(_ x: Tensor<S>, _ w: Tensor<S>, _ y: Tensor<S>) { self.x = x; self.w = w; self.y = y }

    @_specialize(where S == Float)
    func forward() {
        depthwiseForward(x.value, w.value, y.value, x.shape[0], x.shape[1], x.channels, w.shape[0])
    }

    // dx[t, c] = Σ_s w[s, c] · dy[t + s, c];   dw[s, c] = Σ_{b,t} dy[t, c] · x[t − s, c]
    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad() else { return }
        let b = x.shape[0], t = x.shape[1], c = x.channels, width = w.shape[0]
        if let dw = w.accumulatingGrad() {
            for bi in 0..<b {
                for ti in 0..<t {
                    let dyr = dy + (bi * t + ti) * c
                    for s in 0..<Swift.min(width, ti + 1) {
                        let xr = x.value + (bi * t + ti - s) * c, dwr = dw + s * c
                        for j in 0..<c { dwr[j] += dyr[j] * xr[j] }
                    }
                }
            }
        }
        if let dx = x.accumulatingGrad() {
            for bi in 0..<b {
                for ti in 0..<t {
                    let dxr = dx + (bi * t + ti) * c
                    for s in 0..<Swift.min(width, t - ti) {
                        let dyr = dy + (bi * t + ti + s) * c, wr = w.value + s * c
                        for j in 0..<c { dxr[j] += wr[j] * dyr[j] }
                    }
                }
            }
        }
    }
}

@_specialize(where S == Float)
func depthwiseForward<S: Scalar>(
    _ x: UnsafePointer<S>, _ w: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>,
    _ b: Int, _ t: Int, _ c: Int, _ width: Int
) {
    Parallel.forEach(b * t, grain: 64) { rows in
        for r in rows {
            let ti = r % t, yr = y + r * c
            for j in 0..<c { yr[j] = 0 }
            for s in 0..<Swift.min(width, ti + 1) {
                let xr = x + (r - s) * c, wr = w + s * c
                for j in 0..<c { yr[j] += wr[j] * xr[j] }
            }
        }
    }
}

extension Graph {
    /// x [B, T, C] convolved causally along T with w [W, C].
    public func depthwiseConv(_ x: Tensor<S>, _ w: Tensor<S>) -> Tensor<S> {
        check(x.shape.count == 3 && w.shape.count == 2 && w.channels == x.channels,
              "depthwiseConv: input \(x.shape) and filter \(w.shape) must be [B, T, C] and [W, C]")
        let y = activation(x.shape, "dconv", from: [x, w])
        append(DepthwiseConvKernel(x, w, y))
        return y
    }
}

// Running sum along time:  y[b, t, c] = Σ_{s ≤ t} x[b, s, c]      x, y: [B, T, C]
// Backward: dx[b, t, c] = Σ_{s ≥ t} dy[b, s, c].
final class CumSumKernel<S: Scalar>: Kernel {
    let x: Tensor<S>, y: Tensor<S>
    init(_ x: Tensor<S>, _ y: Tensor<S>) { self.x = x; self.y = y }

    @_specialize(where S == Float)
    func forward() {
        let b = x.shape[0], t = x.shape[1], c = x.channels
        for bi in 0..<b {
            copy(y.value + bi * t * c, x.value + bi * t * c, c)
            for ti in 1..<t {
                let yr = y.value + (bi * t + ti) * c, prev = yr - c, xr = x.value + (bi * t + ti) * c
                for j in 0..<c { yr[j] = prev[j] + xr[j] }
            }
        }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad(), let dx = x.accumulatingGrad() else { return }
        let b = x.shape[0], t = x.shape[1], c = x.channels
        let running = UnsafeMutablePointer<S>.allocate(capacity: c)
        defer { running.deallocate() }
        for bi in 0..<b {
            zero(running, c)
            for ti in stride(from: t - 1, through: 0, by: -1) {
                let o = (bi * t + ti) * c
                for j in 0..<c { running[j] += dy[o + j]; dx[o + j] += running[j] }
            }
        }
    }
}

extension Graph {
    /// Running sum of x [B, T, C] along T.
    public func cumSum(_ x: Tensor<S>) -> Tensor<S> {
        check(x.shape.count == 3, "cumSum: \(x.shape) is not [B, T, C]")
        let y = activation(x.shape, "cumsum", from: [x])
        append(CumSumKernel(x, y))
        return y
    }
}

// Causal convolution along time mixing channels:
//   y[b, t, :] = Σ_s x[b, t − s, :] · w[s]        x: [B, T, I]   w: [W, I, O]   y: [B, T, O]
// One GEMM per tap and sequence, on the rows the tap reaches (t ≥ s).
final class CausalConvKernel<S: Scalar>: Kernel {
    let x: Tensor<S>, w: Tensor<S>, y: Tensor<S>
    init(_ x: Tensor<S>, _ w: Tensor<S>, _ y: Tensor<S>) { self.x = x; self.w = w; self.y = y }

    var dims: (b: Int, t: Int, i: Int, o: Int, taps: Int) { (x.shape[0], x.shape[1], x.channels, y.channels, w.shape[0]) }

    @_specialize(where S == Float)
    func forward() {
        let (b, t, i, o, taps) = dims
        zero(y.value, y.count)
        for bi in 0..<b {
            for s in 0..<Swift.min(taps, t) {
                S.gemm(false, false, t - s, o, i, 1, x.value + bi * t * i, i, w.value + s * i * o, o,
                       1, y.value + (bi * t + s) * o, o)
            }
        }
    }

    // dx[t − s] += dy[t] · w[s]ᵀ;   dw[s] += x[t − s]ᵀ · dy[t]
    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad() else { return }
        let (b, t, i, o, taps) = dims
        let dw = w.accumulatingGrad(), dx = x.accumulatingGrad()
        for bi in 0..<b {
            for s in 0..<Swift.min(taps, t) {
                let dyr = dy + (bi * t + s) * o
                if let dx { S.gemm(false, true, t - s, i, o, 1, dyr, o, w.value + s * i * o, o, 1, dx + bi * t * i, i) }
                if let dw { S.gemm(true, false, i, o, t - s, 1, x.value + bi * t * i, i, dyr, o, 1, dw + s * i * o, o) }
            }
        }
    }
}

extension Graph {
    /// x [B, T, I] convolved causally along T with w [W, I, O] → [B, T, O].
    public func causalConv(_ x: Tensor<S>, _ w: Tensor<S>) -> Tensor<S> {
        check(x.shape.count == 3 && w.shape.count == 3 && w.shape[1] == x.channels,
              "causalConv: input \(x.shape) and filter \(w.shape) must be [B, T, I] and [W, I, O]")
        let y = activation([x.shape[0], x.shape[1], w.shape[2]], "conv", from: [x, w])
        append(CausalConvKernel(x, w, y))
        return y
    }
}
