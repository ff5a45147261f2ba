import CBLAS
import CGemm
#if canImport(Glibc)
import Glibc
#endif

/// Which single-precision GEMM the engine runs: OpenBLAS's, or evolve's own packed
/// AVX2/AVX-512 kernel (Sources/CGemm). OpenBLAS picks its kernel from a table of CPU
/// models known when it was built; on a newer CPU it falls back to a generic SSE kernel
/// several times slower than the machine can go. So once per process both are timed on
/// a typical shape, single-threaded, and evolve's is used only where it is clearly faster
/// (1.5x), which keeps the choice the same from one run to the next on a given machine.
/// `EVOLVE_GEMM=blas` or `=own` decides instead.
public enum Gemm {
    public static let own: Bool = decide()

    /// What runs the products, for benchmarks: `openblas-Zen`, `evolve-avx512`, ….
    public static var name: String { own ? "evolve-avx\(evolve_sgemm_width())" : "openblas-\(BLAS.coreName)" }

    /// Single-thread (OpenBLAS, evolve's own) best seconds at 384×512×128, the MLP of a
    /// replica's half batch.
    public static func timings(m: Int = 384, n: Int = 512, k: Int = 128, rounds: Int = 10) -> (blas: Double, own: Double) {
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        var best = (blas: Double.infinity, own: Double.infinity)
        for _ in 0..<rounds {   // alternating, so both see the same stretch of a shared machine
            best.blas = min(best.blas, seconds {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
            })
            guard evolve_sgemm_width() > 0 else { continue }
            best.own = min(best.own, seconds {
                evolve_sgemm(0, 0, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
            })
        }
        return best
    }

    /// A product in `Precision.bfloat16`: on AMX tiles or AVX512-BF16 where the CPU has them,
    /// else the operands rounded to bfloat16 and multiplied in float32 (the same numbers, up
    /// to the order of the float32 sums). Products at most 8 columns wide (a router's scores) stay
    /// float32 in both: they are a sliver of the work and decide routing.
    static func bfloat16(
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
        _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        guard n > 8, k > 0 else {
            return Parallel.$precision.withValue(.float32) { Float.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
        }
        if Precision.kernel != .rounded {
            return evolve_bgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda),
                                b, Int32(ldb), beta, c, Int32(ldc))
        }
        rounded(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    /// `bfloat16`'s products without a bfloat16 kernel: op(A) and op(B) rounded as the packing
    /// rounds them, then the float32 product.
    static func rounded(
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
        _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        Parallel.$precision.withValue(.float32) {
            let (ar, ac) = transA ? (k, m) : (m, k), (br, bc) = transB ? (n, k) : (k, n)
            var ra = [Float](repeating: 0, count: ar * ac), rb = [Float](repeating: 0, count: br * bc)
            evolve_round_bf16(a, Int32(ar), Int32(ac), Int32(lda), &ra)
            evolve_round_bf16(b, Int32(br), Int32(bc), Int32(ldb), &rb)
            Float.gemm(transA, transB, m, n, k, alpha, ra, ac, rb, bc, beta, c, ldc)
        }
    }

    private static func decide() -> Bool {
        guard evolve_sgemm_width() > 0 else { return false }
        if let forced = getenv("EVOLVE_GEMM").map({ String(cString: $0) }), !forced.isEmpty {
            if forced == "own" { return true }
            if forced == "blas" { return false }
            fputs("evolve: EVOLVE_GEMM=\(forced) is neither blas nor own; timing both instead\n", stderr)
        }
        BLAS.setThreads(1)
        let t = timings()
        return t.blas > 1.5 * t.own
    }
}
