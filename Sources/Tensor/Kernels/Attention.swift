/// A run of channels inside a [B, T, W] tensor: q, k and v may be thirds of one fused
/// projection, read in place with row stride W.
public struct ChannelSlice<S: Scalar> {
    public let tensor: Tensor<S>
    public let offset: Int
    public let width: Int
    public init(_ tensor: Tensor<S>, offset: Int = 0, width: Int? = nil) {
        self.tensor = tensor; self.offset = offset; self.width = width ?? tensor.channels
    }
    var stride: Int { tensor.channels }
}

// Causal multi-head attention, fused: per (batch, head) the scores, mask, softmax and
// weighted sum stay in one T×T tile.
//   q, k: [B, T, H·D] slices    v: [B, T, H·Dv] slice    out: [B, T, H·Dv]
//   probs:   [B, H, T, T] softmax(q kᵀ / √D) with zeros above the diagonal (saved)
final class AttentionKernel<S: Scalar>: Kernel {
    let q: ChannelSlice<S>, k: ChannelSlice<S>, v: ChannelSlice<S>
    let out: Tensor<S>
    let b: Int, t: Int, h: Int, d: Int, dv: Int
    let probs: UnsafeMutablePointer<S>

    init(_ q: ChannelSlice<S>, _ k: ChannelSlice<S>, _ v: ChannelSlice<S>, _ out: Tensor<S>, heads: Int) {
        self.q = q; self.k = k; self.v = v; self.out = out
        b = out.shape[0]; t = out.shape[1]; h = heads; d = q.width / heads; dv = v.width / heads
        probs = .allocate(capacity: b * h * t * t)
        probs.initialize(repeating: 0, count: b * h * t * t)
    }

    deinit { probs.deallocate() }

    /// q·kᵀ and probs·v over the causal blocks per (batch, head); backward makes four such products.
    func work(backward: Bool) -> Work {
        let cells = causalBlocks(t).reduce(0) { $0 + $1.rows * $1.seen }
        return Work(flops: 2 * Double(b * h * cells * (d + dv)) * (backward ? 2 : 1))
    }

    @_specialize(where S == Float)
    func forward() {
        attentionForward(q.tensor.value + q.offset, q.stride, k.tensor.value + k.offset, k.stride,
                         v.tensor.value + v.offset, v.stride, out.value, probs, b, t, h, d, dv)
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dout = out.incomingGrad() else { return }
        // q, k, v may share one storage: claim each distinct gradient buffer once.
        var claimed: [ObjectIdentifier: UnsafeMutablePointer<S>?] = [:]
        func grad(_ s: ChannelSlice<S>) -> UnsafeMutablePointer<S>? {
            let id = ObjectIdentifier(s.tensor.storage)
            if let g = claimed[id] { return g.map { $0 + s.offset } }
            let g = s.tensor.accumulatingGrad()
            claimed[id] = g
            return g.map { $0 + s.offset }
        }
        let dq = grad(q), dk = grad(k), dv = grad(v)
        attentionBackward(q.tensor.value + q.offset, q.stride, k.tensor.value + k.offset, k.stride,
                          v.tensor.value + v.offset, v.stride, dout, probs, dq, dk, dv, b, t, h, d, self.dv)
    }
}

/// The causal products' blocks of 16 rows: each starts at row `start`, has `rows` rows and
/// sees the keys 0..<seen.
func causalBlocks(_ t: Int) -> [(start: Int, rows: Int, seen: Int)] {
    stride(from: 0, to: t, by: 16).map { ($0, min(16, t - $0), min($0 + 16, t)) }
}

@_specialize(where S == Float)
func attentionForward<S: Scalar>(
    _ q: UnsafePointer<S>, _ ldq: Int, _ k: UnsafePointer<S>, _ ldk: Int,
    _ v: UnsafePointer<S>, _ ldv: Int, _ out: UnsafeMutablePointer<S>, _ probs: UnsafeMutablePointer<S>,
    _ b: Int, _ t: Int, _ h: Int, _ d: Int, _ dv: Int
) {
    let scale = 1 / S(d).squareRoot(), c = h * dv, blocks = causalBlocks(t)
    Parallel.forEach(b * h, grain: 1) { range in
        let kt = UnsafeMutablePointer<S>.allocate(capacity: d * t)
        defer { kt.deallocate() }
        for bh in range {
            let bi = bh / h, hi = bh % h
            let qh = q + bi * t * ldq + hi * d, kh = k + bi * t * ldk + hi * d
            let vh = v + bi * t * ldv + hi * dv, p = probs + bh * t * t
            transposeTile(kh, ldk, rows: t, cols: d, into: kt)
            // Causal: a block of rows sees only the keys up to its last row, so each product
            // runs over the lower-left blocks (~60% of the full tile's FLOPs). Kᵀ [D, T] is
            // laid out once per tile so that every block reads it in place, unpacked.
            for (i0, rows, seen) in blocks {
                S.gemm(false, false, rows, seen, d, scale, qh + i0 * ldq, ldq, kt, t, 0, p + i0 * t, t)  // Q Kᵀ/√D
            }
            for i in 0..<t {
                let row = p + i * t, n = i + 1   // row i sees positions 0..<n
                let mx = vectorMax(row, n)
                for j in 0..<n { row[j] = S.exp(row[j] - mx) }
                let inv = 1 / vectorSum(row, n)
                for j in 0..<n { row[j] *= inv }
                (row + n).update(repeating: 0, count: t - n)
            }
            for (i0, rows, seen) in blocks {
                S.gemm(false, false, rows, dv, seen, 1, p + i0 * t, t, vh, ldv, 0, out + (bi * t + i0) * c + hi * dv, c)  // P V
            }
        }
    }
}

