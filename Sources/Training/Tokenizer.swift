import Primitives
/// Text ↔ token ids. `char`: the corpus's distinct characters (Unicode scalars), sorted,
/// as nanoGPT's shakespeare-char; `byte`: the 256 byte values, for any corpus; a byte-level
/// BPE (`bpe`), from a prepared data folder (`evolve data prepare --tokenizer bpe`).
public struct Tokenizer: Sendable {
    public enum Kind: String, Sendable, Codable, NamedCases { case char, byte }
    public let kind: Kind
    /// For `char`: the vocabulary in id order.
    public let symbols: [Unicode.Scalar]
    /// A byte-level BPE over bytes (then `kind` is `.byte`, its base alphabet).
    public let bpe: BPE?

    public init(kind: Kind, text: String) {
        self.kind = kind
        symbols = kind == .char ? Array(Set(text.unicodeScalars)).sorted { $0.value < $1.value } : []
        bpe = nil
    }

    /// A char tokenizer over `symbols` in id order (a data folder's alphabet).
    public init(symbols: [Unicode.Scalar]) {
        kind = .char; self.symbols = symbols; bpe = nil
    }

    public init(bpe: BPE) {
        kind = .byte; symbols = []; self.bpe = bpe
    }

    /// "char", "byte" or "bpe", as data folders name them.
    public var name: String { bpe == nil ? kind.rawValue : "bpe" }

    public var vocabularySize: Int { bpe?.vocabularySize ?? (kind == .char ? symbols.count : 256) }

    /// The ids of `text`; nil names the first character outside a char vocabulary.
    public func encode(_ text: String) -> [Int32] {
        if let bpe { return bpe.encode(text) }
        switch kind {
        case .byte:
            return text.utf8.map { Int32($0) }
        case .char:
            var index = [UInt32: Int32]()
            for (i, s) in symbols.enumerated() { index[s.value] = Int32(i) }
            return text.unicodeScalars.map { s in
                guard let id = index[s.value] else {
                    fatalError("tokenizer: character U+\(String(s.value, radix: 16)) is not in the vocabulary")
                }
                return id
            }
        }
    }

    /// The first character of `text` a char vocabulary lacks, to refuse it before encoding.
    public func unknownCharacter(in text: String) -> Unicode.Scalar? {
        guard kind == .char, bpe == nil else { return nil }
        let known = Set(symbols)
        return text.unicodeScalars.first { !known.contains($0) }
    }

    /// The bytes of `ids` (a BPE token may be part of a character).
    public func bytes(_ ids: [Int32]) -> [UInt8] {
        if let bpe { return bpe.decode(ids) }
        switch kind {
        case .byte: return ids.map { UInt8(truncatingIfNeeded: $0) }
        case .char: return Array(String(String.UnicodeScalarView(ids.map { symbols[Int($0)] })).utf8)
        }
    }

    /// Each id's UTF-8 length in bytes (what bits per byte divide by).
    public func byteLengths() -> [Int] {
        (0..<vocabularySize).map { bytes([Int32($0)]).count }
    }

    public func decode(_ ids: [Int32]) -> String { String(decoding: bytes(ids), as: UTF8.self) }
}
