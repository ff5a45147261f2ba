// Fused causal attention, backward (FlashAttention-2's order): per (batch, head) and block
// of 16 keys, the query blocks at and below the diagonal are visited; each recomputes its
// probabilities P = exp(Q·Kᵀ/√D − logsumexp) from the forward's logsumexp, then
//   dV_j += Pᵀ dO    dP = dO Vᵀ    dS = P ⊙ (dP − rowsum(dO ⊙ O))
//   dQ_i += dS K/√D   dK_j += dSᵀ Q/√D
// with dK_j and dV_j held for the key block and dQ for the tile, added to the gradients once.

/// Which gradients backward adds into (nil: that input needs none).
struct AttentionGradients<S: Scalar> {
    let dq: UnsafeMutablePointer<S>?, dk: UnsafeMutablePointer<S>?, dv: UnsafeMutablePointer<S>?
}

@_specialize(where S == Float)
func fusedAttentionBackward<S: Scalar>(
    _ x: AttentionOperands<S>, _ out: UnsafePointer<S>, _ dout: UnsafePointer<S>, _ lse: UnsafePointer<S>,
    _ g: AttentionGradients<S>
) {
    let c = x.h * x.dv, bl = AttentionTiles<S>.block
    Parallel.forEach(x.b * x.h, grain: 1) { range in
        let tiles = AttentionTiles<S>(t: x.t, d: x.d, dv: x.dv)
        defer { tiles.deallocate() }
        // Rows past T: logsumexp +∞ makes their P zero.
        for r in x.t..<tiles.tp { tiles.rows[r] = S.infinity }
        for bh in range {
            let bi = bh / x.h, hi = bh % x.h, rowOffset = bi * x.t * c + hi * x.dv
            loadBackwardTile(tiles, x, bh, out + rowOffset, dout + rowOffset, c, lse + bh * x.t)
            zero(tiles.dq, tiles.tp * tiles.dp)
            for j0 in stride(from: 0, to: x.t, by: bl) {
                backwardKeyBlock(tiles, j0, g)
                let n = min(bl, x.t - j0)
                if let dk = g.dk { addRows(tiles.dk, tiles.dp, into: dk + (bi * x.t + j0) * x.ldk + hi * x.d, x.ldk, n, x.d, 1) }
                if let dv = g.dv { addRows(tiles.dvAcc, tiles.dvp, into: dv + (bi * x.t + j0) * x.ldv + hi * x.dv, x.ldv, n, x.dv, 1) }
            }
            if let dq = g.dq { addRows(tiles.dq, tiles.dp, into: dq + bi * x.t * x.ldq + hi * x.d, x.ldq, x.t, x.d, x.scale) }
        }
    }
}

/// The tile's operands for backward, and per row its logsumexp (rows[0..<t]) and
/// rowsum(dO ⊙ O) (rows[tp..<tp+t]).
@inline(__always)
func loadBackwardTile<S: Scalar>(_ tiles: AttentionTiles<S>, _ x: AttentionOperands<S>, _ bh: Int,
                                 _ out: UnsafePointer<S>, _ dout: UnsafePointer<S>, _ c: Int, _ lse: UnsafePointer<S>) {
    let (qh, kh, vh) = x.head(bh)
    tiles.copyRows(qh, x.ldq, x.d, into: tiles.q, tiles.dp, scale: x.scale)
    tiles.copyRows(kh, x.ldk, x.d, into: tiles.k, tiles.dp)
    tiles.copyTransposed(kh, x.ldk, x.d, into: tiles.kt)
    tiles.copyTransposed(vh, x.ldv, x.dv, into: tiles.vt)
    tiles.copyRows(dout, c, x.dv, into: tiles.dout, tiles.dvp)
    for r in 0..<x.t {
        tiles.rows[r] = lse[r]
        tiles.rows[tiles.tp + r] = vectorDot(dout + r * c, out + r * c, x.dv)
    }
}

/// Key block j0..<j0+16 against the query blocks that see it: dK and dV for the block
/// (tiles.dk, tiles.dvAcc), dQ added into tiles.dq; only the products `g` asks for.
@_specialize(where S == Float)
func backwardKeyBlock<S: Scalar>(_ tiles: AttentionTiles<S>, _ j0: Int, _ g: AttentionGradients<S>) {
    let bl = AttentionTiles<S>.block, dp = tiles.dp, dvp = tiles.dvp
    let p = tiles.s, ds = tiles.ds
    zero(tiles.dk, bl * dp); zero(tiles.dvAcc, bl * dvp)
    for i0 in stride(from: j0, to: tiles.t, by: bl) {
        tileProduct(m: bl, n: bl, k: tiles.d, tiles.q + i0 * dp, dp, 1, tiles.kt + j0, tiles.tp, p, bl, accumulate: false)
        if j0 == i0 { tiles.maskDiagonalBlock() }
        for r in 0..<bl {
            let row = p + r * bl, m = tiles.rows[i0 + r]
            for j in 0..<bl { row[j] = S.exp(row[j] - m) }
        }
        if g.dv != nil {  // dV_j += Pᵀ dO_i
            tileProduct(m: bl, n: dvp, k: bl, p, 1, bl, tiles.dout + i0 * dvp, dvp, tiles.dvAcc, dvp, accumulate: true)
        }
        guard g.dq != nil || g.dk != nil else { continue }
        tileProduct(m: bl, n: bl, k: tiles.dv, tiles.dout + i0 * dvp, dvp, 1, tiles.vt + j0, tiles.tp, ds, bl, accumulate: false)
        for r in 0..<bl {
            let pr = p + r * bl, dr = ds + r * bl, dot = tiles.rows[tiles.tp + i0 + r]
            for j in 0..<bl { dr[j] = pr[j] * (dr[j] - dot) }
        }
        if g.dq != nil { tileProduct(m: bl, n: dp, k: bl, ds, bl, 1, tiles.k + j0 * dp, dp, tiles.dq + i0 * dp, dp, accumulate: true) }
        if g.dk != nil { tileProduct(m: bl, n: dp, k: bl, ds, 1, bl, tiles.q + i0 * dp, dp, tiles.dk, dp, accumulate: true) }
    }
}

/// y[r, 0..<width] += scale · x[r, 0..<width] for r < n (row strides ldx, ldy).
@inline(__always)
func addRows<S: Scalar>(_ x: UnsafePointer<S>, _ ldx: Int, into y: UnsafeMutablePointer<S>, _ ldy: Int, _ n: Int, _ width: Int, _ scale: S) {
    for r in 0..<n {
        let xr = x + r * ldx, yr = y + r * ldy
        for j in 0..<width { yr[j] += scale * xr[j] }
    }
}