// dP = dO Vᵀ;  dV += Pᵀ dO;  dS = P ⊙ (dP − rowsum(dP ⊙ P));  dQ += dS K/√D;  dK += dSᵀ Q/√D
@_specialize(where S == Float)
func attentionBackward<S: Scalar>(
    _ q: UnsafePointer<S>, _ ldq: Int, _ k: UnsafePointer<S>, _ ldk: Int,
    _ v: UnsafePointer<S>, _ ldv: Int, _ dout: UnsafePointer<S>, _ probs: UnsafePointer<S>,
    _ dq: UnsafeMutablePointer<S>?, _ dk: UnsafeMutablePointer<S>?, _ dv: UnsafeMutablePointer<S>?,
    _ b: Int, _ t: Int, _ h: Int, _ d: Int, _ dvh: Int
) {
    let scale = 1 / S(d).squareRoot(), c = h * dvh, blocks = causalBlocks(t)
    Parallel.forEach(b * h, grain: 1) { range in
        let ds = UnsafeMutablePointer<S>.allocate(capacity: t * t), vt = UnsafeMutablePointer<S>.allocate(capacity: dvh * t)
        defer { ds.deallocate(); vt.deallocate() }
        for bh in range {
            let bi = bh / h, hi = bh % h
            let qh = q + bi * t * ldq + hi * d, kh = k + bi * t * ldk + hi * d
            let vh = v + bi * t * ldv + hi * dvh, p = probs + bh * t * t
            let doh = dout + bi * t * c + hi * dvh
            if let dv {  // dV[0..<seen] += P[rows, 0..<seen]ᵀ dO[rows]
                for (i0, rows, seen) in blocks {
                    S.gemm(true, false, seen, dvh, rows, 1, p + i0 * t, t, doh + i0 * c, c, 1, dv + bi * t * ldv + hi * dvh, ldv)
                }
            }
            guard dq != nil || dk != nil else { continue }
            transposeTile(vh, ldv, rows: t, cols: dvh, into: vt)
            for (i0, rows, seen) in blocks {  // dP = dO Vᵀ over the blocks rows see
                S.gemm(false, false, rows, seen, dvh, 1, doh + i0 * c, c, vt, t, 0, ds + i0 * t, t)
            }
            for i in 0..<t {
                let pr = p + i * t, dr = ds + i * t, n = i + 1
                let dot = vectorDot(pr, dr, n)
                for j in 0..<n { dr[j] = pr[j] * (dr[j] - dot) }
                (dr + n).update(repeating: 0, count: t - n)
            }
            for (i0, rows, seen) in blocks {
                if let dq { S.gemm(false, false, rows, d, seen, scale, ds + i0 * t, t, kh, ldk, 1, dq + (bi * t + i0) * ldq + hi * d, ldq) }
                if let dk { S.gemm(true, false, seen, d, rows, scale, ds + i0 * t, t, qh + i0 * ldq, ldq, 1, dk + bi * t * ldk + hi * d, ldk) }
            }
        }
    }
}

/// x [rows × cols] (row stride ld) → y [cols × rows], contiguous.
@inline(__always)
func transposeTile<S: Scalar>(_ x: UnsafePointer<S>, _ ld: Int, rows: Int, cols: Int, into y: UnsafeMutablePointer<S>) {
    for r in 0..<rows { for c in 0..<cols { y[c * rows + r] = x[r * ld + c] } }
}

extension Graph {
    /// Causal multi-head attention over q, k, v slices of [B, T, ·] tensors → [B, T, C].
    public func attention(q: ChannelSlice<S>, k: ChannelSlice<S>, v: ChannelSlice<S>, heads: Int) -> Tensor<S> {
        check(k.width == q.width, "attention: q and k widths \(q.width), \(k.width) differ")
        check(q.width % heads == 0 && v.width % heads == 0,
              "attention: q width \(q.width) or v width \(v.width) does not split into \(heads) heads")
        for s in [q, k, v] {
            check(s.tensor.shape.count == 3 && s.offset + s.width <= s.stride
                  && s.tensor.shape.prefix(2) == q.tensor.shape.prefix(2),
                  "attention: slice of \(s.tensor.name) \(s.tensor.shape) is not [B, T, ≥\(s.offset + s.width)]")
        }
        let shape = [q.tensor.shape[0], q.tensor.shape[1], v.width]
        let out = activation(shape, "attention", from: [q.tensor, k.tensor, v.tensor])
        append(AttentionKernel(q, k, v, out, heads: heads))
        return out
    }

    /// Attention over a fused projection qkv [B, T, 3C] (q, k, v in that order).
    public func attention(qkv: Tensor<S>, heads: Int) -> Tensor<S> {
        let c = qkv.channels / 3
        return attention(q: ChannelSlice(qkv, offset: 0, width: c), k: ChannelSlice(qkv, offset: c, width: c),
                         v: ChannelSlice(qkv, offset: 2 * c, width: c), heads: heads)
    }
}
