import Foundation
import Primitives
import Testing

/// Primer's compute speedup, the rule `evolve scale` and a ladder's rungs share, on curves
/// whose answer is known: a program that reaches every loss with k times less compute than
/// the reference (loss linear in log-FLOPs, which the rule's interpolation is exact on).
@Suite("compute speedup")
struct ComputeSpeedupTests {
    @Test func aCurveShiftedInComputeHasThatSpeedup() {
        var rng = Xoshiro(seed: 7)
        for trial in 0..<200 {
            let a = 3 + 5 * rng.uniform(), b = 0.05 + 0.5 * rng.uniform()
            let k = exp(5 * rng.uniform() - 2.5)                     // 0.08x … 12x
            let n = 2 + rng.below(15), step = 1e9 * (1 + 9 * rng.uniform())
            let flops = (1...n).map { Double($0) * step }
            func loss(_ f: Double) -> Double { a - b * log(f) }
            let reference = flops.map { ($0, loss($0)) }, program = flops.map { ($0, loss(k * $0)) }
            // Within the curves' span (n: last checkpoint ÷ first) the speedup is k; beyond it, the span's bound.
            let expected = max(min(k, Double(n)), 1 / Double(n))
            let s = ComputeSpeedup.of(program, over: reference)
            #expect(s != nil && abs(s! / expected - 1) < 1e-9, "trial \(trial): \(String(describing: s)) for k \(k) over \(n) checkpoints")
            // The other way round, the inverse; against itself, 1.
            #expect(abs(ComputeSpeedup.of(reference, over: program)! * expected - 1) < 1e-9)
            #expect(ComputeSpeedup.of(reference, over: reference) == 1)
        }
    }

    @Test func curvesWithoutAnAnswer() {
        let c: ComputeSpeedup.Curve = [(1, 3.0), (2, 2.5)]
        #expect(ComputeSpeedup.of([], over: c) == nil && ComputeSpeedup.of(c, over: []) == nil)
        #expect(ComputeSpeedup.of([(1, 3.0), (2, .nan)], over: c) == nil && ComputeSpeedup.of(c, over: [(1, 3.0), (2, .infinity)]) == nil)
        // The mean of runs at the same checkpoints; none where they differ.
        #expect(ComputeSpeedup.mean([c, [(1, 2.0), (2, 1.5)]])!.map(\.loss) == [2.5, 2.0])
        #expect(ComputeSpeedup.mean([c, [(1, 2.0), (3, 1.5)]]) == nil && ComputeSpeedup.mean([c, [(1, 2.0)]]) == nil)
    }
}
