import ArgumentParser
import Foundation

/// Options of every command that trains: where the text is and how many threads to use.
struct RunOptions: ParsableArguments {
    @Option(help: "The corpus text file (default: a search space's corpus:, else $EVOLVE_CORPUS, else tinyshakespeare, downloaded once).")
    var corpus: String?

    @Option(parsing: .unconditional, help: "Threads for BLAS and the engine.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    /// One-line errors for values no run can use.
    func check() throws {
        guard threads >= 1 else { throw CommandError(description: "--threads must be at least 1") }
        if let c = corpus, c.isEmpty { throw CommandError(description: "--corpus needs a path") }
    }
}
