import Foundation
import Program

/// An error from building, training or reading a `BPE`; its description is one line.
public struct BPEError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = oneLine(description) }
}

/// A byte-level BPE tokenizer in GPT-2's scheme, giving the same ids as Hugging Face `tokenizers`
/// with a `BPE` model, the `ByteLevel(add_prefix_space: false, use_regex: true)` pre-tokenizer,
/// the `ByteLevel` decoder, and no normaliser, post-processor or added tokens.
///
/// Every single byte is a token, so any text encodes; ids fit in 16 bits (at most 65536 tokens).
/// A value type: encoding keeps its word cache local to each call, so one value may be shared
/// between threads.
public struct BPE: Sendable {
    /// One merge: the adjacent pair `left`, `right` becomes `result`, the token whose bytes are
    /// the two tokens' bytes joined. A merge's rank is its index in `merges`.
    public struct Merge: Sendable, Hashable {
        public let left: Int32
        public let right: Int32
        public let result: Int32
    }

    /// The most tokens a vocabulary may hold: ids are stored as 16-bit integers.
    public static let maximumVocabularySize = 65536

    /// Each token's bytes, by id.
    public let tokens: [[UInt8]]
    /// The merges by rank: the encoder applies lower ranks first.
    public let merges: [Merge]
    /// The id of each single byte, by byte value.
    let byteIDs: [Int32]
    /// Packed (left, right) → packed (rank, result). A pair listed twice keeps its later rank,
    /// as `tokenizers` does.
    let mergeTable: PairTable

    /// The number of tokens (ids are `0..<vocabularySize`).
    public var vocabularySize: Int { tokens.count }

    /// Builds a tokenizer from each token's bytes (by id) and the merges as pairs of ids by rank.
    /// Throws unless: 256...65536 tokens, all distinct and non-empty, every single byte among
    /// them, and each merge naming two known ids whose joined bytes are also a token.
    public init(tokens: [[UInt8]], merges: [(left: Int32, right: Int32)]) throws {
        let count = tokens.count
        guard count >= 256, count <= Self.maximumVocabularySize else {
            throw BPEError("BPE: \(count) tokens; a vocabulary holds 256...\(Self.maximumVocabularySize)")
        }
        var ids = [[UInt8]: Int32](minimumCapacity: count)
        for (id, bytes) in tokens.enumerated() {
            guard !bytes.isEmpty else { throw BPEError("BPE: token \(id) is empty") }
            if let other = ids.updateValue(Int32(id), forKey: bytes) {
                throw BPEError("BPE: tokens \(other) and \(id) have the same bytes")
            }
        }
        var byteIDs = [Int32](repeating: -1, count: 256)
        for byte in 0..<256 {
            guard let id = ids[[UInt8(byte)]] else { throw BPEError("BPE: byte \(byte) is not a token") }
            byteIDs[byte] = id
        }
        var resolved = [Merge]()
        resolved.reserveCapacity(merges.count)
        for (rank, pair) in merges.enumerated() {
            guard pair.left >= 0, pair.left < count, pair.right >= 0, pair.right < count else {
                throw BPEError("BPE: merge \(rank) names an id outside 0..<\(count)")
            }
            guard let result = ids[tokens[Int(pair.left)] + tokens[Int(pair.right)]] else {
                throw BPEError("BPE: merge \(rank) (\(pair.left), \(pair.right)) makes a token not in the vocabulary")
            }
            resolved.append(Merge(left: pair.left, right: pair.right, result: result))
        }
        self.init(tokens: tokens, byteIDs: byteIDs, merges: resolved)
    }

    /// Builds from already checked parts.
    init(tokens: [[UInt8]], byteIDs: [Int32], merges: [Merge]) {
        self.tokens = tokens
        self.byteIDs = byteIDs
        self.merges = merges
        var table = PairTable(minimumCapacity: merges.count)
        for (rank, merge) in merges.enumerated() {
            table.set(UInt64(rank) << 32 | UInt64(UInt32(merge.result)),
                      for: PairTable.key(merge.left, merge.right))
        }
        mergeTable = table
    }

    /// The ids of `text`: split by GPT-2's pattern, then each piece's bytes merged by rank.
    /// Takes valid Unicode text only (as every `String` is); bytes that are not UTF-8 must be
    /// dealt with by the caller before they become a `String`.
    public func encode(_ text: String) -> [Int32] {
        var text = text
        var encoder = WordEncoder(bpe: self)
        return text.withUTF8 { encode(utf8: $0, with: &encoder) }
    }

    /// The ids of each text, as `encode(_:)` gives them, with one word cache for all: cheaper
    /// than encoding them one by one when they are many short texts (lines, documents).
    public func encode(_ texts: [String]) -> [[Int32]] {
        var encoder = WordEncoder(bpe: self)
        return texts.map { text in
            var text = text
            return text.withUTF8 { encode(utf8: $0, with: &encoder) }
        }
    }

    /// The ids of `utf8`, which must be valid UTF-8: the pre-tokenizer decodes it unchecked.
    private func encode(utf8: UnsafeBufferPointer<UInt8>, with encoder: inout WordEncoder) -> [Int32] {
        var ids = [Int32]()
        ids.reserveCapacity(utf8.count / 3 + 16)
        guard let base = utf8.baseAddress else { return ids }
        var pieces = PreTokenizer(utf8)
        while let piece = pieces.next() {
            encoder.encode(base + piece.lowerBound, count: piece.count, readable: utf8.count - piece.lowerBound, into: &ids)
        }
        return ids
    }

    /// The bytes of `ids` joined. They may end inside a UTF-8 sequence, or hold invalid UTF-8
    /// where the ids were not made by `encode`. Ids outside the vocabulary are skipped, as
    /// `tokenizers` does.
    public func decode(_ ids: [Int32]) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where id >= 0 && Int(id) < tokens.count {
            bytes.append(contentsOf: tokens[Int(id)])
        }
        return bytes
    }
}
