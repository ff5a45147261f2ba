import Foundation
import Model
import Primitives
import Tensor

/// AdamW (Loshchilov & Hutter), as torch.optim.AdamW: decoupled weight decay on the
/// parameters marked `decays`, bias-corrected moments, eps 1e-8. Updates in place.
public final class AdamW {
    public let parameters: [Tensor<Float>]
    public var beta1: Float, beta2: Float, weightDecay: Float, eps: Float = 1e-8
    private var m: [UnsafeMutablePointer<Float>]
    private var v: [UnsafeMutablePointer<Float>]
    public var step = 0

    public init(_ parameters: [Tensor<Float>], beta1: Double, beta2: Double, weightDecay: Double) {
        self.parameters = parameters
        self.beta1 = Float(beta1); self.beta2 = Float(beta2); self.weightDecay = Float(weightDecay)
        func zeros(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        m = parameters.map { zeros($0.count) }
        v = parameters.map { zeros($0.count) }
    }

    deinit { for p in m + v { p.deallocate() } }

    /// Parameter i's first and second moments (a checkpoint saves and restores them).
    public func moments(_ i: Int) -> (m: UnsafeMutableBufferPointer<Float>, v: UnsafeMutableBufferPointer<Float>) {
        (UnsafeMutableBufferPointer(start: m[i], count: parameters[i].count), UnsafeMutableBufferPointer(start: v[i], count: parameters[i].count))
    }

    /// One step with learning rate lr, the gradients first multiplied by `gradScale`
    /// (gradient clipping), over `threads` threads that each take a slice of every tensor.
    public func update(learningRate lr: Float, gradScale: Float = 1, threads: Int = 1) {
        step += 1
        let c1 = 1 - pow(beta1, Float(step)), c2 = 1 - pow(beta2, Float(step))
        let stepSize = lr / c1, rc2 = 1 / c2.squareRoot()
        forEachSlice(parameters, threads: threads) { _, i, range in
            let p = parameters[i]
            guard let g = p.grad else { return }
            let decay: Float = p.decays ? 1 - lr * weightDecay : 1
            adamW(w: p.value, g: g, m: m[i], v: v[i], range, gradScale: gradScale, beta1: beta1, beta2: beta2,
                  decay: decay, stepSize: stepSize, rc2: rc2, eps: eps)
        }
    }
}

/// AdamW's update over w[range], eight lanes at a time: each lane does the scalar formula's
/// operations in the same order (no fused multiply-adds), so results match it bit for bit.
/// Scalar square roots and divisions had made this the largest cost outside the kernels.
@inline(__always)
private func adamW(w: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                   v: UnsafeMutablePointer<Float>, _ range: Range<Int>, gradScale: Float, beta1 b1: Float, beta2 b2: Float,
                   decay: Float, stepSize: Float, rc2: Float, eps: Float) {
    typealias V = SIMD8<Float>
    @inline(__always) func load(_ p: UnsafeMutablePointer<Float>, _ j: Int) -> V { UnsafeRawPointer(p + j).loadUnaligned(as: V.self) }
    @inline(__always) func store(_ x: V, _ p: UnsafeMutablePointer<Float>, _ j: Int) { UnsafeMutableRawPointer(p + j).storeBytes(of: x, as: V.self) }
    var j = range.lowerBound
    while j + 8 <= range.upperBound {
        let gj = load(g, j) * gradScale
        let mj = b1 * load(m, j) + (1 - b1) * gj
        let vj = b2 * load(v, j) + (1 - b2) * gj * gj
        store(mj, m, j); store(vj, v, j)
        store(load(w, j) * decay - stepSize * mj / (vj.squareRoot() * rc2 + eps), w, j)
        j += 8
    }
    while j < range.upperBound {
        let gj = g[j] * gradScale
        let mj = b1 * m[j] + (1 - b1) * gj
        let vj = b2 * v[j] + (1 - b2) * gj * gj
        m[j] = mj; v[j] = vj
        w[j] = w[j] * decay - stepSize * mj / (vj.squareRoot() * rc2 + eps)
        j += 1
    }
}

/// The global L2 norm of all gradients, and the factor that brings it down to at most
/// `maxNorm` (torch.nn.utils.clip_grad_norm_: maxNorm / (norm + 1e-6), capped at 1).
public func clipFactor(_ parameters: [Tensor<Float>], maxNorm: Float, threads: Int = 1) -> (norm: Float, scale: Float) {
    clipFactor(squaredNormParts(parameters, threads: threads), maxNorm: maxNorm)
}

/// The same from per-thread, per-tensor sums of squares, added in a fixed order:
/// deterministic, whichever pass computed them.
public func clipFactor(_ parts: [[Double]], maxNorm: Float) -> (norm: Float, scale: Float) {
    let norm = Float(parts.joined().reduce(0, +).squareRoot())
    return (norm, min(1, maxNorm / (norm + 1e-6)))
}

/// Σ g² of each thread's slice (forEachSlice's) of each tensor's gradient → [thread][tensor].
public func squaredNormParts(_ parameters: [Tensor<Float>], threads: Int) -> [[Double]] {
    sliceSums(parameters, threads: threads) { i, range in parameters[i].grad.map { Double(sumOfSquares($0, range)) } ?? 0 }
}

/// Linear warmup from lr/(warmup+1) to lr, then cosine decay to minLR at `total` steps
/// (the PyTorch reference's schedule, step for step).
public func learningRate(step it: Int, total: Int, _ r: Recipe) -> Double {
    if it < r.warmupSteps { return r.learningRate * Double(it + 1) / Double(r.warmupSteps + 1) }
    let ratio = min(1, Double(it - r.warmupSteps) / Double(max(1, total - r.warmupSteps)))
    return r.minLearningRate + 0.5 * (1 + Double.cos(.pi * ratio)) * (r.learningRate - r.minLearningRate)
}
