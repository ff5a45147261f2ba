import CGemm
/// The attention kernel the fused one replaced: the causal blocks' products by GEMM over a
/// saved T×T probability tile. Kept as the reference the fused kernel is tested against
/// (kernel against kernel, and whole training runs): attention built inside
/// `AttentionReference.$enabled.withValue(true) { … }` runs it. It is also what runs where
/// the CPU lacks AVX-512: there the fused kernel's block products are the 8-wide Swift ones,
/// whose backward took twice this kernel's time at that width on the Xeon, so the kernel that
/// pays is kept until the fused one is measured faster on such a machine.
enum AttentionReference {
    @TaskLocal static var enabled = evolve_sgemm_width() < 512
}

/// The causal products' blocks of 16 rows: each starts at row `start`, has `rows` rows and
/// sees the keys 0..<seen.
func causalBlocks(_ t: Int) -> [(start: Int, rows: Int, seen: Int)] {
    stride(from: 0, to: t, by: 16).map { ($0, min(16, t - $0), min($0 + 16, t)) }
}

@_specialize(where S == Float)
func referenceAttentionForward<S: Scalar>(
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
func referenceAttentionBackward<S: Scalar>(
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
