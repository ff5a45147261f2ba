import CBLAS
import CGemm
import Primitives
import Testing
@testable import Tensor

/// evolve's own sgemm against OpenBLAS's on random inputs: every transpose, edges that
/// leave partial register blocks, k and m past one packed block, leading dimensions wider
/// than the matrices, alpha/beta that scale and accumulate, and small products read in place.
@Suite("evolve's sgemm kernel")
struct GemmTests {
    /// Runs last of the suite's checks on an AVX-512 machine: it leaves the AVX2 kernel in use.
    @Test func avx2KernelMatchesOpenBLAS() throws {
        try #require(evolve_sgemm_width() > 0, "this CPU has neither AVX2+FMA nor AVX-512: the kernel is never used")
        if evolve_sgemm_width() == 512 { for t in [(false, false), (true, true)] { try matchesOpenBLAS(t) } }
        #expect(evolve_sgemm_limit_width(256) == 256)
        for t in [(false, false), (true, false), (false, true), (true, true)] { try matchesOpenBLAS(t) }
    }

    func matchesOpenBLAS(_ t: (Bool, Bool)) throws {
        var rng = Xoshiro(seed: 11)
        let shapes = [(1, 1, 1), (7, 5, 3), (6, 32, 256), (13, 40, 100), (50, 64, 256), (97, 128, 64), (13, 37, 300), (100, 17, 9), (97, 70, 513), (384, 512, 128), (2, 2100, 4),
                      (384, 4, 128), (128, 4, 384), (3, 1, 5), (37, 8, 19), (9, 3, 8)]   // narrow: a router's
        for (m, n, k) in shapes {
            for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (-2, 0.25)] {
                let (a, lda, b, ldb, c0, ldc) = operands(t, m, n, k, beta: beta, &rng)
                var ours = c0, theirs = c0
                evolve_sgemm(t.0 ? 1 : 0, t.1 ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, &ours, Int32(ldc))
                cblas_sgemm(CblasRowMajor, t.0 ? CblasTrans : CblasNoTrans, t.1 ? CblasTrans : CblasNoTrans,
                            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, &theirs, Int32(ldc))
                var worst: Float = 0
                for i in 0..<m {
                    for j in 0..<n {
                        let x = ours[i * ldc + j], y = theirs[i * ldc + j]
                        let d = abs(x - y) / (1 + abs(y))
                        worst = d <= worst ? worst : d   // a NaN is the worst of all
                    }
                    // The padding past n is never written.
                    for j in n..<ldc { #expect(ours[i * ldc + j].bitPattern == c0[i * ldc + j].bitPattern) }
                }
                #expect(worst <= 2e-6 * Float(k).squareRoot() * 4, "\(m)×\(n)×\(k) alpha \(alpha) beta \(beta): worst \(worst)")
            }
        }
    }

    /// The timing that decides the engine's GEMM runs, and the name says what was chosen.
    @Test func engineChoiceIsNamed() {
        let t = Gemm.timings(rounds: 2)
        #expect(t.blas > 0 && t.blas.isFinite)
        #expect(Gemm.name.hasPrefix(Gemm.own ? "evolve-avx" : "openblas-"))
    }
}

/// Random op(A)[m×k] and op(B)[k×n] stored as `t` says, and a C [m×n], each with rows 3 wider
/// than the matrix (leading dimensions past the edge); C is NaN where beta 0 must not read it.
func operands(_ t: (Bool, Bool), _ m: Int, _ n: Int, _ k: Int, beta: Float, _ rng: inout Xoshiro)
    -> (a: [Float], lda: Int, b: [Float], ldb: Int, c: [Float], ldc: Int) {
    let pad = 3
    let (ra, ca) = t.0 ? (k, m) : (m, k), (rb, cb) = t.1 ? (n, k) : (k, n)
    let lda = ca + pad, ldb = cb + pad, ldc = n + pad
    let a = (0..<(ra * lda)).map { _ in Float(rng.normal()) }
    let b = (0..<(rb * ldb)).map { _ in Float(rng.normal()) }
    let c = (0..<(m * ldc)).map { _ in beta == 0 ? Float.nan : Float(rng.normal()) }
    return (a, lda, b, ldb, c, ldc)
}
