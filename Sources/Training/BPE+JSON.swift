import Foundation

extension BPE {
    /// GPT-2's `bytes_to_unicode`: each byte as a printable character, so that token strings in
    /// `tokenizer.json` hold no white space or control characters. Printable Latin-1 bytes stand
    /// for themselves; the other 68 map to U+0100 on, in byte order.
    static let byteCharacters: [Unicode.Scalar] = {
        func printable(_ byte: Int) -> Bool { (33...126).contains(byte) || (161...172).contains(byte) || byte >= 174 }
        var next: UInt32 = 256
        return (0..<256).map { byte in
            if printable(byte) { return Unicode.Scalar(UInt8(byte)) }
            defer { next += 1 }
            return Unicode.Scalar(next)!
        }
    }()

    /// The inverse of `byteCharacters`, by scalar value (−1 where a scalar stands for no byte).
    static let characterBytes: [Int16] = {
        var table = [Int16](repeating: -1, count: 512)
        for (byte, scalar) in byteCharacters.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    /// The `tokenizer.json` string of token `id`.
    public func tokenString(_ id: Int) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: tokens[id].map { Self.byteCharacters[Int($0)] })
        return String(scalars)
    }

    /// The bytes a `tokenizer.json` token string stands for, or nil if it is not byte-level.
    static func tokenBytes(_ string: String) -> [UInt8]? {
        var bytes = [UInt8]()
        for scalar in string.unicodeScalars {
            let value = Int(scalar.value)
            guard value < characterBytes.count, characterBytes[value] >= 0 else { return nil }
            bytes.append(UInt8(characterBytes[value]))
        }
        return bytes
    }

    /// This tokenizer as Hugging Face `tokenizer.json`, byte for byte as `tokenizers` 0.2x saves
    /// it (pretty-printed, the vocabulary in id order, merges as pairs of strings), so the same
    /// tokenizer always gives the same file.
    public func jsonData() -> Data {
        var out = """
        {
          "version": "1.0",
          "truncation": null,
          "padding": null,
          "added_tokens": [],
          "normalizer": null,
          "pre_tokenizer": {
            "type": "ByteLevel",
            "add_prefix_space": false,
            "trim_offsets": true,
            "use_regex": true
          },
          "post_processor": null,
          "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": true,
            "trim_offsets": true,
            "use_regex": true
          },
          "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": false,
            "vocab": {
        """
        let strings = tokens.indices.map { Self.jsonQuoted(tokenString($0)) }
        out += strings.enumerated().map { "\n      \($1): \($0)" }.joined(separator: ",")
        out += "\n    },\n    \"merges\": ["
        out += merges.map { "\n      [\n        \(strings[Int($0.left)]),\n        \(strings[Int($0.right)])\n      ]" }
            .joined(separator: ",")
        out += merges.isEmpty ? "]\n  }\n}" : "\n    ]\n  }\n}"
        return Data(out.utf8)
    }

    /// `string` as a JSON string literal, escaped as serde_json escapes it.
    static func jsonQuoted(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Writes `jsonData()` to `url`.
    public func write(to url: URL) throws {
        try jsonData().write(to: url, options: .atomic)
    }

    /// Reads a tokenizer from the file at `url` (see `init(json:)`).
    public init(contentsOf url: URL) throws {
        try self.init(json: try Data(contentsOf: url))
    }
}

