import ArgumentParser
import Foundation
import Config
import Program
import Tensor
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a program file, or the baseline a config file describes; the last line is key=value pairs.")

    @Argument(help: "A program file (.program, or YAML / JSON with subprograms:) or a config file (configs/baseline.yaml); none with --resume.")
    var file: String?

    @Option(help: "The config whose training recipe to use (default: the file's own, or for a program file the baseline recipe); its model: is ignored when FILE names a program.")
    var config: String?


    @Option(parsing: .unconditional, help: "Training steps (default: the config's).")
    var steps: Int?

    @Option(parsing: .unconditional, help: "Random seed for initialisation and batches (default: the config's).")
    var seed: UInt64?

    @Option(help: "What the products multiply in: float32 or bfloat16 (default: the config's, else bfloat16 where the CPU multiplies it natively (AMX, AVX512-BF16) and float32 elsewhere).")
    var precision: Precision?

    @Flag(help: "Train a program even when it reads later tokens (the causality probe fails); it warns instead of refusing.")
    var allowNoncausal = false

    @Option(help: "Save a checkpoint in this folder at the end: the weights (model.safetensors, named as the program's parameters), the optimizer's state, the step and data position, the program and its config.")
    var save: String?

    @Option(parsing: .unconditional, help: "With --save: also a checkpoint every N steps (each replaces the last); a resumed run keeps its N.")
    var saveEvery: Int?

    @Option(help: "Go on with the run saved in this folder (its program, config, steps, seed and threads), saving there; it ends with exactly the losses of an uninterrupted run.")
    var resume: String?

    @OptionGroup var options: RunOptions

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            try options.check()
            if let n = saveEvery, n < 1 { throw CommandError(description: "--save-every must be at least 1") }
            if saveEvery != nil && save == nil && resume == nil { throw CommandError(description: "--save-every needs --save DIR") }
            if let file, resume != nil { throw CommandError(description: "--resume DIR takes the program from the checkpoint; leave out \(file)") }
            if precision != nil && resume != nil { throw CommandError(description: "--resume DIR goes on in the precision its run took; leave out --precision") }
            let saved = try resume.map { try SavedRun.load($0) }
            if let save { try Checkpoint.checkWritable(save) }
            let (program, config) = try saved.map { try $0.programAndConfig() } ?? programAndConfig()
            let threads = saved?.threads ?? options.threads
            let r = config.recipe
            let data = try options.dataset(r, fallbackData: config.data)
            let run: Run
            do { run = try Run(program, recipe: r, data: data, threads: threads, causality: allowNoncausal ? .allow : .refuse) } catch let e as NoncausalError {
                throw CommandError(description: "\(e). --allow-noncausal trains it anyway")
            }
            if let why = run.noncausal {
                FileHandle.standardError.write("evolve: warning: \(why); training it because of --allow-noncausal\n".data(using: .utf8)!)
            }
            let v = run.validation
            FileHandle.standardError.write(("validation: \(v.targets) tokens in \(v.starts.count) windows "
                + (v.sampled ? "(a fixed sample of the split's \(data.validation.count) tokens; the recipe's validation_tokens sets its size)\n" : "(the whole split)\n")).data(using: .utf8)!)
            let resumed = try resume.map { try Checkpoint.restore(run.trainer, from: $0) }
            let folder = save ?? resume
            let progress = ProgressLine()
            var hooks = TrainingHooks()
            hooks.step = progress.update
            hooks.saveEvery = saveEvery ?? saved?.saveEvery
            let files = try SavedRun(program: program, config: config, configText: try configText(), steps: steps, seed: seed,
                                     precision: r.products, threads: threads, saveEvery: hooks.saveEvery).files(carrying: saved)
            if let folder { hooks.save = { try Checkpoint.save(run.trainer, $0, files: files, to: folder) } }
            let result = try run.train(resume: resumed, hooks: hooks)
            progress.finish()
            try run.checkFinite(result)
            print(keyValues([
                "program": program.name, "hash": program.hash, "flops_per_token": "\(run.cost.flopsPerToken)",
                "steps": "\(result.steps)", "seed": "\(r.seed)", "precision": r.products.label, "params": "\(run.model.parameterCount)",
                "train_loss": String(format: "%.4f", result.trainLoss),
                "val_loss": String(format: "%.6f", result.valLoss),
                "val_bpb": String(format: "%.6f", result.valBitsPerByte),
                "loss_unit": "nats_per_token", "tokenizer": data.tokenizer.name,
                "train_seconds": String(format: "%.1f", result.seconds),
                "tokens_per_s": String(format: "%.0f", result.tokensPerSecond),
            ]))
        }
    }

    /// The config file's text, if the run has one (the file itself, or --config).
    func configText() throws -> String? {
        guard let file, resume == nil else { return nil }
        let path = try config ?? (TrainConfig.trainable(file).1 != nil ? file : nil)
        return try path.map { try String(contentsOfFile: $0, encoding: .utf8) }
    }

    /// The program to train and its config, with the command line's overrides.
    func programAndConfig() throws -> (Program, TrainConfig) {
        guard let file else { throw CommandError(description: "a program or config file is needed (or --resume DIR)") }
        let (program, fileConfig) = try TrainConfig.trainable(file)
        var config = fileConfig ?? TrainConfig()
        // --config's recipe replaces the file's (a found program retrained with the baseline recipe).
        if let path = self.config { config = try TrainConfig.load(path: path) }
        if let steps, steps <= 0 { throw CommandError(description: "--steps must be positive") }
        config.recipe.override(steps: steps, seed: seed, precision: precision)
        return (program, config)
    }
}

