import Foundation
import Tensor

/// AdamW (Loshchilov & Hutter), as torch.optim.AdamW: decoupled weight decay on the
/// parameters marked `decays`, bias-corrected moments, eps 1e-8. Updates in place.
public final class AdamW {
    public let parameters: [Tensor<Float>]
    public var beta1: Float, beta2: Float, weightDecay: Float, eps: Float = 1e-8
    private var m: [UnsafeMutablePointer<Float>]
    private var v: [UnsafeMutablePointer<Float>]
    public private(set) var step = 0

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

    public func update(learningRate lr: Float) {
        step += 1
        let c1 = 1 - pow(beta1, Float(step)), c2 = 1 - pow(beta2, Float(step))
        let stepSize = lr / c1, rc2 = 1 / c2.squareRoot()
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let w = p.value, mi = m[i], vi = v[i]
            let decay: Float = p.decays ? 1 - lr * weightDecay : 1
            let b1 = beta1, b2 = beta2, eps = eps
            for j in 0..<p.count {
                let gj = g[j]
                let mj = b1 * mi[j] + (1 - b1) * gj
                let vj = b2 * vi[j] + (1 - b2) * gj * gj
                mi[j] = mj; vi[j] = vj
                w[j] = w[j] * decay - stepSize * mj / (vj.squareRoot() * rc2 + eps)
            }
        }
    }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`; returns the norm
/// before clipping (torch.nn.utils.clip_grad_norm_).
@discardableResult
public func clipGradients(_ parameters: [Tensor<Float>], maxNorm: Float) -> Float {
    var sum: Double = 0
    for p in parameters {
        guard let g = p.grad else { continue }
        var s: Float = 0
        for j in 0..<p.count { s += g[j] * g[j] }
        sum += Double(s)
    }
    let norm = Float(sum.squareRoot())
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        for p in parameters {
            guard let g = p.grad else { continue }
            for j in 0..<p.count { g[j] *= coef }
        }
    }
    return norm
}

/// Linear warmup from lr/(warmup+1) to lr, then cosine decay to minLR at `total` steps
/// (the PyTorch reference's schedule, step for step).
public func learningRate(step it: Int, total: Int, _ r: Recipe) -> Double {
    if it < r.warmupSteps { return r.learningRate * Double(it + 1) / Double(r.warmupSteps + 1) }
    let ratio = min(1, Double(it - r.warmupSteps) / Double(max(1, total - r.warmupSteps)))
    return r.minLearningRate + 0.5 * (1 + Double.cos(.pi * ratio)) * (r.learningRate - r.minLearningRate)
}
