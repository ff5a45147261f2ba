import Foundation
import Tensor
import Training

/// The package's root folder (tests read its configs and seed programs).
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The real corpus for end-to-end tests: $EVOLVE_CORPUS, else
/// ../shared/data/tinyshakespeare.txt beside the package (where CI has it). Missing, the
/// test fails and says how to supply it.
public func realCorpus() throws -> String {
    if let path = ProcessInfo.processInfo.environment["EVOLVE_CORPUS"] { return path }
    let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/tinyshakespeare.txt")
    guard FileManager.default.fileExists(atPath: shared.path) else {
        throw CorpusError(description: "end-to-end tests need tinyshakespeare: set EVOLVE_CORPUS to its path")
    }
    return shared.path
}

/// A small generated corpus: four words in random order, a pattern a model learns quickly.
public func syntheticText(_ n: Int = 20_000) -> String {
    let words = ["to be ", "or not ", "that is ", "the question. "]
    var rng = Xoshiro(seed: 1)
    var s = ""
    while s.count < n { s += words[rng.below(words.count)] }
    return s
}
