import Compiler
import Foundation
import Model
import Primitives
import Program

/// One training run of a program: the path every job takes — the search's candidates,
/// `evolve train`, `scale`, `reproduce` and `bench` — so that each checks the same things.
///
/// Preparing it (`init`) validates and compiles the program, checks the data holds a window
/// of its context and that its training fits in memory; `probe` tells what it computes and
/// whether it is causal; the model and its trainer are built at first use (a search that
/// takes an earlier result for a twin never builds them); `train` runs the one training
/// loop (`Trainer.train`) with evaluations at marks and the job's hooks.
public final class Run {
    public let program: Program
    public let recipe: Recipe
    public let data: Dataset
    public let threads: Int
    public let compiler: Compiler
    public let cost: Cost
    /// Who trains it: evolve's engine, or PyTorch in a child process (`Run+Torch.swift`).
    public let engine: TrainingEngine

    /// Whether a program that reads later tokens may train.
    public enum Causality { case refuse, allow }

    /// Prepares a run; throws before the model is built: a program that does not validate
    /// (`CompileError`), data too short for its context, a model too large for memory, and
    /// (unless `causality` allows it) a program that reads later tokens (`NoncausalError`).
    public init(_ program: Program, recipe: Recipe, data: Dataset, threads: Int, causality: Causality = .refuse,
                engine: TrainingEngine = .evolve) throws {
        try data.check(context: program.genes.context, trainFraction: recipe.trainFraction)
        compiler = try Compiler(program, vocabulary: data.tokenizer.vocabularySize)
        try compiler.checkMemory(batch: recipe.batchSize)
        cost = try program.cost(vocabulary: data.tokenizer.vocabularySize)
        self.program = program; self.recipe = recipe; self.data = data; self.threads = threads; self.engine = engine
        if causality == .refuse, let why = noncausal { throw NoncausalError(description: why) }
    }

    /// What a program computes, in a word — the per-position losses of a fixed-seed
    /// initialisation on the first two validation windows (rounded to 4 decimals, so
    /// summation order does not matter) with the parameter count; programs that differ in
    /// text but compute the same function share it, as in AutoML-Zero's cache — and whether
    /// it is causal (a program that sees later tokens would win by cheating).
    public private(set) lazy var probe: (fingerprint: String, causal: Bool) = {
        let model = ReplicatedModel(batch: 2, threads: 1) { compiler.build(batch: $0, initStd: recipe.initStd, seed: 0x5EED_F1A9) }
        let (losses, causal) = Training.probe(model, on: data.validation, vocabulary: data.tokenizer.vocabularySize)
        let words = ["\(model.parameterCount)"] + losses.map { String(format: "%.4f", $0) }
        return (String(StableHash.of(words.joined(separator: " ")), radix: 16), causal)
    }()

    /// The sentence that says a program is not causal, for the jobs that refuse or warn.
    public var noncausal: String? {
        probe.causal ? nil : "\(program.name) reads later tokens (its outputs change when a later token does); its loss would be a cheat"
    }

    /// The model over the run's replicas, and the trainer of the recipe; built at first use.
    public private(set) lazy var trainer: Trainer = {
        Trainer(model: compiler.replicated(batch: recipe.batchSize, initStd: recipe.initStd, seed: recipe.seed,
                                           threads: threads, replicas: recipe.replicas,
                                           precision: recipe.products), recipe: recipe)
    }()

    public var model: ReplicatedModel { trainer.model }

    /// The windows every evaluation of this run scores (the same for every run on this data
    /// with this context and limit: a study's candidates are measured on the same text).
    public private(set) lazy var validation = data.validationSet(context: program.genes.context, limit: recipe.validationTokens)

    /// The replicas the batch's rows are split over (`ReplicatedModel`), known before the model is built.
    public var replicas: Int { ReplicatedModel.count(batch: recipe.batchSize, threads: recipe.replicas ?? threads) }

    /// Tokens of one step (every replica's rows).
    public var tokensPerStep: Int { recipe.batchSize * program.genes.context }

    /// Trains a `schedule`-step schedule (default: the recipe's), evaluating at each of
    /// `marks` and at the end, with the run's engine; see `Trainer.train` for the hooks and
    /// `resume` (evolve's engine only: PyTorch's trainer keeps no checkpoints).
    public func train(schedule: Int? = nil, marks: [Int] = [], resume: TrainingState? = nil,
                      hooks: TrainingHooks = TrainingHooks()) throws -> TrainResult {
        switch engine {
        case .evolve:
            return try trainer.train(data, schedule: schedule, marks: marks, resume: resume, validation: validation, hooks: hooks)
        case .pytorch(let torch):
            precondition(resume == nil && hooks.save == nil, "PyTorch's trainer neither resumes nor saves checkpoints")
            return try trainInTorch(torch, schedule: schedule, marks: marks, hooks: hooks)
        }
    }

    /// Throws the one-line error of a run that diverged; the jobs that cannot record a
    /// divergence (all but the search) call it on their result.
    public func checkFinite(_ result: TrainResult) throws {
        guard let step = result.divergedAt else { return }
        throw DivergedError(description: "\(program.name) diverged at step \(step) (loss \(result.losses.last!)); try a lower learning_rate")
    }
}

public struct NoncausalError: Error, CustomStringConvertible {
    public let description: String
}

public struct DivergedError: Error, CustomStringConvertible {
    public let description: String
}
