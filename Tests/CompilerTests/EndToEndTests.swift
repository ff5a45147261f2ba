import Foundation
import Testing
import Tensor
@testable import Compiler
@testable import Program
@testable import Training
import TestSupport

@Suite("compiled programs on tinyshakespeare")
struct CompiledEndToEndTests {
    /// The vanilla seed program and the hand-built baseline, 100 steps of the real recipe
    /// from the same seed: every step's loss within 1e-4.
    @Test func vanillaSeedTrainsLikeTheBaseline() throws {
        let data = try Dataset(path: realCorpus())
        let r = Recipe(), v = data.tokenizer.vocabularySize
        let compiled = Trainer(model: try Compiler(seed("vanilla"), vocabulary: v).replicated(recipe: r, threads: 2), recipe: r)
            .train(data, steps: 100)
        let baseline = Trainer(model: replicatedGPT(ModelConfig(), vocabulary: v, recipe: r, threads: 2), recipe: r)
            .train(data, steps: 100)
        #expect(compiled.losses.count == 100)
        for (a, b) in zip(compiled.losses, baseline.losses) { #expect(Swift.abs(a - b) <= 1e-4) }
        #expect(Swift.abs(compiled.valLoss - baseline.valLoss) <= 1e-4)
    }
}
