import ArgumentParser
import Foundation
import Compiler
import Config
import Program
import Tensor
import Training
import Yams

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
            let (program, fileConfig) = try TrainConfig.trainable(file)
            var config = fileConfig ?? TrainConfig()
            if let path = self.config {
                guard fileConfig == nil else { throw CommandError(description: "--config is for program files; \(file) is a config") }
                config = try TrainConfig.load(path: path)
            }
            if let steps {
                guard steps > 0 else { throw CommandError(description: "--steps must be positive") }
                config.recipe.steps = steps
            }
            if let seed { config.recipe.seed = seed }
            let data = try Dataset(path: try Corpus.locate(options.corpus), tokenizer: config.recipe.tokenizer,
                                   trainFraction: config.recipe.trainFraction)
            let vocabulary = data.tokenizer.vocabularySize
            let r = config.recipe
            let model = try Compiler(program, vocabulary: vocabulary)
                .replicated(batch: r.batchSize, initStd: r.initStd, seed: r.seed, threads: options.threads, replicas: r.replicas)
            let trainer = Trainer(model: model, recipe: config.recipe)
            let progress = ProgressLine()
            let result = trainer.train(data, progress: progress.update)
            progress.finish()
            let cost = try program.cost(vocabulary: vocabulary)
            print(keyValues(["program": program.name, "hash": program.hash, "flops_per_token": "\(cost.flopsPerToken)"]),
                  terminator: " ")
            print(keyValues([
                "steps": "\(result.steps)", "seed": "\(config.recipe.seed)",
                "params": "\(model.parameterCount)",
                "train_loss": String(format: "%.4f", result.trainLoss),
                "val_loss": String(format: "%.4f", result.valLoss),
                "train_seconds": String(format: "%.1f", result.seconds),
                "tokens_per_s": String(format: "%.0f", result.tokensPerSecond),
            ]))
        }
    }
}

