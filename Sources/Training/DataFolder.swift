import Foundation
import Program

/// A prepared data folder (`evolve data prepare`), nanoGPT's layout: `train.bin` and
/// `val.bin` (little-endian token ids, uint16 where the vocabulary allows, else uint32),
/// `meta.json` (this struct) and, for a BPE, `tokenizer.json` in Hugging Face's format.
public struct DataMeta: Codable, Equatable, Sendable {
    /// One split's file: its ids, the UTF-8 bytes of its text, the file's sha256.
    public struct Split: Codable, Equatable, Sendable {
        public var file: String
        public var tokens: Int
        public var bytes: Int
        public var sha256: String
    }

    /// An input the text came from.
    public struct Source: Codable, Equatable, Sendable {
        public var path: String
        public var bytes: Int
        public var sha256: String
    }

    public var format = 1
    /// "bpe", "char" or "byte".
    public var tokenizer: String
    public var vocabularySize: Int
    /// "uint16" or "uint32".
    public var dtype: String
    /// How the text was cut into the two splits, in words.
    public var split: String
    public var train: Split
    public var val: Split
    public var sources: [Source]
    /// A char tokenizer's symbols in id order.
    public var alphabet: String?
    /// tokenizer.json's sha256, for a BPE.
    public var tokenizerSha256: String?

    enum CodingKeys: String, CodingKey {
        case format, tokenizer, dtype, split, train, val, sources, alphabet
        case vocabularySize = "vocab_size", tokenizerSha256 = "tokenizer_sha256"
    }

    public var width: TokenSplit.Width { dtype == "uint16" ? .uint16 : .uint32 }

    /// What a study pins: the splits' and the tokenizer's hashes, in one.
    public var fingerprint: String {
        sha256Hex(Data([train.sha256, val.sha256, tokenizerSha256 ?? alphabet ?? tokenizer].joined(separator: " ").utf8))
    }
}

extension Dataset {
    /// The data of a prepared folder: meta.json checked against the files and the tokenizer,
    /// the splits memory-mapped, every id checked against the vocabulary; each fault a
    /// one-line error naming the file, before any model is built.
    public init(folder: String) throws {
        let (meta, tokenizer) = try Dataset.tokenizer(folder)
        self.tokenizer = tokenizer
        train = try Dataset.split(meta.train, meta, in: folder)
        validation = try Dataset.split(meta.val, meta, in: folder)
        path = folder
        sha256 = meta.fingerprint
    }

    /// A folder's meta.json and tokenizer, checked against each other, without mapping or
    /// scanning its splits (what encoding and decoding other text need).
    public static func tokenizer(_ folder: String) throws -> (DataMeta, Tokenizer) {
        let meta = try readMeta(folder)
        return (meta, try tokenizer(of: meta, in: folder))
    }

    public static func readMeta(_ folder: String) throws -> DataMeta {
        let file = "\(folder)/meta.json"
        guard FileManager.default.fileExists(atPath: file) else {
            throw CorpusError(description: "\(folder): not a prepared data folder (no meta.json; make one with evolve data prepare)")
        }
        let meta: DataMeta
        do { meta = try JSONDecoder().decode(DataMeta.self, from: Data(try TextFile.read(file).utf8)) } catch let e as FileError {
            throw CorpusError(description: e.description)
        } catch {
            throw CorpusError(description: "\(file): not an evolve data meta.json (\(oneLine("\(error)")))")
        }
        func fail(_ why: String) -> CorpusError { CorpusError(description: "\(file): \(why)") }
        guard meta.format == 1 else { throw fail("format \(meta.format); this evolve reads format 1") }
        guard ["uint16", "uint32"].contains(meta.dtype) else { throw fail("dtype '\(meta.dtype)' is not uint16 or uint32") }
        let most = meta.dtype == "uint16" ? 1 << 16 : Int(Int32.max)
        guard (1...most).contains(meta.vocabularySize) else { throw fail("vocab_size \(meta.vocabularySize) does not fit \(meta.dtype) ids") }
        guard meta.train.tokens > 0, meta.val.tokens > 0 else { throw fail("a split is empty") }
        return meta
    }

    static func tokenizer(of meta: DataMeta, in folder: String) throws -> Tokenizer {
        let t: Tokenizer
        switch meta.tokenizer {
        case "byte": t = Tokenizer(kind: .byte, text: "")
        case "char": t = Tokenizer(symbols: Array((meta.alphabet ?? "").unicodeScalars))
        case "bpe":
            let file = "\(folder)/tokenizer.json"
            guard let data = FileManager.default.contents(atPath: file) else { throw CorpusError(description: "\(file): missing") }
            do { t = Tokenizer(bpe: try BPE(json: data)) } catch {
                throw CorpusError(description: "\(file): not a byte-level BPE tokenizer.json (\(oneLine("\(error)")))")
            }
        default: throw CorpusError(description: "\(folder)/meta.json: tokenizer '\(meta.tokenizer)' is not bpe, char or byte")
        }
        guard t.vocabularySize == meta.vocabularySize else {
            throw CorpusError(description: "\(folder): the tokenizer has \(t.vocabularySize) ids, meta.json says \(meta.vocabularySize)")
        }
        return t
    }

    static func split(_ s: DataMeta.Split, _ meta: DataMeta, in folder: String) throws -> TokenSplit {
        let file = "\(folder)/\(s.file)"
        guard !s.file.contains("/"), FileManager.default.fileExists(atPath: file) else { throw CorpusError(description: "\(file): missing") }
        let split = try TokenSplit(mapping: file, width: meta.width)
        guard split.count == s.tokens else {
            throw CorpusError(description: "\(file): \(split.count) ids; meta.json says \(s.tokens)")
        }
        let top = split.largestId()
        guard top < meta.vocabularySize else {
            throw CorpusError(description: "\(file): id \(top) is outside the vocabulary of \(meta.vocabularySize)")
        }
        return split
    }
}
