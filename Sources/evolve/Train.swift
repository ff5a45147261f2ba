import ArgumentParser
import Foundation
import Compiler
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
            var (program, config) = try trainable(file)
            if let path = self.config {
                guard program != nil else { throw Failure(description: "--config is for program files; \(file) is a config") }
                config = try TrainConfig.load(path: path)
            }
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

/// What a file to train holds: a program (text form, or YAML / JSON with `subprograms:`)
/// with the default recipe, or a config — whose `program:` section, if any, is the model.
func trainable(_ path: String) throws -> (Program?, TrainConfig) {
    let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
    if !["yaml", "yml", "json"].contains(ext) { return (try Program.load(path: path), TrainConfig()) }
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    if let root = try? Yams.load(yaml: text) as? [String: Any], root["subprograms"] != nil {
        return (try Program.load(path: path), TrainConfig())
    }
    let config = try TrainConfig.load(path: path)
    switch config.program {
    case nil: return (nil, config)
    case .path(let p)?: return (try Program.load(path: p), config)
    case .yaml(let y)?:
        let p = try Program(yaml: y, file: "\(path): program")
        do { try p.validate() } catch { throw Failure(description: "\(path): program: \(error)") }
        return (p, config)
    }
}
