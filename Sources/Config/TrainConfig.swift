import Foundation
import Program
import Training
import Yams

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = oneLine(description) }
}

/// A config file: `model:` and `training:` sections, each key optional (defaults are
/// the nanoGPT CPU recipe). Unknown keys are errors, so a typo never passes silently.
/// `model:` describes the baseline (`Baseline`: its genes and the MLP's width, activation
/// and norm); `program:` replaces it with any program.
public struct TrainConfig: Sendable, Equatable {
    public var model = Baseline()
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
        config.model = try section(root["model"], ModelSection.self, ModelSection(),
                                   ModelSection.CodingKeys.allCases.map(\.rawValue), "\(file): model").baseline(file: file)
        config.recipe = try section(root["training"], Recipe.self, Recipe(),
                                    Recipe.CodingKeys.allCases.map(\.rawValue), "\(file): training")
        try config.validate(file: file)
        return config
    }

    /// The recipe's own checks (the model section is checked as it is read).
    func validate(file: String) throws {
        let r = recipe
        func need(_ ok: Bool, _ what: String) throws {
            if !ok { throw ConfigError(description: "\(file): \(what)") }
        }
        try need(r.batchSize >= 1 && r.steps >= 1, "training: batch_size and steps must be positive")
        try need(r.batchSize <= 65_536 && r.steps <= 1_000_000_000, "training: batch_size is at most 65536 and steps at most 1e9")
        try need((r.replicas ?? 1) <= 1024, "training: replicas is at most 1024")
        try need(r.trainFraction > 0 && r.trainFraction < 1, "training: train_fraction must be in (0, 1)")
        try need(r.warmupSteps >= 0 && r.learningRate > 0, "training: learning_rate must be positive")
        try need((r.replicas ?? 1) >= 1, "training: replicas must be positive")
        try need((1...r.steps).contains(r.stopAfter ?? 1), "training: stop_after must be in 1...steps")
        try need((0..<1).contains(r.beta1) && (0..<1).contains(r.beta2), "training: beta1 and beta2 must be in [0, 1)")
        try need(r.weightDecay >= 0 && r.gradClip > 0 && r.initStd > 0 && r.minLearningRate >= 0,
                 "training: weight_decay and min_learning_rate must be ≥ 0, grad_clip and init_std positive")
    }
}

/// The `model:` section as written: the baseline's genes and its MLP's width, activation and norm.
struct ModelSection: Codable {
    var layers = 4, heads = 4, dModel = 128, context = 64, mlpRatio = 4
    var activation = "gelu", norm = "layer"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case layers, heads, context, activation, norm
        case dModel = "d_model", mlpRatio = "mlp_ratio"
    }

    func baseline(file: String) throws -> Baseline {
        func fail(_ what: String) -> ConfigError { ConfigError(description: "\(file): model: \(what)") }
        var b = Baseline()
        guard let a = Baseline.Activation(rawValue: activation) else {
            throw fail("activation '\(activation)' is not one of \(Baseline.Activation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let n = Baseline.Norm(rawValue: norm) else { throw fail("norm '\(norm)' is not layer or rms") }
        guard [layers, heads, dModel, context, mlpRatio].allSatisfy({ $0 >= 1 }) else {
            throw fail("layers, heads, d_model, context and mlp_ratio must be positive")
        }
        guard mlpRatio <= 8, Dims.vocabulary.contains(8 * mlpRatio) else {
            throw fail("mlp_ratio \(mlpRatio) is not one of \(Dims.vocabulary.filter { $0 % 8 == 0 }.map { String($0 / 8) }.joined(separator: ", "))")
        }
        (b.genes.layers, b.genes.heads, b.genes.dModel, b.genes.context) = (layers, heads, dModel, context)
        (b.mlpRatio, b.activation, b.norm) = (mlpRatio, a, n)
        do { try b.program.validate() } catch let e as ProgramError { throw fail(e.description) }
        return b
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
    for (k, v) in map.sorted(by: { $0.key < $1.key }) {
        if let d = v as? Double, !d.isFinite { throw ConfigError(description: "\(place): '\(k)' must be a finite number, found \(d)") }
    }
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

extension TrainConfig {
    /// What a file to train holds: a program file (text form, or YAML / JSON with
    /// `subprograms:`), with no config; or a config, whose `program:` section, or else its
    /// `model:` section (the baseline), is the program.
    public static func trainable(_ path: String) throws -> (Program, TrainConfig?) {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        if !["yaml", "yml", "json"].contains(ext) { return (try Program.load(path: path), nil) }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        if let root = try? Yams.load(yaml: text) as? [String: Any], root["subprograms"] != nil {
            return (try Program.load(path: path), nil)
        }
        let config = try TrainConfig.load(path: path)
        return (try config.resolvedProgram(file: path), config)
    }

    /// The program this config trains: its `program:` section, or the baseline.
    public func resolvedProgram(file: String) throws -> Program {
        switch program {
        case nil: return model.program
        case .path(let p)?: return try Program.load(path: p)
        case .yaml(let y)?:
            let p = try Program(yaml: y, file: "\(file): program")
            do { try p.validate() } catch { throw ConfigError(description: "\(file): program: \(error)") }
            return p
        }
    }
}
