import ArgumentParser
import Foundation
import Tensor
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the model a config file describes; the last line is key=value pairs.")

    @Argument(help: "A config file (see configs/baseline.yaml).")
    var file: String

    @Option(help: "The corpus text file (default: $EVOLVE_CORPUS, else tinyshakespeare, downloaded once).")
    var corpus: String?

    @Option(help: "Training steps (default: the config's).")
    var steps: Int?

    @Option(help: "Random seed for initialisation and batches (default: the config's).")
    var seed: UInt64?

    @Option(help: "Threads for BLAS and the engine.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            var config = try TrainConfig.load(path: file)
            if let steps {
                guard steps > 0 else { throw Failure(description: "--steps must be positive") }
                config.recipe.steps = steps
            }
            if let seed { config.recipe.seed = seed }
            let data = try Dataset(path: try Corpus.locate(corpus), tokenizer: config.recipe.tokenizer,
                                   trainFraction: config.recipe.trainFraction)
            let model = replicatedGPT(config.model, vocabulary: data.tokenizer.vocabularySize,
                                      recipe: config.recipe, threads: threads)
            let trainer = Trainer(model: model, recipe: config.recipe)
            let r = trainer.train(data, progress: Progress())
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
