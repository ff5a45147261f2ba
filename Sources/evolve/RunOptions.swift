import ArgumentParser
import Foundation
import Training

/// Options of every command that trains: where the text is and how many threads to use.
struct RunOptions: ParsableArguments {
    @Option(help: "The corpus text file (default: a search space's corpus:, else $EVOLVE_CORPUS, else tinyshakespeare, downloaded once).")
    var corpus: String?

    @Option(help: "A prepared data folder (evolve data prepare: train.bin, val.bin, meta.json) to train on instead of --corpus.")
    var data: String?

    @Option(parsing: .unconditional, help: "Threads for BLAS and the engine.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    /// One-line errors for values no run can use.
    func check() throws {
        guard threads >= 1 else { throw CommandError(description: "--threads must be at least 1") }
        if let c = corpus, c.isEmpty { throw CommandError(description: "--corpus needs a path") }
        if corpus != nil && data != nil { throw CommandError(description: "--corpus and --data name two texts; give one") }
    }

    /// The text a run trains on — the one front door for both kinds: `--data DIR` (a prepared
    /// folder), else `--corpus PATH`, else the space's `corpus:` (`fallback`), else
    /// $EVOLVE_CORPUS, else tinyshakespeare; a corpus is tokenised as the recipe says.
    func dataset(_ recipe: Recipe, fallback: String? = nil, fallbackData: String? = nil) throws -> Dataset {
        if let folder = data ?? (corpus == nil ? fallbackData : nil) { return try Dataset(folder: folder) }
        return try Dataset(path: try Corpus.locate(corpus ?? fallback), tokenizer: recipe.tokenizer, trainFraction: recipe.trainFraction)
    }
}
