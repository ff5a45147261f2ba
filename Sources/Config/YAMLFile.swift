import Foundation
import Program
import Yams

/// The one way evolve reads a YAML file it is given (a config, a search space): decoded by
/// Yams straight into the file's typed document, its mappings checked by `Strict`, and any
/// refusal written as one line naming the file and the place in it.
public enum YAMLFile {
    /// The document in `text`; `file` names it in errors, `shape` says what the top level
    /// must be when it is not a mapping.
    public static func decode<T: StrictMapping>(_ type: T.Type, from text: String, file: String,
                                                shape: String = "a mapping") throws -> T {
        do { try YAMLLimits.check(text, file: file) } catch { throw ConfigError(description: "\(error)") }
        do {
            return try YAMLDecoder().decode(Strict<T>.self, from: text).value
        } catch {
            throw ConfigError(description: "\(file): \(reason(error, shape: shape))")
        }
    }

    /// The top level of `text` as written (empty when it is not a mapping, or not YAML).
    static func topLevel(_ text: String) -> [String: Node] {
        guard let mapping = (try? Yams.compose(yaml: text))?.mapping else { return [:] }
        var values = [String: Node]()
        for (key, value) in mapping { if let k = key.string { values[k] = value } }
        return values
    }

    /// The top-level keys whose values differ between two files' texts; comments, layout,
    /// quoting and the order of a mapping's keys aside.
    public static func differingKeys(_ a: String, _ b: String) -> [String] {
        let (ra, rb) = (topLevel(a), topLevel(b))
        return Set(ra.keys).union(rb.keys).sorted().filter { ra[$0].map(canonical) != rb[$0].map(canonical) }
    }

    /// A node with every mapping's keys in order, so that equal contents compare equal.
    static func canonical(_ node: Node) -> Node {
        switch node {
        case .scalar: return node
        case .sequence(let items): return Node(items.map(canonical))
        case .mapping(let pairs): return Node(pairs.map { (canonical($0.key), canonical($0.value)) }.sorted { $0.0 < $1.0 })
        }
    }
}

/// Why a file could not be read, after its name: the place (`training: `, `choices: `) and
/// the reason. Yams hands on a decoding error as it is and wraps any other (the YAML's
/// syntax, a `FileProblem`).
private func reason(_ error: Error, shape: String) -> String {
    switch error {
    case DecodingError.dataCorrupted(let context) where context.underlyingError != nil:
        let inner = context.underlyingError!
        if let problem = inner as? FileProblem { return place(problem.path) + problem.why }
        return inner is YamlError ? "not valid YAML: \(yamlReason(inner))" : "\(inner)"
    case let problem as FileProblem:
        return place(problem.path) + problem.why
    case DecodingError.typeMismatch(let type, let context) where type == Node.Mapping.self:
        return context.codingPath.isEmpty ? "expected \(shape)" : place(context.codingPath) + "expected a mapping"
    case DecodingError.keyNotFound(let key, let context):
        return place(context.codingPath) + "missing '\(key.stringValue)'"
    case DecodingError.dataCorrupted(let context) where context.debugDescription.contains(" is not one of "):
        // A `NamedCases` value it does not know: the key, the value and the ones it knows.
        guard let last = context.codingPath.last else { return context.debugDescription }
        return place(context.codingPath.dropLast()) + "\(name(last)) \(context.debugDescription)"
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
         DecodingError.dataCorrupted(let context):
        guard let last = context.codingPath.last else { return "expected \(shape)" }
        return place(context.codingPath.dropLast()) + "'\(name(last))' has the wrong type or value"
    default:
        return "\(error)"
    }
}

/// "training: ", "constraint: params[1]: " for a path of keys; nothing at the top level.
func place(_ path: some Collection<CodingKey>) -> String {
    var text = ""
    for key in path {
        text += key.intValue.map { "[\($0)]" } ?? (text.isEmpty ? "" : ": ") + key.stringValue
    }
    return text.isEmpty ? "" : text + ": "
}

private func name(_ key: CodingKey) -> String { key.intValue.map { "[\($0)]" } ?? key.stringValue }

/// Yams's own message spans lines (it quotes the source); this is the reason and where.
private func yamlReason(_ error: Error) -> String {
    switch error as? YamlError {
    case let .scanner(_, problem, mark, _)?, let .parser(_, problem, mark, _)?, let .composer(_, problem, mark, _)?:
        return "\(problem) at line \(mark.line), column \(mark.column)"
    default:
        return "\(error)".split(separator: "\n").joined(separator: " ")
    }
}
