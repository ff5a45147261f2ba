import CBLAS
import Dispatch

/// Runs `body` over `0..<n` split into contiguous ranges, on up to `Parallel.width`
/// threads, when the work is large enough to pay for the hand-off (~5 µs).
enum Parallel {
    /// Threads for elementwise and per-head work: bound per task or thread by
    /// `Threads.with` and handed on to every thread started here. Reductions split by it,
    /// so it is part of a run's numbers: two models trained at once in one process (the
    /// tests do) must each keep their own, which a process-wide setting could not.
    @TaskLocal static var width = 2

    /// What the products multiply in, bound with the width and handed on the same way: a
    /// model's precision is part of its run's numbers, and two models in one process may differ.
    @TaskLocal static var precision = Precision.float32

    /// How many ranges `forEach(n, grain:)` splits into.
    @inline(__always)
    static func chunks(_ n: Int, grain: Int) -> Int { max(1, min(width, n / max(grain, 1))) }

    @inline(__always)
    static func forEach(_ n: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        forEachChunk(n, grain: grain) { _, r in body(r) }
    }

    /// As `forEach`, also passing each range's index in 0..<chunks(n, grain:).
    @inline(__always)
    static func forEachChunk(_ n: Int, grain: Int, _ body: (Int, Range<Int>) -> Void) {
        let chunks = chunks(n, grain: grain)
        if chunks == 1 {
            body(0, 0..<n)
            return
        }
        onThreads(chunks) { c in body(c, (n * c / chunks)..<(n * (c + 1) / chunks)) }
    }

    /// body(0..<n), each on its own thread, with the caller's width and denormals flushed
    /// (worker threads start with the default MXCSR and no width bound).
    static func onThreads(_ n: Int, _ body: (Int) -> Void) {
        let width = width, precision = precision
        DispatchQueue.concurrentPerform(iterations: n) { i in
            evolve_flush_denormals()
            $width.withValue(width) { $precision.withValue(precision) { body(i) } }
        }
    }
}

extension Parallel {
    /// Runs two independent pieces of work at once.
    static func both(_ first: () -> Void, _ second: () -> Void) {
        withoutActuallyEscaping(first) { f in
            withoutActuallyEscaping(second) { s in
                onThreads(2) { i in if i == 0 { f() } else { s() } }
            }
        }
    }
}

public enum Threads {
    /// Runs body(0..<n) on n threads at once (replicas of a model, one per core).
    public static func concurrently(_ n: Int, _ body: (Int) -> Void) {
        if n == 1 { return body(0) }
        Parallel.onThreads(n, body)
    }

    /// Runs body with the engine's kernels split over at least n threads: for work one
    /// replica does for all (the prologue) while the others wait.
    public static func widened(_ n: Int, _ body: () -> Void) {
        Parallel.$width.withValue(max(Parallel.width, n), operation: body)
    }

    /// Runs body with the engine's kernels (GEMMs split by rows or columns, elementwise
    /// and per-head work) on n threads, its products in `precision` (unset: as already bound),
    /// on this thread and those they start.
    public static func with<R>(_ n: Int, precision: Precision? = nil, _ body: () throws -> R) rethrows -> R {
        prepare()
        evolve_flush_denormals()
        return try Parallel.$precision.withValue(precision ?? Parallel.precision) {
            try Parallel.$width.withValue(max(1, n), operation: body)
        }
    }

    /// Once per process, before any training: BLAS single-threaded inside the engine's
    /// threads (its idle workers spun against them), and the GEMM chosen, single-threaded.
    public static func prepare() { _ = prepared }
    private static let prepared: Void = {
        BLAS.setThreads(1)
        _ = Gemm.own
    }()
}

extension Scalar {
    /// `gemm` split across the engine's threads: rows of C when there are enough, else
    /// columns. BLAS itself runs single-threaded, so its idle workers never spin against
    /// the engine's own threads (they did, costing a quarter of every step).
    static func parallelGemm(
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Self, _ a: UnsafePointer<Self>, _ lda: Int,
        _ b: UnsafePointer<Self>, _ ldb: Int,
        _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int
    ) {
        let chunks = min(Parallel.width, m * n * k / 65536)
        if chunks <= 1 {
            gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        } else if m >= n || m >= 16 * chunks {
            Parallel.forEach(m, grain: m / chunks) { r in
                gemm(transA, transB, r.count, n, k, alpha, a + (transA ? r.lowerBound : r.lowerBound * lda), lda,
                     b, ldb, beta, c + r.lowerBound * ldc, ldc)
            }
        } else if Parallel.precision == .bfloat16 && n / chunks <= 8 {
            // a chunk that narrow would be multiplied in float32 (Gemm.bfloat16's rule is per
            // product): keep the product whole
            gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        } else {
            Parallel.forEach(n, grain: n / chunks) { r in
                gemm(transA, transB, m, r.count, k, alpha, a, lda, b + (transB ? r.lowerBound * ldb : r.lowerBound), ldb,
                     beta, c + r.lowerBound, ldc)
            }
        }
    }
}

/// Runs body(thread, tensor index, element range) with every tensor split into `threads`
/// equal slices, thread t taking slice t of each (optimizer updates, gradient sums).
public func forEachSlice(_ tensors: [Tensor<Float>], threads: Int, _ body: (Int, Int, Range<Int>) -> Void) {
    Threads.concurrently(max(1, threads)) { t in
        for (i, p) in tensors.enumerated() {
            let n = p.count
            body(t, i, (n * t / threads)..<(n * (t + 1) / threads))
        }
    }
}

/// forEachSlice's slices, each giving a number (body(tensor, range)) → [thread][tensor]:
/// per-slice partial sums that the caller adds in a fixed order, so they are deterministic.
public func sliceSums(_ tensors: [Tensor<Float>], threads: Int, _ body: (Int, Range<Int>) -> Double) -> [[Double]] {
    var sums = [[Double]](repeating: [Double](repeating: 0, count: tensors.count), count: max(1, threads))
    sums.withUnsafeMutableBufferPointer { parts in
        let parts = parts
        forEachSlice(tensors, threads: threads) { t, i, range in parts[t][i] = body(i, range) }
    }
    return sums
}
