/// q, k and v of one attention, read in place from their [B, T, ·] tensors, and the shape.
struct AttentionOperands<S: Scalar> {
    let q: UnsafePointer<S>, ldq: Int
    let k: UnsafePointer<S>, ldk: Int
    let v: UnsafePointer<S>, ldv: Int
    let b: Int, t: Int, h: Int, d: Int, dv: Int
    var scale: S { 1 / S(d).squareRoot() }

    /// Where head `bh` (batch bh / h, head bh % h) starts in q, k and v.
    func head(_ bh: Int) -> (q: UnsafePointer<S>, k: UnsafePointer<S>, v: UnsafePointer<S>) {
        let bi = bh / h, hi = bh % h
        return (q + bi * t * ldq + hi * d, k + bi * t * ldk + hi * d, v + bi * t * ldv + hi * dv)
    }
}

/// One thread's copy of a (batch, head) tile, laid out for the fused kernel's block
/// products: rows padded to a whole block (16), widths to whole vectors (8), the padding
/// zero, so that every product runs in full 4-row groups and 8-wide columns. Q is stored
/// times 1/√D, so that its products give the scaled scores directly. A tile is O(T·D);
/// the T×T scores exist only a 16-row strip (forward) or a 16×16 block (backward) at a time.
struct AttentionTiles<S: Scalar> {
    static var block: Int { 16 }
    let t: Int, tp: Int, d: Int, dp: Int, dv: Int, dvp: Int
    let q: UnsafeMutablePointer<S>      // [tp × dp], scaled
    let k: UnsafeMutablePointer<S>      // [tp × dp]
    let kt: UnsafeMutablePointer<S>     // [d × tp]
    let v: UnsafeMutablePointer<S>      // [tp × dvp]
    let vt: UnsafeMutablePointer<S>     // [dv × tp]
    let dout: UnsafeMutablePointer<S>   // [tp × dvp]
    let dq: UnsafeMutablePointer<S>     // [tp × dp], Σ dS·K before the scale
    let dk: UnsafeMutablePointer<S>     // [16 × dp], one key block's
    let dvAcc: UnsafeMutablePointer<S>  // [16 × dvp]; forward: the query block's output
    let s: UnsafeMutablePointer<S>      // [16 × 16] backward: a block's probabilities
    let wide: UnsafeMutablePointer<S>   // [16 × tp] forward: a query block's scores, then probabilities
    let ds: UnsafeMutablePointer<S>     // [16 × 16] dP, then dS
    let rows: UnsafeMutablePointer<S>   // [2 × tp]: forward, a query block's row maxima and sums;
                                        // backward, each row's logsumexp and rowsum(dO ⊙ O)
    private let base: UnsafeMutablePointer<S>, count: Int

    init(t: Int, d: Int, dv: Int) {
        let bl = Self.block
        self.t = t; self.d = d; self.dv = dv
        tp = (t + bl - 1) / bl * bl; dp = (d + 7) / 8 * 8; dvp = (dv + 7) / 8 * 8
        let sizes = [tp * dp, tp * dp, d * tp, tp * dvp, dv * tp, tp * dvp, tp * dp, bl * dp, bl * dvp, bl * bl, bl * bl, 2 * tp, bl * tp]
        count = sizes.reduce(0, +)
        base = .allocate(capacity: count)
        base.initialize(repeating: 0, count: count)
        var offsets = [Int](), o = 0
        for n in sizes { offsets.append(o); o += n }
        (q, k, kt, v, vt, dout) = (base + offsets[0], base + offsets[1], base + offsets[2], base + offsets[3], base + offsets[4], base + offsets[5])
        (dq, dk, dvAcc, s, ds, rows) = (base + offsets[6], base + offsets[7], base + offsets[8], base + offsets[9], base + offsets[10], base + offsets[11])
        wide = base + offsets[12]
    }

    func deallocate() { base.deallocate() }

    /// Copies head rows x [t × width] (row stride ld) into y's rows (stride ldy), times `scale`.
    @inline(__always)
    func copyRows(_ x: UnsafePointer<S>, _ ld: Int, _ width: Int, into y: UnsafeMutablePointer<S>, _ ldy: Int, scale: S = 1) {
        for r in 0..<t { for c in 0..<width { y[r * ldy + c] = scale * x[r * ld + c] } }
    }

    /// Copies head rows x [t × width] transposed into y [width × tp].
    @inline(__always)
    func copyTransposed(_ x: UnsafePointer<S>, _ ld: Int, _ width: Int, into y: UnsafeMutablePointer<S>) {
        for r in 0..<t { for c in 0..<width { y[c * tp + r] = x[r * ld + c] } }
    }

    /// Sets the scores above the diagonal of a diagonal block to −∞ (row r sees columns ≤ r).
    @inline(__always)
    func maskDiagonalBlock() {
        let bl = Self.block
        for r in 0..<bl { for c in (r + 1)..<bl { s[r * bl + c] = -S.infinity } }
    }
}
