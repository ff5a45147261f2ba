import Program
import Training

/// A mapping in one of evolve's files whose keys are exactly `Keys`: a misspelt key is an
/// error, never a setting silently left at its default. Every mapping of a config or a
/// search-space file is read as one (`Strict`), so the rule is written once.
public protocol StrictMapping: Decodable {
    associatedtype Keys: CodingKey & CaseIterable
}

extension Recipe: StrictMapping { public typealias Keys = CodingKeys }
extension Genes: StrictMapping { public typealias Keys = CodingKeys }

/// Reads a `StrictMapping` after the one check of its keys and numbers: no unknown key, and
/// no value that reads as a number that is not finite (`.inf`, `.nan`, and the bare words
/// `inf`, `nan`, which Yams also reads as numbers), under whatever key: a learning rate or a
/// size of infinity would only fail later, far from the file.
struct Strict<T: StrictMapping>: Decodable {
    let value: T

    init(from decoder: Decoder) throws {
        let mapping = try decoder.container(keyedBy: AnyKey.self)
        let known = T.Keys.allCases.map(\.stringValue).sorted()
        let keys = mapping.allKeys.map(\.stringValue).sorted()
        for key in keys where !known.contains(key) {
            throw FileProblem(decoder.codingPath, "unknown key '\(key)' (known: \(known.joined(separator: ", ")))")
        }
        for key in keys {
            if let x = try? mapping.decode(Double.self, forKey: AnyKey(key)), !x.isFinite {
                throw FileProblem(decoder.codingPath, "'\(key)' must be a finite number, found \(x)")
            }
        }
        value = try T(from: decoder)
    }
}

/// Any key of a mapping, to see every key it holds.
struct AnyKey: CodingKey {
    let stringValue: String
    init(_ key: String) { stringValue = key }
    init?(stringValue: String) { self.init(stringValue) }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// A refusal found while reading a file: where in it (the keys down to the mapping at
/// fault) and why. `YAMLFile` writes it as one line after the file's name.
struct FileProblem: Error {
    let path: [CodingKey]
    let why: String
    init(_ path: [CodingKey], _ why: String) { self.path = path; self.why = why }
}

extension KeyedDecodingContainer {
    /// The strict mapping at `key`, if the file has one.
    func mapping<T: StrictMapping>(_ type: T.Type, _ key: Key) throws -> T? {
        try decodeIfPresent(Strict<T>.self, forKey: key)?.value
    }

    /// The value at `key`, if the file has one; a value of the wrong shape is refused with
    /// `why` (a problem found inside it keeps its own message).
    func value<T: Decodable>(_ type: T.Type, _ key: Key, else why: String) throws -> T? {
        do { return try decodeIfPresent(type, forKey: key) } catch is DecodingError { throw FileProblem(codingPath, why) }
    }

    /// An integer in `range` at `key`, or `fallback` where the file has none.
    func integer(_ key: Key, _ fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        let why = "\(key.stringValue) must be an integer from \(range.lowerBound) to \(range.upperBound)"
        guard let n = try value(Int.self, key, else: why) else { return fallback }
        guard range.contains(n) else { throw FileProblem(codingPath, why) }
        return n
    }
}
