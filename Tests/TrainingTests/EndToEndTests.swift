import Foundation
import Testing
import Tensor
@testable import Training

/// The real corpus: $EVOLVE_CORPUS, else ../shared/data/tinyshakespeare.txt beside the
/// package (where CI has it). Missing, the test fails and says how to supply it.
func realCorpus() throws -> String {
    if let path = ProcessInfo.processInfo.environment["EVOLVE_CORPUS"] { return path }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let shared = root.deletingLastPathComponent().appendingPathComponent("shared/data/tinyshakespeare.txt")
    guard FileManager.default.fileExists(atPath: shared.path) else {
        throw CorpusError(description: "end-to-end tests need tinyshakespeare: set EVOLVE_CORPUS to its path")
    }
    return shared.path
}

@Suite("end to end on tinyshakespeare")
struct EndToEndTests {
    @Test func corpusIsTheReferenceText() throws {
        let d = try Dataset(path: realCorpus())
        #expect(d.tokenizer.vocabularySize == 65)
        #expect(d.train.count == 1_003_854 && d.validation.count == 111_540)
    }

    /// The baseline recipe, 300 steps: the loss must leave the uniform 4.17 far behind.
    @Test func baselineLearns() throws {
        Threads.set(2)
        let d = try Dataset(path: realCorpus())
        var c = TrainConfig()
        c.recipe.steps = 300
        let r = train(c, d)
        #expect(r.losses.first! > 4.0)
        #expect(r.valLoss < 2.45, "val_loss \(r.valLoss) after 300 steps")
    }
}
