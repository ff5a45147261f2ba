import Foundation

/// Primer's compute speedup, read off loss curves: how many times less training compute one
/// program needs than a reference to reach the same validation loss. `evolve scale` reads it
/// at each model size, a ladder at each rung; the rule is stated here once.
public enum ComputeSpeedup {
    /// A validation loss after some training compute (FLOPs, or anything proportional to them).
    public typealias Curve = [(flops: Double, loss: Double)]

    /// Training FLOPs at which a decreasing loss curve first reaches `loss`, interpolated
    /// linearly in log-FLOPs between checkpoints; nil if it never does.
    public static func flops(toReach loss: Double, on curve: Curve) -> Double? {
        guard let j = curve.firstIndex(where: { $0.loss <= loss }) else { return nil }
        guard j > 0 else { return curve[0].flops }
        let (a, b) = (curve[j - 1], curve[j])
        let t = (a.loss - loss) / (a.loss - b.loss)
        return exp(log(a.flops) + t * (log(b.flops) - log(a.flops)))
    }

    /// The compute speedup of `curve` over `reference`: the ratio of the training FLOPs each
    /// needs to reach the worse of their two final losses (so both reach it). > 1: `curve`
    /// needs less compute. Nil where either curve is empty or a loss is not finite. A curve
    /// that is already below the target at its first checkpoint is read as reaching it there,
    /// so no speedup beyond the reference's span (last checkpoint's FLOPs ÷ first) is shown.
    public static func of(_ curve: Curve, over reference: Curve) -> Double? {
        guard let a = curve.last, let b = reference.last, a.loss.isFinite, b.loss.isFinite else { return nil }
        let target = max(a.loss, b.loss)
        guard let mine = flops(toReach: target, on: curve), let theirs = flops(toReach: target, on: reference) else { return nil }
        return theirs / mine
    }

    /// The mean of curves measured at the same checkpoints (runs of one program over training
    /// seeds); nil where their checkpoints differ.
    public static func mean(_ curves: [Curve]) -> Curve? {
        guard let first = curves.first, curves.allSatisfy({ $0.count == first.count && zip($0, first).allSatisfy { $0.flops == $1.flops } })
        else { return nil }
        return first.indices.map { i in (first[i].flops, curves.map { $0[i].loss }.reduce(0, +) / Double(curves.count)) }
    }
}