extension BPE {
    /// Reads a Hugging Face `tokenizer.json` holding a byte-level BPE tokenizer of the kind
    /// `jsonData()` writes (merges as `"a b"` strings or as pairs). Throws a one-line
    /// `BPEError` for anything else: not a BPE model; a normaliser, added tokens, truncation,
    /// padding, dropout, subword affixes, byte fallback or `ignore_merges`; a pre-tokenizer
    /// other than `ByteLevel` without prefix space and with the regex; a post-processor or
    /// decoder other than `ByteLevel`; ids not exactly `0..<n`; over 65536 tokens; a token
    /// not made of byte-level characters; a merge naming an unknown token or making one.
    /// (A key repeated within a JSON object is not detected: the reader keeps one of them.)
    public init(json: Data) throws {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json)
        } catch {
            throw BPEError("tokenizer.json: not valid JSON")
        }
        guard let root = object as? [String: Any] else { throw BPEError("tokenizer.json: not a JSON object") }
        try Self.checkPipeline(root)
        guard let model = root["model"] as? [String: Any] else { throw BPEError("tokenizer.json: no model") }
        try Self.checkModel(model)
        let (tokens, ids) = try Self.readVocabulary(model["vocab"])
        let merges = try Self.readMerges(model["merges"], ids)
        try self.init(tokens: tokens, merges: merges)
    }

    private static func isNull(_ value: Any?) -> Bool { value == nil || value is NSNull }

    /// Whether `value` is a JSON object of type `type`.
    private static func isComponent(_ value: Any?, _ type: String) -> Bool {
        ((value as? [String: Any])?["type"] as? String) == type
    }

    private static func checkPipeline(_ root: [String: Any]) throws {
        func refuse(_ what: String) -> BPEError { BPEError("tokenizer.json: \(what) is not supported") }
        if let added = root["added_tokens"], !isNull(added), (added as? [Any])?.isEmpty != true {
            throw refuse("added_tokens")
        }
        for key in ["normalizer", "truncation", "padding"] where !isNull(root[key]) { throw refuse(key) }
        let pre = root["pre_tokenizer"] as? [String: Any]
        guard isComponent(pre, "ByteLevel"), pre?["add_prefix_space"] as? Bool == false,
              isNull(pre?["use_regex"]) || pre?["use_regex"] as? Bool == true else {
            throw refuse("a pre_tokenizer other than ByteLevel(add_prefix_space: false, use_regex: true)")
        }
        for key in ["post_processor", "decoder"] where !isNull(root[key]) && !isComponent(root[key], "ByteLevel") {
            throw refuse("a \(key) other than ByteLevel")
        }
    }

    private static func checkModel(_ model: [String: Any]) throws {
        guard model["type"] as? String == "BPE" else { throw BPEError("tokenizer.json: the model is not BPE") }
        func refuse(_ key: String) -> BPEError { BPEError("tokenizer.json: model.\(key) is not supported") }
        if !isNull(model["dropout"]) { throw refuse("dropout") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"]
        where !isNull(model[key]) && model[key] as? String != "" {
            throw refuse(key)
        }
        for key in ["byte_fallback", "ignore_merges"] where !isNull(model[key]) && model[key] as? Bool != false {
            throw refuse(key)
        }
    }

    /// Each token's bytes by id, and each token string's id.
    private static func readVocabulary(_ value: Any?) throws -> ([[UInt8]], [String: Int32]) {
        guard let vocabulary = value as? [String: Any] else {
            throw BPEError("tokenizer.json: model.vocab is not an object")
        }
        let count = vocabulary.count
        guard count <= maximumVocabularySize else {
            throw BPEError("tokenizer.json: \(count) tokens; at most \(maximumVocabularySize) are supported")
        }
        var tokens = [[UInt8]?](repeating: nil, count: count)
        var ids = [String: Int32](minimumCapacity: count)
        for (string, idValue) in vocabulary {
            guard let id = idValue as? Int, id >= 0, id < count else {
                throw BPEError("tokenizer.json: token \(jsonQuoted(string)) has an id outside 0..<\(count)")
            }
            guard tokens[id] == nil else { throw BPEError("tokenizer.json: id \(id) is given to two tokens") }
            guard let bytes = tokenBytes(string), !bytes.isEmpty else {
                throw BPEError("tokenizer.json: token \(jsonQuoted(string)) is not a byte-level token")
            }
            tokens[id] = bytes
            ids[string] = Int32(id)
        }
        return (tokens.map { $0! }, ids)
    }

    /// The merges as pairs of ids, by rank.
    private static func readMerges(_ value: Any?, _ ids: [String: Int32]) throws -> [(left: Int32, right: Int32)] {
        guard let list = value as? [Any] else { throw BPEError("tokenizer.json: model.merges is not a list") }
        return try list.enumerated().map { rank, item in
            var parts = [String]()
            if let line = item as? String {
                parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let pair = item as? [Any] {
                parts = pair.compactMap { $0 as? String }
                if parts.count != pair.count { parts = [] }
            }
            guard parts.count == 2 else {
                throw BPEError("tokenizer.json: merge \(rank) is neither \"a b\" nor [\"a\", \"b\"]")
            }
            guard let left = ids[parts[0]], let right = ids[parts[1]] else {
                throw BPEError("tokenizer.json: merge \(rank) names a token not in the vocabulary")
            }
            return (left, right)
        }
    }
}
