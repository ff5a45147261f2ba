import ArgumentParser
import Foundation
import Compiler
import Config
import Program
import Search
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

    @Flag(help: "Train a program even when it reads later tokens (the causality probe fails); it warns instead of refusing.")
    var allowNoncausal = false

    @OptionGroup var options: RunOptions

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            try options.check()
            let (program, config) = try programAndConfig()
            let r = config.recipe
            let data = try Dataset(path: try Corpus.locate(options.corpus), tokenizer: r.tokenizer, trainFraction: r.trainFraction)
            try data.check(context: program.genes.context, trainFraction: r.trainFraction)
            let vocabulary = data.tokenizer.vocabularySize
            let compiler = try Compiler(program, vocabulary: vocabulary)
            try compiler.checkMemory(batch: r.batchSize)
            if !probe(compiler, data: data, initStd: r.initStd).causal {
                let what = "\(program.name) reads later tokens (its outputs change when a later token does)"
                guard allowNoncausal else { throw CommandError(description: "\(what); its loss would be a cheat. --allow-noncausal trains it anyway") }
                FileHandle.standardError.write("evolve: warning: \(what); training it because of --allow-noncausal\n".data(using: .utf8)!)
            }
            let model = compiler.replicated(batch: r.batchSize, initStd: r.initStd, seed: r.seed, threads: options.threads, replicas: r.replicas)
            let progress = ProgressLine()
            let result = Trainer(model: model, recipe: r).train(data, progress: progress.update)
            progress.finish()
            if let step = result.divergedAt {
                throw CommandError(description: "\(program.name) diverged at step \(step) (loss \(result.losses.last!)); try a lower learning_rate")
            }
            let cost = try program.cost(vocabulary: vocabulary)
            print(keyValues([
                "program": program.name, "hash": program.hash, "flops_per_token": "\(cost.flopsPerToken)",
                "steps": "\(result.steps)", "seed": "\(r.seed)", "params": "\(model.parameterCount)",
                "train_loss": String(format: "%.4f", result.trainLoss),
                "val_loss": String(format: "%.6f", result.valLoss),
                "loss_unit": r.tokenizer == .byte ? "nats_per_byte" : "nats_per_char",
                "train_seconds": String(format: "%.1f", result.seconds),
                "tokens_per_s": String(format: "%.0f", result.tokensPerSecond),
            ]))
        }
    }

    /// The program to train and its config, with the command line's overrides.
    func programAndConfig() throws -> (Program, TrainConfig) {
        let (program, fileConfig) = try TrainConfig.trainable(file)
        var config = fileConfig ?? TrainConfig()
        if let path = self.config {
            guard fileConfig == nil else { throw CommandError(description: "--config is for program files; \(file) is a config") }
            config = try TrainConfig.load(path: path)
        }
        if let steps {
            guard steps > 0 else { throw CommandError(description: "--steps must be positive") }
            config.recipe.steps = steps
            if let stop = config.recipe.stopAfter, stop > steps { config.recipe.stopAfter = nil }
        }
        if let seed { config.recipe.seed = seed }
        return (program, config)
    }
}
