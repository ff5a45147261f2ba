// Y[g] = op(A[g]) · op(B[g]) for g in 0..<G, every product one cblas gemm call.
//   A: [G, M, K] ([G, K, M] when transA)      strideA = 0 when A is one shared matrix
//   B: [G, K, N] ([G, N, K] when transB)      strideB = 0 when B is one shared matrix
//   Y: [G, M, N]
//   slots: [G, M] (optional) marks the rows in use, a prefix of each group (row −1 = unused,
//   as a dispatch fills an expert's capacity): only those rows are multiplied and dB sums
//   over them only. The unused rows of Y and dA are not written: only slot-aware kernels
//   (this one, a unary op with the same slots, a scatter or gather by them) may read them.
//   An expert's empty capacity then costs nothing (MegaBlocks' point), with the full
//   product's values in every used row.
final class MatMulKernel<S: Scalar>: Kernel {
    let a: Tensor<S>, b: Tensor<S>, y: Tensor<S>
    let g: Int, m: Int, n: Int, k: Int
    let transA: Bool, transB: Bool
    let strideA: Int, strideB: Int
    let slots: IndexTensor?

    init(_ a: Tensor<S>, _ b: Tensor<S>, _ y: Tensor<S>, g: Int, m: Int, n: Int, k: Int,
         transA: Bool, transB: Bool, sharedA: Bool, sharedB: Bool, slots: IndexTensor? = nil) {
        self.a = a; self.b = b; self.y = y
        self.g = g; self.m = m; self.n = n; self.k = k
        self.transA = transA; self.transB = transB
        strideA = sharedA ? 0 : m * k
        strideB = sharedB ? 0 : k * n
        self.slots = slots
    }

    var lda: Int { transA ? m : k }
    var ldb: Int { transB ? k : n }

    /// Rows of group i that take part: all M, or the used prefix of its slots.
    @inline(__always)
    func rows(_ i: Int) -> Int { slots?.usedPrefix(i) ?? m }

    /// Products by shape: `MatMul 384×128·128×512`, with `E×` for a batch and `≤` for a grouped one.
    var profileName: String {
        let a = transA ? "\(k)×\(m)ᵀ" : "\(m)×\(k)", b = transB ? "\(n)×\(k)ᵀ" : "\(k)×\(n)"
        return "MatMul " + (g > 1 ? "\(g)×" : "") + (slots != nil ? "≤" : "") + a + "·" + b
    }

    /// A forward pass's products; backward makes one more per operand that wants a gradient.
    func work(backward: Bool) -> Work {
        let once = 2 * Double((0..<g).reduce(0) { $0 + rows($1) } * n * k)
        return Work(flops: backward ? once * Double((a.requiresGrad ? 1 : 0) + (b.requiresGrad ? 1 : 0)) : once)
    }

    @_specialize(where S == Float)
    func forward() {
        for i in 0..<g {
            let mi = rows(i), yi = y.value + i * m * n
            if mi > 0 {
                S.parallelGemm(transA, transB, mi, n, k, 1, a.value + i * strideA, lda,
                               b.value + i * strideB, ldb, 0, yi, n)
            }
        }
    }