/// What a checkpoint folder keeps of the command that made it, to resume it: the program's
/// text, the config's text and the overrides (steps, seed, threads) in `run.json`, with the
/// precision the run took (a machine's default may differ on the machine that resumes it).
struct SavedRun: Codable {
    var steps: Int?
    var seed: UInt64?
    /// Absent from runs saved before bfloat16 existed: they ran float32.
    var precision: Precision?
    var threads: Int
    var saveEvery: Int?
    var program: String
    var config: String?

    init(program: Program, config: TrainConfig, configText: String?, steps: Int?, seed: UInt64?, precision: Precision,
         threads: Int, saveEvery: Int?) {
        self.program = program.text; self.config = configText; self.steps = steps; self.seed = seed; self.threads = threads
        self.precision = precision
        self.saveEvery = saveEvery
    }

    /// The files to save: program.program, config.yaml (if any), run.json; a resumed run
    /// keeps the ones it was resumed from.
    func files(carrying saved: SavedRun?) throws -> [String: String] {
        let run = saved ?? self
        var files = ["program.program": run.program, "run.json": String(decoding: try JSONEncoder().encode(run), as: UTF8.self)]
        if let c = run.config { files["config.yaml"] = c }
        return files
    }

    static func load(_ dir: String) throws -> SavedRun {
        _ = try Checkpoint.complete(dir)
        guard let text = try Checkpoint.file("run.json", in: dir) else {
            throw CommandError(description: "\(dir): a checkpoint without run.json; it cannot be resumed")
        }
        do { return try JSONDecoder().decode(SavedRun.self, from: Data(text.utf8)) } catch {
            throw CommandError(description: "\(dir)/run.json: not a saved run (\(error))")
        }
    }

    /// The program and config to resume with, the overrides applied as the first run did.
    func programAndConfig() throws -> (Program, TrainConfig) {
        let p = try Program(text: program)
        var config = try self.config.map { try TrainConfig.parse($0, file: "the checkpoint's config.yaml") } ?? TrainConfig()
        config.recipe.override(steps: steps, seed: seed, precision: precision ?? .float32)
        return (p, config)
    }
}

extension Recipe {
    /// The command line's --steps, --seed and --precision over a recipe (a shorter run drops a
    /// stop point past its end).
    mutating func override(steps: Int?, seed: UInt64?, precision: Precision? = nil) {
        if let steps {
            self.steps = steps
            if let stop = stopAfter, stop > steps { stopAfter = nil }
        }
        if let seed { self.seed = seed }
        if let precision { self.precision = precision }
    }
}

extension Precision: ExpressibleByArgument {}
