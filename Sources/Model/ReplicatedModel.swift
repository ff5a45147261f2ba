import Tensor

/// A model split across threads by batch rows: replica i holds rows[i] of every batch in
/// its own graph, shares the parameter values of replica 0 and has its own gradients.
/// Each replica runs forward and backward alone on its core — no synchronisation per op —
/// and the gradients are then combined into replica 0's, weighted by rows.
public final class ReplicatedModel {
    public let replicas: [ModelGraph]
    public let rows: [Range<Int>]
    public let batch: Int
    /// The engine's threads inside each replica: one, when the replicas are the parallelism.
    public let threadsPerReplica: Int
    /// What the replicas' products multiply in (`Precision`), forward and backward.
    public let precision: Precision
    /// Seconds spent, over all passes so far, adding the replicas' gradients into replica 0's.
    public var mergeSeconds = 0.0
    /// The last pass's merged gradients, Σ g² per thread slice and tensor (squaredNormParts'
    /// layout), summed while merging; nil with one replica.
    public private(set) var mergedSquares: [[Double]]?

    /// The replicas a batch of `batch` rows is split over with `threads` threads: one per
    /// thread, at most one per row.
    public static func count(batch: Int, threads: Int) -> Int { max(1, min(threads, batch)) }

    /// `build(b)` builds one replica for b rows; it must build the same parameters every
    /// call (replicas then take replica 0's values, so its initialisation is the one kept).
    public init(batch: Int, threads: Int, precision: Precision = .float32, build: (Int) -> ModelGraph) {
        let n = ReplicatedModel.count(batch: batch, threads: threads)
        rows = (0..<n).map { (batch * $0 / n)..<(batch * ($0 + 1) / n) }
        self.batch = batch
        threadsPerReplica = max(1, threads / n)
        self.precision = precision
        let rows = rows
        replicas = Threads.with(threadsPerReplica) { rows.map { build($0.count) } }
        for r in replicas.dropFirst() { r.graph.shareParameters(with: replicas[0].graph) }
    }

    public var primary: ModelGraph { replicas[0] }
    public var context: Int { primary.context }
    public var parameters: [Tensor<Float>] { primary.graph.parameters }
    public var parameterCount: Int { primary.graph.parameterCount }

    /// Sets row `row` of the batch: its input tokens and targets (each `context` long).
    @inline(__always)
    public func setRow(_ row: Int, tokens: UnsafeBufferPointer<Int32>, start: Int) {
        let r = rows.firstIndex { $0.contains(row) }!
        let m = replicas[r], t = context, local = row - rows[r].lowerBound
        for j in 0..<t {
            m.tokens[local * t + j] = tokens[start + j]
            m.targets[local * t + j] = tokens[start + j + 1]
        }
    }

    /// The primary's prologue (what every replica reads: experts contracted from their
    /// cores, …) on all threads, then every replica's own rows at once.
    public func forward() {
        Threads.with(threadsPerReplica, precision: precision) {
            Threads.widened(replicas.count) { primary.graph.forwardPrologue() }
            Threads.concurrently(replicas.count) { replicas[$0].graph.forwardMain() }
        }
    }

    /// Forward and backward over the whole batch; returns the batch's mean loss and leaves
    /// its gradient in the parameters of replica 0.
    @discardableResult
    public func forwardBackward() -> Float {
        Threads.with(threadsPerReplica, precision: precision) { forwardBackwardOnThreads() }
    }

    private func forwardBackwardOnThreads() -> Float {
        Threads.widened(replicas.count) { primary.graph.forwardPrologue() }
        Threads.concurrently(replicas.count) { i in
            let m = replicas[i]
            m.graph.forwardMain()
            m.graph.backwardMain(from: m.objective)
        }
        var loss: Float = 0
        for (m, r) in zip(replicas, rows) { loss += m.loss[0] * Float(r.count) / Float(batch) }
        // Each replica's loss is the mean over its rows: weight its gradient by its share.
        // The prologue's results gather every replica's gradient (relative to the primary's
        // weight, applied below) and go backward once, in the primary.
        let weights = rows.map { Float($0.count) / Float(batch) }
        for (m, w) in zip(replicas.dropFirst(), weights.dropFirst()) {
            primary.graph.addPrologueGradients(from: m.graph, scale: w / weights[0])
        }
        Threads.widened(replicas.count) { primary.graph.backwardPrologue() }
        guard replicas.count > 1 else { return loss }
        // g = w0·g0 + w1·g1 + …, each element in that order, one pass per tensor slice,
        // which also sums the merged gradient's squares for clipping (as squaredNormParts).
        let others = replicas.dropFirst().map { $0.graph.parameters }
        mergeSeconds += seconds {
            mergedSquares = sliceSums(parameters, threads: replicas.count) { pi, range in
                guard let g = parameters[pi].grad else { return 0 }
                scaleAndAdd(g, weights[0], others.map { $0[pi].grad! }, Array(weights.dropFirst()), range)
                return Double(sumOfSquares(g, range))
            }
        }
        return loss
    }

    /// Per-position losses of the last forward pass, in batch row order, [B·T].
    public func rowLosses() -> [Float] { replicas.flatMap { $0.rowLosses() } }
}

/// g[range] = w0·g[range] + Σᵢ wᵢ·sourcesᵢ[range], eight lanes at a time.
private func scaleAndAdd(_ g: UnsafeMutablePointer<Float>, _ w0: Float, _ sources: [UnsafeMutablePointer<Float>],
                         _ weights: [Float], _ range: Range<Int>) {
    typealias V = SIMD8<Float>
    var j = range.lowerBound
    while j + 8 <= range.upperBound {
        var acc = UnsafeRawPointer(g + j).loadUnaligned(as: V.self) * w0
        for (s, w) in zip(sources, weights) { acc += w * UnsafeRawPointer(s + j).loadUnaligned(as: V.self) }
        UnsafeMutableRawPointer(g + j).storeBytes(of: acc, as: V.self)
        j += 8
    }
    while j < range.upperBound {
        var acc = g[j] * w0
        for (s, w) in zip(sources, weights) { acc += w * s[j] }
        g[j] = acc
        j += 1
    }
}
