// Fused causal attention, forward (FlashAttention's online softmax on CPU vectors): per
// (batch, head) and block of 16 query rows, the key blocks up to the diagonal are visited
// in order; each block's scores Q·Kᵀ/√D are taken in registers, the rows' running max m
// and sum l are updated, the output so far is rescaled by exp(m_old − m_new), and
// exp(S − m)·V is added. Only the rows' logsumexp m + log l is kept for backward.

@_specialize(where S == Float)
func fusedAttentionForward<S: Scalar>(
    _ x: AttentionOperands<S>, _ out: UnsafeMutablePointer<S>, _ lse: UnsafeMutablePointer<S>
) {
    let c = x.h * x.dv
    Parallel.forEach(x.b * x.h, grain: 1) { range in
        let tiles = AttentionTiles<S>(t: x.t, d: x.d, dv: x.dv)
        defer { tiles.deallocate() }
        for bh in range {
            let (qh, kh, vh) = x.head(bh)
            tiles.copyRows(qh, x.ldq, x.d, into: tiles.q, tiles.dp, scale: x.scale)
            tiles.copyTransposed(kh, x.ldk, x.d, into: tiles.kt)
            tiles.copyRows(vh, x.ldv, x.dv, into: tiles.v, tiles.dvp)
            let oh = out + (bh / x.h) * x.t * c + (bh % x.h) * x.dv
            for i0 in stride(from: 0, to: x.t, by: AttentionTiles<S>.block) {
                attendBlock(tiles, i0, out: oh, c, lse: lse + bh * x.t)
            }
        }
    }
}

/// Query rows i0..<i0+16 of one tile: out's rows (stride c) and their logsumexp.
@_specialize(where S == Float)
func attendBlock<S: Scalar>(_ tiles: AttentionTiles<S>, _ i0: Int, out: UnsafeMutablePointer<S>, _ c: Int,
                            lse: UnsafeMutablePointer<S>) {
    let bl = AttentionTiles<S>.block, dvp = tiles.dvp, o = tiles.dvAcc
    let m = tiles.rows, l = tiles.rows + bl
    zero(o, bl * dvp)
    for r in 0..<bl { m[r] = -S.infinity; l[r] = 0 }
    for j0 in stride(from: 0, through: i0, by: bl) {
        tileProduct(m: bl, n: bl, k: tiles.d, tiles.q + i0 * tiles.dp, tiles.dp, 1, tiles.kt + j0, tiles.tp,
                    tiles.s, bl, accumulate: false)
        if j0 == i0 { tiles.maskDiagonalBlock() }
        for r in 0..<bl {   // every row sees column j0 at least, so its max is finite
            let row = tiles.s + r * bl
            let mx = Swift.max(m[r], vectorMax(row, bl))
            for j in 0..<bl { row[j] = S.exp(row[j] - mx) }
            if mx != m[r] {
                let alpha = S.exp(m[r] - mx), orow = o + r * dvp   // 0 on the first block
                l[r] *= alpha
                for j in 0..<dvp { orow[j] *= alpha }
                m[r] = mx
            }
            l[r] += vectorSum(row, bl)
        }
        tileProduct(m: bl, n: dvp, k: bl, tiles.s, bl, 1, tiles.v + j0 * dvp, dvp, o, dvp, accumulate: true)
    }
    for r in 0..<min(bl, tiles.t - i0) {
        let inv = 1 / l[r], orow = o + r * dvp, y = out + (i0 + r) * c
        for j in 0..<tiles.dv { y[j] = orow[j] * inv }
        lse[i0 + r] = m[r] + S.log(l[r])
    }
}
