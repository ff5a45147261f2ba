// Fused causal attention, forward: per (batch, head) and block of 16 query rows, the
// scores Q·Kᵀ/√D against every key up to the diagonal (a 16 × T strip at most: the tile's
// memory grows as T, never T²), each row's exact softmax, and P·V. Only the rows'
// logsumexp is kept for backward, which recomputes P from it (FlashAttention's backward).
// FlashAttention's online softmax, key block by key block with the output rescaled as the
// max grows, had cost more in its per-row passes than the products at the searched
// contexts (T ≤ 256), where a strip is at most 16 KB.

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

/// Query rows i0..<i0+16 of one tile: out's rows (stride c) and their logsumexp. The
/// scores against every key the rows see (0..<i0+16) are taken in one product, so each
/// row's softmax is exact in one pass (one max, one sum) with no output to rescale as key
/// blocks arrive; the probabilities times V is a second product. Keys above the diagonal
/// score −∞ and their exp is 0.
@_specialize(where S == Float)
func attendBlock<S: Scalar>(_ tiles: AttentionTiles<S>, _ i0: Int, out: UnsafeMutablePointer<S>, _ c: Int,
                            lse: UnsafeMutablePointer<S>) {
    let bl = AttentionTiles<S>.block, dvp = tiles.dvp, o = tiles.dvAcc, s = tiles.wide, ls = tiles.tp
    let n = i0 + bl   // the keys these rows see, in whole blocks
    tileProduct(m: bl, n: n, k: tiles.d, tiles.q + i0 * tiles.dp, tiles.dp, 1, tiles.kt, tiles.tp, s, ls, accumulate: false)
    for r in 0..<bl { for j in (i0 + r + 1)..<n { s[r * ls + j] = -S.infinity } }
    let m = tiles.rows, l = tiles.rows + bl
    for r in 0..<bl {   // every row sees key 0 at least, so its max is finite
        let row = s + r * ls
        let mx = vectorMax(row, n)
        for j in 0..<n { row[j] = S.exp(row[j] - mx) }
        m[r] = mx
        l[r] = vectorSum(row, n)
    }
    tileProduct(m: bl, n: dvp, k: n, s, ls, 1, tiles.v, dvp, o, dvp, accumulate: false)
    for r in 0..<min(bl, tiles.t - i0) {
        let inv = 1 / l[r], orow = o + r * dvp, y = out + (i0 + r) * c
        for j in 0..<tiles.dv { y[j] = orow[j] * inv }
        lse[i0 + r] = m[r] + S.log(l[r])
    }
}
