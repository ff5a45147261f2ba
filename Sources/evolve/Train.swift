import ArgumentParser
import Foundation
import Compiler
import Program
import Tensor
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a program file, or the baseline a config file describes; the last line is key=value pairs.")

    @Argument(help: "A program file (.program, or YAML / JSON with subprograms:) or a config file (configs/baseline.yaml).")
    var file: String

    @Option(help: "For a program: the config whose training recipe to use (default: the baseline recipe).")
    var config: String?


    @Option(help: "Training steps (default: the config's).")
    var steps: Int?

    @Option(help: "Random seed for initialisation and batches (default: the config's).")
    var seed: UInt64?

    @OptionGroup var options: RunOptions

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            let program = try isProgramFile(file) ? Program.load(path: file) : nil
            var config = try program == nil ? TrainConfig.load(path: file)
                                            : self.config.map { try TrainConfig.load(path: $0) } ?? TrainConfig()
            if let steps {
                guard steps > 0 else { throw Failure(description: "--steps must be positive") }
                config.recipe.steps = steps
            }
            if let seed { config.recipe.seed = seed }
            let data = try Dataset(path: try Corpus.locate(options.corpus), tokenizer: config.recipe.tokenizer,
                                   trainFraction: config.recipe.trainFraction)
            let vocabulary = data.tokenizer.vocabularySize
            let model = try program.map { try Compiler($0, vocabulary: vocabulary).replicated(recipe: config.recipe, threads: options.threads) }
                ?? replicatedGPT(config.model, vocabulary: vocabulary, recipe: config.recipe, threads: options.threads)
            let trainer = Trainer(model: model, recipe: config.recipe)
            let r = trainer.train(data, progress: Progress())
            if let program {
                let cost = try program.cost(vocabulary: vocabulary)
                print(keyValues(["program": program.name, "hash": program.hash, "flops_per_token": "\(cost.flopsPerToken)"]),
                      terminator: " ")
            }
            print(keyValues([
                "steps": "\(r.steps)", "seed": "\(config.recipe.seed)",
                "params": "\(model.parameterCount)",
                "train_loss": String(format: "%.4f", r.trainLoss),
                "val_loss": String(format: "%.4f", r.valLoss),
                "train_seconds": String(format: "%.1f", r.seconds),
                "tokens_per_s": String(format: "%.0f", r.tokensPerSecond),
            ]))
        }
    }
}

/// A program file: the text form by extension, or YAML / JSON with a `subprograms` key.
func isProgramFile(_ path: String) -> Bool {
    if path.hasSuffix(".program") { return true }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
    return text.contains("subprograms:") || text.contains("\"subprograms\"")
}
