/// Normalisation over the channel axis: layer norm (centre and scale) or RMS norm
/// (scale only), then an optional learned gain and bias per channel.
public enum NormKind: String, Sendable {
    case layer, rms
}

// x, y: [R, C]   gain, bias: [C]   mean, rstd: [R] (saved for backward)
final class NormKernel<S: Scalar>: Kernel {
    let kind: NormKind
    let x: Tensor<S>, y: Tensor<S>, gain: Tensor<S>?, bias: Tensor<S>?
    let eps: S
    let rows: Int, c: Int
    let mean: UnsafeMutablePointer<S>, rstd: UnsafeMutablePointer<S>

    init(_ kind: NormKind, _ x: Tensor<S>, _ y: Tensor<S>, _ gain: Tensor<S>?, _ bias: Tensor<S>?, eps: S) {
        self.kind = kind; self.x = x; self.y = y; self.gain = gain; self.bias = bias; self.eps = eps
        rows = x.rows; c = x.channels
        mean = .allocate(capacity: rows); rstd = .allocate(capacity: rows)
        mean.initialize(repeating: 0, count: rows); rstd.initialize(repeating: 0, count: rows)
    }

    deinit { mean.deallocate(); rstd.deallocate() }

    /// Reads x twice (statistics, then normalising), writes y; backward reads x, dy, writes dx.
    func work(backward: Bool) -> Work { .moving(x.count * 3, S.self) }

    @_specialize(where S == Float)
    func forward() {
        normForward(kind == .layer, x.value, y.value, gain?.value, bias?.value, mean, rstd, rows, c, eps)
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad() else { return }
        if let dg = gain?.accumulatingGrad() {
            normGainGrad(x.value, dy, mean, rstd, dg, rows, c)
        }
        if let db = bias?.accumulatingGrad() {
            for r in 0..<rows { for j in 0..<c { db[j] += dy[r * c + j] } }
        }
        guard let (dx, acc) = x.gradTarget() else { return }
        normInputGrad(kind == .layer, x.value, dy, gain?.value, mean, rstd, dx, acc, rows, c)
    }
}

@_specialize(where S == Float)
func normForward<S: Scalar>(
    _ center: Bool, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>,
    _ g: UnsafePointer<S>?, _ b: UnsafePointer<S>?,
    _ mean: UnsafeMutablePointer<S>, _ rstd: UnsafeMutablePointer<S>, _ rows: Int, _ c: Int, _ eps: S
) {
    Parallel.forEach(rows, grain: 64) { range in
        for r in range {
            let xr = x + r * c, yr = y + r * c
            let mu = center ? vectorSum(xr, c) / S(c) : 0
            let rs = 1 / (vectorSquaredDeviation(xr, mu, c) / S(c) + eps).squareRoot()
            mean[r] = mu; rstd[r] = rs
            switch (g, b) {
            case let (g?, b?): for j in 0..<c { yr[j] = (xr[j] - mu) * rs * g[j] + b[j] }
            case let (g?, nil): for j in 0..<c { yr[j] = (xr[j] - mu) * rs * g[j] }
            case let (nil, b?): for j in 0..<c { yr[j] = (xr[j] - mu) * rs + b[j] }
            case (nil, nil): for j in 0..<c { yr[j] = (xr[j] - mu) * rs }
            }
        }
    }
}

@_specialize(where S == Float)
func normGainGrad<S: Scalar>(
    _ x: UnsafePointer<S>, _ dy: UnsafePointer<S>, _ mean: UnsafePointer<S>, _ rstd: UnsafePointer<S>,
    _ dg: UnsafeMutablePointer<S>, _ rows: Int, _ c: Int
) {
    // Rows split across threads, each into its own partial sum, then added in order.
    let chunks = Parallel.chunks(rows, grain: 64)
    let partial = UnsafeMutablePointer<S>.allocate(capacity: chunks * c)
    defer { partial.deallocate() }
    partial.initialize(repeating: 0, count: chunks * c)
    Parallel.forEachChunk(rows, grain: 64) { chunk, range in
        let p = partial + chunk * c
        for r in range {
            let xr = x + r * c, dyr = dy + r * c, mu = mean[r], rs = rstd[r]
            for j in 0..<c { p[j] += dyr[j] * (xr[j] - mu) * rs }
        }
    }
    for q in 0..<chunks { for j in 0..<c { dg[j] += partial[q * c + j] } }
}

// dx = rstd · (dh − mean(dh) − h · mean(dh · h)), h = normalised x, dh = dy · gain;
// layer norm keeps the mean(dh) term, RMS norm has none.
@_specialize(where S == Float)
func normInputGrad<S: Scalar>(
    _ center: Bool, _ x: UnsafePointer<S>, _ dy: UnsafePointer<S>, _ g: UnsafePointer<S>?,
    _ mean: UnsafePointer<S>, _ rstd: UnsafePointer<S>,
    _ dx: UnsafeMutablePointer<S>, _ acc: Bool, _ rows: Int, _ c: Int
) {
    Parallel.forEach(rows, grain: 64) { range in
        let scratch = UnsafeMutablePointer<S>.allocate(capacity: c)
        defer { scratch.deallocate() }
        for r in range {
            let xr = x + r * c, dyr = dy + r * c, dxr = dx + r * c, mu = mean[r], rs = rstd[r]
            // dh = dy · gain, in the scratch row first.
            let dh = scratch
            if let g { for j in 0..<c { dh[j] = dyr[j] * g[j] } } else { dh.update(from: dyr, count: c) }
            let meanDh = center ? vectorSum(dh, c) / S(c) : 0
            // Σ dh·(x − μ)·rstd = rstd·(Σ dh·x − μ·Σ dh)
            let meanDhH = rs * (vectorDot(dh, xr, c) - mu * vectorSum(dh, c)) / S(c)
            let k = rs * rs * meanDhH
            if acc {
                for j in 0..<c { dxr[j] += rs * (dh[j] - meanDh) - (xr[j] - mu) * k }
            } else {
                for j in 0..<c { dxr[j] = rs * (dh[j] - meanDh) - (xr[j] - mu) * k }
            }
        }
    }
}

extension Graph {
    /// Normalises x [..., C] over C; gain and bias are [C] parameters or nil.
    public func norm(_ kind: NormKind, _ x: Tensor<S>, gain: Tensor<S>?, bias: Tensor<S>? = nil,
                     eps: Double = 1e-5) -> Tensor<S> {
        for p in [gain, bias].compactMap({ $0 }) {
            check(p.shape == [x.channels], "norm: \(p.name) is \(p.shape), needs [\(x.channels)]")
        }
        let y = activation(x.shape, "\(kind)norm", from: [x] + [gain, bias].compactMap { $0 })
        append(NormKernel(kind, x, y, gain, bias, eps: S(eps)))
        return y
    }
}
