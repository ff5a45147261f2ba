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
