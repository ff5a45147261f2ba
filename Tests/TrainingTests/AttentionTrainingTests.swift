import Testing
import Config
@testable import Tensor
@testable import Training
import TestSupport

/// The baseline recipe for 100 float32 steps: two runs of it that differ in one kernel differ
/// only by float32 rounding carried through 100 updates.
private func hundredSteps() -> TrainConfig {
    var c = TrainConfig()
    c.recipe.steps = 100
    c.recipe.precision = .float32   // unset is bfloat16 on AMX and AVX512-BF16 machines, whose rounding would magnify float32's
    return c
}

/// The largest difference between two runs' losses, step by step, and its step (from 1).
private func largestDifference(_ a: TrainResult, _ b: TrainResult) -> (value: Float, step: Int) {
    let differences = zip(a.losses, b.losses).map { Swift.abs($0 - $1) }
    let worst = differences.max() ?? .infinity
    return (worst, differences.firstIndex(of: worst).map { $0 + 1 } ?? 0)
}

@Suite("fused attention in training")
struct AttentionTrainingTests {
    /// 100 steps of the baseline recipe with the fused attention kernel and with the kernel
    /// it replaced: the same batches and initialisation, so the losses differ only by
    /// float32 rounding, carried through 100 updates.
    @Test func lossesEqualTheReferenceKernel() throws {
        let d = try Dataset(path: realCorpus())
        let c = hundredSteps()
        let fused = AttentionReference.$enabled.withValue(false) { train(c, d) }
        let reference = AttentionReference.$enabled.withValue(true) { train(c, d) }
        #expect(fused.losses.count == 100 && reference.losses.count == 100)
        let worst = largestDifference(fused, reference)
        print("fused against reference attention, 100 steps: largest loss difference \(worst.value) "
              + "(step \(worst.step)), last losses \(fused.losses.last!) and \(reference.losses.last!)")
        #expect(worst.value < 1e-4)
    }
}

@Suite("bfloat16 products in training")
struct BFloat16TrainingTests {
    /// 100 steps of the baseline recipe with its products in bfloat16 and in float32, from the
    /// same initialisation and batches: bfloat16 is not float32 rounding, so the curves part,
    /// but a run whose products were wrong (a transposed panel, a lost tail) would not track
    /// the float32 curve to within a few hundredths of a nat while both fall from 4.2.
    @Test func lossesTrackFloat32() throws {
        let d = try Dataset(path: realCorpus())
        var c = hundredSteps()
        let full = train(c, d)
        c.recipe.precision = .bfloat16
        let half = train(c, d)
        let worst = largestDifference(half, full).value
        print("\(Precision.bfloat16.label) against float32, 100 steps: largest loss difference \(worst), "
              + "last losses \(half.losses.last!) and \(full.losses.last!)")
        #expect(half.losses.count == 100 && worst < 0.05 && worst > 0)
        #expect(full.losses.last! < full.losses.first! - 1 && half.losses.last! < half.losses.first! - 1)
        // The same precision twice is the same run.
        #expect(train(c, d).losses == half.losses)
    }
}

@Suite("GELU in AVX-512 in training")
struct WideGELUTrainingTests {
    /// 100 float32 steps of the baseline with GELU in AVX-512 C and in the Swift loops: the
    /// losses differ only by float32 rounding carried through 100 updates.
    @Test(.enabled(if: WideGELU.available, "this CPU has no AVX-512: GELU runs the Swift loops only"))
    func lossesEqualTheLoops() throws {
        let d = try Dataset(path: realCorpus())
        let c = hundredSteps()
        let wide = WideGELU.$enabled.withValue(true) { train(c, d) }
        let loops = WideGELU.$enabled.withValue(false) { train(c, d) }
        let worst = largestDifference(wide, loops).value
        print("GELU in AVX-512 against the loops, 100 steps: largest loss difference \(worst)")
        #expect(wide.losses.count == 100 && worst < 1e-4)
    }
}
