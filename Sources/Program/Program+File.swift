import Foundation
import Yams

/// The file form: YAML (or JSON) with the genes and, per subprogram, its instructions as
/// text lines — state N is the N-th line's result, as in the text form:
///
///     name: vanilla
///     genes: {layers: 4, d_model: 128, heads: 4, context: 64}
///     subprograms:
///     - [DENSE s0 dim=8, ADD s0 s1]
///
/// Loading validates; `Program.load` also reads the text form (any other extension).
extension Instruction: Codable {
    public init(from decoder: Decoder) throws {
        let line = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(words: line.split(separator: " ").map(String.init))
        } catch let e as ProgramError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: e.description))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

extension Subprogram {
    public init(from decoder: Decoder) throws {
        instructions = try decoder.singleValueContainer().decode([Instruction].self)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(instructions)
    }
}

extension Program {
    public var yaml: String { (try? YAMLEncoder().encode(self)) ?? "" }

    public init(yaml: String, file: String = "program") throws {
        try YAMLLimits.check(yaml, file: file)
        do {
            self = try YAMLDecoder().decode(Program.self, from: yaml)
        } catch {
            throw ProgramError("\(file): \(Program.fileError(error))")
        }
    }

    /// Why a program's file form did not decode, as one line: the place in the program
    /// (`subprograms[0][3]: `) and the reason. `depth` keys of an enclosing file (a config's
    /// `program:`) are left out of the place.
    public static func fileError(_ error: Error, depth: Int = 0) -> String {
        switch error {
        case let DecodingError.dataCorrupted(ctx):
            return "\(place(ctx.codingPath.dropFirst(depth)))\(ctx.debugDescription)"
        case let DecodingError.keyNotFound(key, ctx):
            return "\(place(ctx.codingPath.dropFirst(depth)))missing '\(key.stringValue)'"
        case let DecodingError.typeMismatch(_, ctx):
            return "\(place(ctx.codingPath.dropFirst(depth)))wrong type"
        default:
            return "not a program file: \("\(error)".split(separator: "\n").first ?? "")"
        }
    }

    /// Reads and validates a program file: YAML or JSON by extension, else the text form.
    public static func load(path: String) throws -> Program {
        let text = try TextFile.read(path)
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        let p = ["yaml", "yml", "json"].contains(ext) ? try Program(yaml: text, file: path)
                                                       : try Program(text: text, file: path)
        do { try p.validate() } catch let e as ProgramError { throw ProgramError("\(path): \(e.description)") }
        return p
    }
}

/// "subprograms[0][3]: " for a decoding error's path.
private func place(_ path: some Collection<CodingKey>) -> String {
    guard !path.isEmpty else { return "" }
    return path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        .trimmingCharacters(in: CharacterSet(charactersIn: ".")) + ": "
}
