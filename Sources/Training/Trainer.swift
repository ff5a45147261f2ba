import Foundation
import Model
import Primitives
import Tensor

/// What one training run measured.
public struct TrainResult: Sendable {
    public var steps = 0
    public var trainLoss = Double.nan        // mean of the last 50 steps' batch losses
    public var valLoss = Double.nan
    /// `valLoss` in bits per UTF-8 byte of the text predicted (`ValidationSet.bitsPerByte`).
    public var valBitsPerByte = Double.nan
    public var seconds = 0.0                 // training steps only, evaluation excluded
    public var tokensPerSecond = 0.0
    public var losses: [Float] = []          // every step's batch loss
    /// The step (from 1) whose batch loss was not finite; training stopped there.
    public var divergedAt: Int?
    /// The validation loss at each mark reached (the last is `valLoss`).
    public var curve: [(step: Int, loss: Double)] = []

    /// The figures every engine derives the same way from the losses and the curve, once
    /// training has ended: `seconds` of training for the steps after `first`, each of
    /// `tokensPerStep` tokens; the validation loss of the last mark, in bits per byte too.
    mutating func summarise(seconds: Double, from first: Int = 0, tokensPerStep: Double, validation: ValidationSet) {
        self.seconds = seconds
        steps = losses.count
        tokensPerSecond = Double(steps - first) * tokensPerStep / max(seconds, 1e-9)
        let tail = losses.suffix(50)
        trainLoss = tail.reduce(0.0) { $0 + Double($1) } / Double(max(tail.count, 1))
        valLoss = divergedAt == nil ? curve.last?.loss ?? .nan : .nan
        valBitsPerByte = validation.bitsPerByte(valLoss)
    }
}

/// What a job adds to the training loop (`Trainer.train`): progress and heartbeats after
/// each step, a decision after each evaluation (a search's hurdle), a way to stop, checkpoints.
public struct TrainingHooks {
    /// After every step; may throw to end the run (a lost lease).
    public var step: ((_ step: Int, _ of: Int, _ loss: Float, _ tokensPerSecond: Double, _ elapsed: Double) throws -> Void)?
    /// After each mark's evaluation: true goes on, false ends the run there.
    public var mark: ((_ step: Int, _ valLoss: Double) throws -> Bool)?
    /// Asked before every step and every validation batch: true throws `TrainingStopped`.
    public var stop: () -> Bool = { false }
    /// Every `saveEvery` steps and after the last, the state to save.
    public var save: ((TrainingState) throws -> Void)?
    public var saveEvery: Int?
    public init() {}
}

/// A run ended early because its `stop` hook said so.
public struct TrainingStopped: Error {}

/// Told after every training step: the step (from 1), of how many, its batch loss, the
/// tokens per second so far and the seconds elapsed.
public typealias StepObserver = (_ step: Int, _ of: Int, _ loss: Float, _ tokensPerSecond: Double, _ elapsed: Double) -> Void

/// Trains a model graph with the recipe: seeded batches, AdamW, warmup + cosine schedule,
/// gradient clipping; evaluates on the validation set (`ValidationSet`) at marks and the end.
public final class Trainer {
    public let model: ReplicatedModel
    public let recipe: Recipe
    public let optimizer: AdamW
    public var sampler: BatchSampler
    /// Seconds spent, over all steps so far, filling batches, in the model's forward and
    /// backward pass (gradient merge included), and clipping and updating.
    public var phases = (batches: 0.0, pass: 0.0, update: 0.0)

    public init(model: ReplicatedModel, recipe: Recipe) {
        self.model = model
        self.recipe = recipe
        optimizer = AdamW(model.parameters, beta1: recipe.beta1, beta2: recipe.beta2,
                          weightDecay: recipe.weightDecay)
        // The batch stream has its own seed, apart from the initialisation's.
        sampler = BatchSampler(seed: recipe.seed &+ 0x5EED)
    }

    /// One optimisation step on a fresh batch; returns the batch loss before the update.
    @discardableResult
    public func step(_ it: Int, total: Int, data: TokenSplit) -> Float {
        phases.batches += seconds { sampler.fill(model, from: data) }
        var loss: Float = 0
        phases.pass += seconds { loss = model.forwardBackward() }
        phases.update += seconds {
            let masked = maskGradients(step: it)
            let threads = model.replicas.count
            // The merge summed the squares already; a masked tensor's gradient is zero since.
            var squares = model.mergedSquares ?? squaredNormParts(model.parameters, threads: threads)
            for i in masked { for t in squares.indices { squares[t][i] = 0 } }
            let clip = clipFactor(squares, maxNorm: Float(recipe.gradClip))
            optimizer.update(learningRate: Float(learningRate(step: it, total: total, recipe)),
                             gradScale: clip.scale, threads: threads)
        }
        return loss
    }

