import Primitives
import Program
import Training

/// A config file as written (`configs/baseline.yaml`): `model:`, `training:` and `program:`,
/// each optional. `TrainConfig.parse` turns it into a run's program and recipe.
struct ConfigDocument: StrictMapping {
    var model: ModelSection?
    var training: Recipe?
    var program: ProgramSection?
    /// A prepared data folder the run trains on (`evolve data prepare`), unless the command names one.
    var data: String?

    enum Keys: String, CodingKey, CaseIterable { case model, training, program, data }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        model = try c.mapping(ModelSection.self, .model)
        training = try c.mapping(Recipe.self, .training)
        program = try c.decodeIfPresent(ProgramSection.self, forKey: .program)
        data = try c.decodeIfPresent(String.self, forKey: .data)
    }
}

/// `program:` as written: a path to a program file, or the program in its YAML file form.
enum ProgramSection: Decodable {
    case path(String), inline(Program)

    init(from decoder: Decoder) throws {
        if let path = try? decoder.singleValueContainer().decode(String.self) {
            self = .path(path)
            return
        }
        do { self = .inline(try Program(from: decoder)) } catch {
            throw FileProblem(decoder.codingPath, Program.fileError(error, depth: decoder.codingPath.count))
        }
    }
}

/// The `model:` section as written: the baseline's genes and its MLP's width, activation and norm.
struct ModelSection: StrictMapping {
    var layers = 4, heads = 4, dModel = 128, context = 64, mlpRatio = 4
    var activation = "gelu", norm = "layer"

    enum Keys: String, CodingKey, CaseIterable {
        case layers, heads, context, activation, norm
        case dModel = "d_model", mlpRatio = "mlp_ratio"
    }

    init() {}

    init(from decoder: Decoder) throws {
        self.init()
        let fields: [Field<ModelSection, Keys>] = [
            .init(.layers, \.layers), .init(.heads, \.heads), .init(.dModel, \.dModel), .init(.context, \.context),
            .init(.mlpRatio, \.mlpRatio), .init(.activation, \.activation), .init(.norm, \.norm)]
        try decoder.read(fields, into: &self)
    }

    func baseline(file: String) throws -> Baseline {
        func fail(_ what: String) -> ConfigError { ConfigError(description: "\(file): model: \(what)") }
        var b = Baseline()
        guard let a = Baseline.Activation(rawValue: activation) else {
            throw fail("activation " + Baseline.Activation.unknown(activation))
        }
        guard let n = Baseline.Norm(rawValue: norm) else { throw fail("norm " + Baseline.Norm.unknown(norm)) }
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
