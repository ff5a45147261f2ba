import ArgumentParser
import Foundation
import Search
import Store
import Training

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Run (or resume) an evolutionary search over a search-space file.")

    @Argument(help: "A search-space file (see search-spaces/).")
    var space: String

    @Option(help: "The study database (default: results/<space name>.db).")
    var db: String?

    @Option(help: "Stop when the study has this many completed candidates.")
    var candidates = 100


    @OptionGroup var options: RunOptions

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            let s = try SearchSpace.load(path: space)
            let store = try Store(path: db ?? "results/\(s.name).db")
            let data = try Dataset(path: try Corpus.locate(options.corpus), tokenizer: s.recipe.tokenizer,
                                   trainFraction: s.recipe.trainFraction)
            let evolution = try Evolution(space: s, store: store, data: data, threads: options.threads)
            try evolution.run(until: candidates)
            let done = try store.completed(study: evolution.study.id!)
            let best = done.filter { $0.fitness != nil }.min { $0.fitness! < $1.fitness! }
            let counts = try store.counts(study: evolution.study.id!)
            print(keyValues([
                "completed": "\(counts.done + counts.failed)", "failed": "\(counts.failed)", "running": "\(counts.running)",
                "best_val_loss": best.map { String(format: "%.4f", $0.fitness!) } ?? "nan",
                "best_id": best.map { "\($0.id!)" } ?? "none",
            ]))
        }
    }
}
