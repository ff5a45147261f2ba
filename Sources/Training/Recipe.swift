import Foundation
import Primitives
import Tensor

/// How a model is trained: the optimiser, schedule and batches.
public struct Recipe: Codable, Sendable, Equatable {
    public var batchSize = 12
    public var steps = 2000
    public var learningRate = 1e-3
    public var minLearningRate = 1e-4
    public var warmupSteps = 100
    public var beta1 = 0.9
    public var beta2 = 0.99
    public var weightDecay = 0.1
    public var gradClip = 1.0
    public var initStd = 0.02
    public var seed: UInt64 = 1337
    public var tokenizer = Tokenizer.Kind.char
    public var trainFraction = 0.9
    /// Batch rows split over this many replicas (default: one per thread). The split changes
    /// the order of float sums, so a run reproduces another exactly only with the same count.
    public var replicas: Int?
    /// Stop and evaluate after this many steps of the `steps`-long schedule (a search
    /// candidate that stopped at a hurdle was measured so).
    public var stopAfter: Int?
    /// Validation scores the whole split while it holds at most this many predicted tokens,
    /// else a fixed sample of windows this large (`ValidationSet`).
    public var validationTokens = 262_144
    /// What the model's products multiply in (`Precision`): float32, or bfloat16 operands
    /// with float32 sums. Unset, each machine takes its fastest (`products`). Part of a run's numbers.
    public var precision: Precision?

    /// The precision this machine runs: the recipe's, else bfloat16 where the CPU multiplies it
    /// natively (AMX tiles, AVX512-BF16) and float32 elsewhere (there bfloat16 is rounded
    /// float32: slower). On the recipe, bfloat16's validation loss lands inside float32's seed
    /// spread (docs/performance.md); it is what makes the default on those machines.
    public var products: Precision { precision ?? (Precision.kernel != .rounded ? .bfloat16 : .float32) }

    /// The precision an engine runs: evolve's `products`; PyTorch's trainer float32 unless the
    /// recipe names bfloat16 (its autocast on a CPU is no faster, so no machine default).
    public func products(on engine: TrainingEngine) -> Precision {
        if case .pytorch = engine { return precision ?? .float32 }
        return products
    }

    public init() {}

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case steps, seed, tokenizer, beta1, beta2, replicas
        case stopAfter = "stop_after"
        case batchSize = "batch_size", learningRate = "learning_rate"
        case minLearningRate = "min_learning_rate", warmupSteps = "warmup_steps"
        case weightDecay = "weight_decay", gradClip = "grad_clip", initStd = "init_std"
        case trainFraction = "train_fraction", validationTokens = "validation_tokens", precision
    }

    /// A file gives only the keys it changes; the rest keep the nanoGPT CPU recipe.
    public init(from decoder: Decoder) throws {
        self.init()
        let fields: [Field<Recipe, CodingKeys>] = [
            .init(.batchSize, \.batchSize), .init(.steps, \.steps), .init(.learningRate, \.learningRate),
            .init(.minLearningRate, \.minLearningRate), .init(.warmupSteps, \.warmupSteps), .init(.beta1, \.beta1),
            .init(.beta2, \.beta2), .init(.weightDecay, \.weightDecay), .init(.gradClip, \.gradClip), .init(.initStd, \.initStd),
            .init(.seed, \.seed), .init(.tokenizer, \.tokenizer), .init(.trainFraction, \.trainFraction),
            .init(.replicas, \.replicas), .init(.stopAfter, \.stopAfter), .init(.validationTokens, \.validationTokens),
            .init(.precision, \.precision)]
        try decoder.read(fields, into: &self)
    }
}
