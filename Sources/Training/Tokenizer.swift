/// Text ↔ token ids. `char`: the corpus's distinct characters (Unicode scalars), sorted,
/// as nanoGPT's shakespeare-char; `byte`: the 256 byte values, for any corpus.
public struct Tokenizer: Sendable {
    public enum Kind: String, Sendable, Codable { case char, byte }
    public let kind: Kind
    /// For `char`: the vocabulary in id order.
    public let symbols: [Unicode.Scalar]

    public init(kind: Kind, text: String) {
        self.kind = kind
        symbols = kind == .char ? Array(Set(text.unicodeScalars)).sorted { $0.value < $1.value } : []
    }

    public var vocabularySize: Int { kind == .char ? symbols.count : 256 }

    public func encode(_ text: String) -> [Int32] {
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

    public func decode(_ ids: [Int32]) -> String {
        switch kind {
        case .byte: return String(decoding: ids.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
        case .char: return String(String.UnicodeScalarView(ids.map { symbols[Int($0)] }))
        }
    }
}