    // dA and dB are independent products of equal cost: with two threads each runs whole
    // on its own core, which beats splitting each product in two (half-size GEMMs pack
    // their shared operand twice).
    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad() else { return }
        let da = a.gradTarget(), db = b.gradTarget()
        if let da, let db, Parallel.width >= 2 {
            Parallel.both({ self.gradA(dy, da, S.gemm) }, { self.gradB(dy, db, S.gemm) })
        } else {
            if let da { gradA(dy, da, S.parallelGemm) }
            if let db { gradB(dy, db, S.parallelGemm) }
        }
    }

    typealias Gemm = (Bool, Bool, Int, Int, Int, S, UnsafePointer<S>, Int, UnsafePointer<S>, Int,
                      S, UnsafeMutablePointer<S>, Int) -> Void

    private func gradA(_ dy: UnsafePointer<S>, _ target: (ptr: UnsafeMutablePointer<S>, accumulate: Bool), _ gemm: Gemm) {
        for i in 0..<g {
            let beta: S = target.accumulate || (strideA == 0 && i > 0) ? 1 : 0
            let dyi = dy + i * m * n, bi = b.value + i * strideB, dai = target.ptr + i * strideA
            if transA {  // dA[K,M] = op(B) · dYᵀ
                gemm(transB, true, k, m, n, 1, bi, ldb, dyi, n, beta, dai, m)
            } else {     // dA[M,K] = dY · op(B)ᵀ, over the rows in use
                let mi = rows(i)
                if mi > 0 { gemm(false, !transB, mi, k, n, 1, dyi, n, bi, ldb, beta, dai, k) }
            }
        }
    }

    private func gradB(_ dy: UnsafePointer<S>, _ target: (ptr: UnsafeMutablePointer<S>, accumulate: Bool), _ gemm: Gemm) {
        for i in 0..<g {
            let beta: S = target.accumulate || (strideB == 0 && i > 0) ? 1 : 0
            let dyi = dy + i * m * n, ai = a.value + i * strideA, dbi = target.ptr + i * strideB
            let mi = rows(i)
            if mi == 0 {  // nothing routed here: no contribution
                if beta == 0 { zero(dbi, k * n) }
            } else if transB {  // dB[N,K] = dYᵀ · op(A)
                gemm(true, transA, n, k, mi, 1, dyi, n, ai, lda, beta, dbi, k)
            } else {     // dB[K,N] = op(A)ᵀ · dY
                gemm(!transA, false, k, n, mi, 1, ai, lda, dyi, n, beta, dbi, n)
            }
        }
    }
}

extension Graph {
    /// x [..., K] · w [K, N] → [..., N]   (w [N, K] when `transposeW`: a tied embedding).
    public func matmul(_ x: Tensor<S>, _ w: Tensor<S>, transposeW: Bool = false) -> Tensor<S> {
        check(w.shape.count == 2, "matmul: weight \(w.name) must be 2-D, is \(w.shape)")
        let k = x.channels
        let (wk, n) = transposeW ? (w.shape[1], w.shape[0]) : (w.shape[0], w.shape[1])
        check(wk == k, "matmul: \(x.shape) · \(w.shape)\(transposeW ? "ᵀ" : "") do not chain")
        let y = activation(Array(x.shape.dropLast()) + [n], "matmul", from: [x, w])
        append(MatMulKernel(x, w, y, g: 1, m: x.rows, n: n, k: k,
                            transA: false, transB: transposeW, sharedA: false, sharedB: true))
        return y
    }

    /// Batched a [..., M, K] · b [..., K, N] → [..., M, N], the leading axes equal
    /// (per-head products). `transA` / `transB` transpose the last two axes.
    /// `slots` [..., M] (from `dispatch`) limits each product to its used rows: a grouped GEMM.
    public func batchedMatmul(_ a: Tensor<S>, _ b: Tensor<S>, transA: Bool = false,
                              transB: Bool = false, slots: IndexTensor? = nil) -> Tensor<S> {
        check(a.shape.count >= 2 && a.shape.count == b.shape.count
              && a.shape.dropLast(2) == b.shape.dropLast(2),
              "batchedMatmul: batch axes of \(a.shape) and \(b.shape) differ")
        let r = a.shape.count
        let (m, k) = transA ? (a.shape[r - 1], a.shape[r - 2]) : (a.shape[r - 2], a.shape[r - 1])
        let (kb, n) = transB ? (b.shape[r - 1], b.shape[r - 2]) : (b.shape[r - 2], b.shape[r - 1])
        check(k == kb, "batchedMatmul: \(a.shape) · \(b.shape) do not chain")
        let lead = Array(a.shape.dropLast(2))
        if let slots {
            check(!transA && slots.shape == lead + [m], "batchedMatmul: slots \(slots.shape) for rows of \(a.shape)\(transA ? "ᵀ" : "")")
        }
        let y = activation(lead + [m, n], "bmm", from: [a, b])
        append(MatMulKernel(a, b, y, g: lead.reduce(1, *), m: m, n: n, k: k,
                            transA: transA, transB: transB, sharedA: false, sharedB: false, slots: slots))
        return y
    }
}
