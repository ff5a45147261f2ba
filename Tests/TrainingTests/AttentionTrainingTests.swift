import Testing
import Config
@testable import Tensor
@testable import Training
import TestSupport

@Suite("fused attention in training")
struct AttentionTrainingTests {
    /// 100 steps of the baseline recipe with the fused attention kernel and with the kernel
    /// it replaced: the same batches and initialisation, so the losses differ only by
    /// float32 rounding, carried through 100 updates.
    @Test func lossesEqualTheReferenceKernel() throws {
        let d = try Dataset(path: realCorpus())
        var c = TrainConfig()
        c.recipe.steps = 100
        let fused = AttentionReference.$enabled.withValue(false) { train(c, d) }
        let reference = AttentionReference.$enabled.withValue(true) { train(c, d) }
        #expect(fused.losses.count == 100 && reference.losses.count == 100)
        let differences = zip(fused.losses, reference.losses).map { Swift.abs($0 - $1) }
        let worst = differences.max() ?? .infinity
        print("fused against reference attention, 100 steps: largest loss difference \(worst) "
              + "(step \(differences.firstIndex(of: worst).map { $0 + 1 } ?? 0)), last losses \(fused.losses.last!) and \(reference.losses.last!)")
        #expect(worst < 1e-4)
    }
}
