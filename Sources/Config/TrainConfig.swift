import Foundation
import Program
import Training

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
    /// A `program:` section instead of `model:` (as `evolve export` writes): the program
    /// (its YAML file form, in the config), or a path to a program file relative to the config.
    public var program: ProgramSource?
    /// `data:`: a prepared data folder (relative paths from the config's folder).
    public var data: String?

    public enum ProgramSource: Sendable, Equatable {
        case path(String), inline(Program)
    }

    public init() {}

    public static func load(path: String) throws -> TrainConfig {
        let text: String
        do { text = try TextFile.read(path) } catch { throw ConfigError(description: "\(error)") }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String = "config") throws -> TrainConfig {
        let document = try YAMLFile.decode(ConfigDocument.self, from: text, file: file,
                                           shape: "a mapping with model: and training: sections")
        var config = TrainConfig()
        switch document.program {
        case nil: break
        case .path(let path)?:
            config.program = .path(path.hasPrefix("/") ? path
                : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path)
        case .inline(let program)?:
            config.program = .inline(program)
        }
        config.data = document.data.map { $0.hasPrefix("/") ? $0 : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent($0).path }
        config.model = try (document.model ?? ModelSection()).baseline(file: file)
        config.recipe = document.training ?? Recipe()
        try config.recipe.check(file: file)
        return config
    }
}

extension Recipe {
    /// The checks of a file's `training:` section (a config's or a search space's) that its
    /// types alone do not make.
    public func check(file: String) throws {
        func need(_ ok: Bool, _ what: String) throws {
            if !ok { throw ConfigError(description: "\(file): \(what)") }
        }
        try need(batchSize >= 1 && steps >= 1, "training: batch_size and steps must be positive")
        try need(batchSize <= 65_536 && steps <= 1_000_000_000, "training: batch_size is at most 65536 and steps at most 1e9")
        try need((replicas ?? 1) <= 1024, "training: replicas is at most 1024")
        try need(trainFraction > 0 && trainFraction < 1, "training: train_fraction must be in (0, 1)")
        try need(warmupSteps >= 0 && learningRate > 0, "training: learning_rate must be positive")
        try need((replicas ?? 1) >= 1, "training: replicas must be positive")
        try need(validationTokens >= 1, "training: validation_tokens must be positive")
        try need((1...steps).contains(stopAfter ?? 1), "training: stop_after must be in 1...steps")
        try need((0..<1).contains(beta1) && (0..<1).contains(beta2), "training: beta1 and beta2 must be in [0, 1)")
        try need(weightDecay >= 0 && gradClip > 0 && initStd > 0 && minLearningRate >= 0,
                 "training: weight_decay and min_learning_rate must be ≥ 0, grad_clip and init_std positive")
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
        if YAMLFile.topLevel(text)["subprograms"] != nil {
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
        case .inline(let p)?:
            do { try p.validate() } catch { throw ConfigError(description: "\(file): program: \(error)") }
            return p
        }
    }
}
