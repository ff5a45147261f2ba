import Foundation
import Yams

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
}

/// The shape of the hand-built baseline transformer (nanoGPT's GPT).
public struct ModelConfig: Codable, Sendable, Equatable {
    public var layers = 4
    public var heads = 4
    public var dModel = 128
    public var context = 64
    public var mlpRatio = 4
    /// The MLP's activation: gelu, relu, squared_relu, swish.
    public var activation = "gelu"
    public var norm = "layer"

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case layers, heads, context, activation, norm
        case dModel = "d_model", mlpRatio = "mlp_ratio"
    }
}

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

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case steps, seed, tokenizer, beta1, beta2, replicas
        case stopAfter = "stop_after"
        case batchSize = "batch_size", learningRate = "learning_rate"
        case minLearningRate = "min_learning_rate", warmupSteps = "warmup_steps"
        case weightDecay = "weight_decay", gradClip = "grad_clip", initStd = "init_std"
        case trainFraction = "train_fraction"
    }
}

/// A config file: `model:` and `training:` sections, each key optional (defaults are
/// the nanoGPT CPU recipe). Unknown keys are errors, so a typo never passes silently.
public struct TrainConfig: Sendable, Equatable {
    public var model = ModelConfig()
    public var recipe = Recipe()
    /// A `program:` section instead of `model:` (as `evolve export` writes): the program in
    /// its YAML file form, or a path to a program file relative to the config.
    public var program: ProgramSource?

    public enum ProgramSource: Sendable, Equatable {
        case path(String), yaml(String)
    }

    public init() {}

    public static func load(path: String) throws -> TrainConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(description: "\(path): cannot read the file")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String = "config") throws -> TrainConfig {
        let node: Any?
        do { node = try Yams.load(yaml: text) } catch {
            throw ConfigError(description: "\(file): not valid YAML: \(yamlReason(error))")
        }
        guard let root = node as? [String: Any] else {
            throw ConfigError(description: "\(file): expected a mapping with model: and training: sections")
        }
        try checkKeys(root, ["model", "training", "program"], "\(file)")
        var config = TrainConfig()
        switch root["program"] {
        case nil: break
        case let path as String:
            config.program = .path(path.hasPrefix("/") ? path
                : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path)
        case let section?:
            config.program = .yaml(try Yams.dump(object: section))
        }
        config.model = try section(root["model"], ModelConfig.self, ModelConfig(),
                                   ModelConfig.CodingKeys.allCases.map(\.rawValue), "\(file): model")
        config.recipe = try section(root["training"], Recipe.self, Recipe(),
                                    Recipe.CodingKeys.allCases.map(\.rawValue), "\(file): training")
        try config.validate(file: file)
        return config
    }

    func validate(file: String) throws {
        let m = model, r = recipe
        func need(_ ok: Bool, _ what: String) throws {
            if !ok { throw ConfigError(description: "\(file): \(what)") }
        }
        try need(m.layers >= 1 && m.heads >= 1 && m.dModel >= 1 && m.context >= 1 && m.mlpRatio >= 1,
                 "model: layers, heads, d_model, context and mlp_ratio must be positive")
        try need(m.dModel % m.heads == 0, "model: d_model \(m.dModel) is not divisible by heads \(m.heads)")
        try need(["gelu", "relu", "squared_relu", "swish"].contains(m.activation),
                 "model: activation '\(m.activation)' is not one of gelu, relu, squared_relu, swish")
        try need(["layer", "rms"].contains(m.norm), "model: norm '\(m.norm)' is not layer or rms")
        try need(r.batchSize >= 1 && r.steps >= 1, "training: batch_size and steps must be positive")
        try need(r.trainFraction > 0 && r.trainFraction < 1, "training: train_fraction must be in (0, 1)")
        try need(r.warmupSteps >= 0 && r.learningRate > 0, "training: learning_rate must be positive")
        try need((r.replicas ?? 1) >= 1, "training: replicas must be positive")
        try need((1...r.steps).contains(r.stopAfter ?? 1), "training: stop_after must be in 1...steps")
    }
}

private func checkKeys(_ map: [String: Any], _ allowed: [String], _ place: String) throws {
    for key in map.keys.sorted() where !allowed.contains(key) {
        throw ConfigError(description: "\(place): unknown key '\(key)' (known: \(allowed.sorted().joined(separator: ", ")))")
    }
}

/// Decodes one section over its defaults: present keys replace default values.
private func section<T: Codable>(_ node: Any?, _ type: T.Type, _ defaults: T, _ keys: [String], _ place: String) throws -> T {
    guard let node else { return defaults }
    guard let map = node as? [String: Any] else { throw ConfigError(description: "\(place): expected a mapping") }
    try checkKeys(map, keys, place)
    // Merge over the defaults through JSON so every field keeps its default when absent.
    var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults)) as! [String: Any]
    for (k, v) in map { merged[k] = v }
    do {
        return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: merged))
    } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.dataCorrupted(ctx) {
        let key = ctx.codingPath.map(\.stringValue).joined(separator: ".")
        throw ConfigError(description: "\(place): '\(key)' has the wrong type or value")
    } catch {
        throw ConfigError(description: "\(place): \(error)")
    }
}

/// Yams's own message spans lines (it quotes the source); this is the reason and where.
private func yamlReason(_ error: Error) -> String {
    switch error as? YamlError {
    case let .scanner(_, problem, mark, _)?, let .parser(_, problem, mark, _)?, let .composer(_, problem, mark, _)?:
        return "\(problem) at line \(mark.line), column \(mark.column)"
    default:
        return "\(error)".split(separator: "\n").joined(separator: " ")
    }
}
