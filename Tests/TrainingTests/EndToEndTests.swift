import Foundation
import Testing
import Config
import Tensor
@testable import Training
import TestSupport

@Suite("end to end on tinyshakespeare")
struct EndToEndTests {
    @Test func corpusIsTheReferenceText() throws {
        let d = try Dataset(path: realCorpus())
        #expect(d.tokenizer.vocabularySize == 65)
        #expect(d.train.count == 1_003_854 && d.validation.count == 111_540)
    }

    /// The baseline recipe, 300 steps: the loss must leave the uniform 4.17 far behind.
    @Test func baselineLearns() throws {
        let d = try Dataset(path: realCorpus())
        var c = TrainConfig()
        c.recipe.steps = 300
        let r = train(c, d)
        #expect(r.losses.first! > 4.0)
        #expect(r.valLoss < 2.45, "val_loss \(r.valLoss) after 300 steps")
    }
}