    /// Drops the gradient of each parameter that asks for it (MPOE's mask on the shared
    /// central cores) with its probability; drawn from the recipe's seed, the step and the
    /// parameter, so a resumed run drops exactly what the uninterrupted one did.
    /// Returns the indices of the parameters dropped.
    @discardableResult
    func maskGradients(step: Int) -> [Int] {
        var dropped = [Int]()
        for (i, p) in model.parameters.enumerated() where p.maskProbability > 0 {
            var rng = Xoshiro(seed: recipe.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(step) &* 1_000_003 &+ UInt64(i))
            if rng.uniform() < p.maskProbability, let g = p.grad { g.update(repeating: 0, count: p.count); dropped.append(i) }
        }
        return dropped
    }

    /// Trains `steps` (default: the recipe's) steps of a schedule that long, or only the
    /// first `recipe.stopAfter` of them; then evaluates.
    public func train(_ data: Dataset, steps: Int? = nil, progress: StepObserver? = nil) -> TrainResult {
        var hooks = TrainingHooks()
        hooks.step = progress
        // Without a hook that throws or a stop that says yes, nothing here throws.
        return try! train(data, schedule: steps, hooks: hooks)
    }

    /// The training loop every run goes through. Trains the schedule's steps (the first
    /// `recipe.stopAfter` of them, where set) from `resume` (a checkpoint's state, already
    /// restored into the model and optimizer: it goes on from its step with its losses),
    /// evaluating at each of `marks` and at the end. A non-finite batch loss ends it
    /// (`divergedAt`); `hooks.mark` returning false ends it after that evaluation; `hooks.stop`
    /// saying yes throws `TrainingStopped`. Every `hooks.saveEvery` steps, and after the
    /// last, `hooks.save` gets the state. Evaluations score `validation` (default: the
    /// data's set for the model's context and the recipe's limit).
    public func train(_ data: Dataset, schedule: Int? = nil, marks: [Int] = [], resume: TrainingState? = nil,
                      validation: ValidationSet? = nil, hooks: TrainingHooks) throws -> TrainResult {
        let validation = validation ?? data.validationSet(context: model.context, limit: recipe.validationTokens)
        let schedule = resume?.schedule ?? schedule ?? recipe.steps
        let total = min(schedule, recipe.stopAfter ?? schedule)
        let marks = Set(marks.filter { $0 < total } + [total])
        var result = TrainResult()
        result.losses = resume?.losses ?? []
        if let resume { sampler.state = resume.sampler }
        let tokensPerStep = Double(model.batch * model.context)
        let first = result.losses.count
        var evaluating = 0.0   // seconds spent evaluating, kept out of the training time
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 - evaluating }
        for it in first..<max(first, total) {
            if hooks.stop() { throw TrainingStopped() }
            result.losses.append(step(it, total: schedule, data: data.train))
            guard result.losses.last!.isFinite else { result.divergedAt = it + 1; break }
            try hooks.step?(it + 1, total, result.losses.last!, Double(it + 1 - first) * tokensPerStep / elapsed(), elapsed())
            if it + 1 == total || hooks.saveEvery.map({ (it + 1) % $0 == 0 }) == true {
                try hooks.save?(state(schedule: schedule, losses: result.losses))
            }
            guard marks.contains(it + 1) else { continue }
            var goOn = true
            evaluating += try seconds {
                guard let loss = evaluate(model, on: validation, until: hooks.stop) else { throw TrainingStopped() }
                result.curve.append((it + 1, loss))
                goOn = try hooks.mark?(it + 1, loss) ?? true
            }
            if !goOn { break }
        }
        let seconds = elapsed()
        if first >= total, result.divergedAt == nil {
            // A resumed run that had already ended: its end is still saved and evaluated.
            try hooks.save?(state(schedule: schedule, losses: result.losses))
            result.curve.append((first, evaluate(model, on: validation)))
        }
        result.summarise(seconds: seconds, from: first, tokensPerStep: tokensPerStep, validation: validation)
        return result
    }

    /// Where the run stands after `losses.count` steps of a `schedule`-step schedule.
    public func state(schedule: Int, losses: [Float]) -> TrainingState {
        TrainingState(step: losses.count, schedule: schedule, sampler: sampler.state, losses: losses,
                      replicas: model.replicas.count, seed: recipe.seed, batch: model.batch)
    }
}
