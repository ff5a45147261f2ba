import Foundation
import Program

/// `evolve data prepare`: text files → a data folder (see `DataMeta`). The text of every
/// input, in order, is cut by lines: the validation split is the last `valFraction` of the
/// bytes, moved forward to the start of a line, so both splits hold whole lines.
public enum DataPrepare {
    /// Told of progress: the phase ("reading", "training", "encoding train", …), done and total.
    public typealias Progress = (_ phase: String, _ done: Int, _ total: Int) -> Void

    /// Above this many bytes of input, `prepare` refuses before reading (64 GiB: ids are
    /// 64-bit throughout, but a BPE's word counts live in memory).
    public static let largestInput = 64 << 30

    /// The files that `inputs` name: files as given, folders recursively in sorted order,
    /// `-` for standard input (read here). Each with its bytes.
    public static func sources(_ inputs: [String]) throws -> [(path: String, data: Data)] {
        var files = [String]()
        for input in inputs {
            if input == "-" { files.append(input); continue }
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isFolder) else { throw CorpusError(description: "\(input): no such file") }
            guard isFolder.boolValue else { files.append(input); continue }
            let all = (FileManager.default.enumerator(atPath: input)?.allObjects as? [String] ?? []).sorted()
            for f in all where !isDirectory("\(input)/\(f)") { files.append("\(input)/\(f)") }
        }
        guard !files.isEmpty else { throw CorpusError(description: "no input text: name files, folders or - for standard input") }
        var total = 0
        return try files.map { path in
            let data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try read(path)
            total += data.count
            guard total <= largestInput else { throw CorpusError(description: "the inputs exceed \(largestInput) bytes") }
            return (path, data)
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
    }

    static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else { throw CorpusError(description: "\(path): cannot read the file") }
        return data
    }

    /// The text of the sources, each checked to be UTF-8 (the error names the file and the
    /// byte offset of the first invalid sequence).
    public static func text(_ sources: [(path: String, data: Data)]) throws -> String {
        var text = ""
        for (path, data) in sources {
            guard let s = String(data: data, encoding: .utf8) else {
                throw CorpusError(description: "\(path): not UTF-8 text (the first invalid byte is at offset \(firstInvalidByte(data)))")
            }
            text += s
        }
        return text
    }

    /// Where a byte string stops being valid UTF-8: the offset of the first sequence that
    /// does not decode (overlong forms and surrogates included).
    static func firstInvalidByte(_ data: Data) -> Int {
        let bytes = [UInt8](data)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let n = b < 0x80 ? 1 : b >> 5 == 0b110 ? 2 : b >> 4 == 0b1110 ? 3 : b >> 3 == 0b11110 ? 4 : 0
            guard n > 0, i + n <= bytes.count, String(bytes: bytes[i..<(i + n)], encoding: .utf8) != nil else { return i }
            i += n
        }
        return bytes.count
    }

    /// The line-aligned cut between the splits.
    public static func cut(_ text: String, valFraction: Double) -> String.Index {
        let utf8 = text.utf8
        var i = utf8.index(utf8.startIndex, offsetBy: Int(Double(utf8.count) * (1 - valFraction)))
        while i < utf8.endIndex, i > utf8.startIndex, utf8[utf8.index(before: i)] != UInt8(ascii: "\n") { i = utf8.index(after: i) }
        return i
    }
}

extension DataPrepare {
    /// Cuts `text` into pieces of about `size` bytes, each cut where the pre-tokenizer splits
    /// anyway, so that encoding the pieces gives the ids of the whole: after a newline that
    /// stands alone between two characters that are not white space ("x\ny", not "x\n\ny",
    /// "x\r\ny" or "x \ny", whose white-space runs a cut would split into other pre-tokens).
    public static func pieces(_ text: String, size: Int = 1 << 20) -> [String] {
        let utf8 = text.utf8
        var out = [String](), start = utf8.startIndex
        func safe(_ i: String.Index) -> Bool {
            guard i > utf8.index(after: utf8.startIndex), i < utf8.endIndex else { return false }
            let newline = utf8.index(before: i)
            return utf8[newline] == UInt8(ascii: "\n") && !isSpace(utf8[utf8.index(before: newline)]) && !isSpace(utf8[i])
        }
        while start < utf8.endIndex {
            var i = utf8.index(start, offsetBy: size, limitedBy: utf8.endIndex) ?? utf8.endIndex
            while i < utf8.endIndex, !safe(i) { i = utf8.index(after: i) }
            out.append(String(text[start..<i]))
            start = i
        }
        return out
    }

    /// ASCII white space and the lead bytes of non-ASCII characters (any of which may be
    /// white space): never a safe place to cut before.
    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) || b >= 0x80 }

    /// The ids of `text`, its pieces encoded on `threads` threads; `progress` hears bytes done.
    public static func encode(_ text: String, with tokenizer: Tokenizer, threads: Int, pieceSize: Int = 1 << 20,
                              progress: ((Int, Int) -> Void)? = nil) -> [Int32] {
        let parts = pieces(text, size: pieceSize)
        var out = [[Int32]](repeating: [], count: parts.count)
        let lock = NSLock()
        var done = 0
        out.withUnsafeMutableBufferPointer { slots in
            let slots = UnsafeSendable(slots)
            DispatchQueue.concurrentPerform(iterations: max(1, threads)) { t in
                for k in stride(from: t, to: parts.count, by: max(1, threads)) {
                    slots.value[k] = tokenizer.encode(parts[k])
                    lock.lock(); done += parts[k].utf8.count; progress?(done, text.utf8.count); lock.unlock()
                }
            }
        }
        return out.flatMap { $0 }
    }

    /// Prepares a data folder from `sources`: the tokenizer (a BPE of `vocabulary` ids
    /// trained on the training split, the sorted characters, or the bytes), both splits
    /// encoded, the files written (meta.json last). Refuses in one line, before writing:
    /// an unknown tokenizer, a BPE vocabulary outside 256...65536, text that is not UTF-8, an
    /// empty split, an output that is a file or a non-empty folder that is not a data folder.
    public static func prepare(_ sources: [(path: String, data: Data)], tokenizer kind: String, vocabulary: Int?,
                               valFraction: Double, output: String, threads: Int, progress: Progress? = nil) throws -> DataMeta {
        try checkOutput(output)
        guard ["bpe", "char", "byte"].contains(kind) else { throw CorpusError(description: "--tokenizer '\(kind)' is not bpe, char or byte") }
        if kind == "bpe", !(256...BPE.maximumVocabularySize).contains(vocabulary ?? 0) {
            throw CorpusError(description: "--vocab: a byte-level BPE needs 256...\(BPE.maximumVocabularySize) ids (the 256 bytes and its merges)")
        }
        guard valFraction > 0, valFraction < 1 else { throw CorpusError(description: "--val-fraction must be in (0, 1)") }
        let text = try self.text(sources)
        let cut = self.cut(text, valFraction: valFraction)
        let (trainText, valText) = (String(text[..<cut]), String(text[cut...]))
        guard !trainText.isEmpty, !valText.isEmpty else {
            throw CorpusError(description: "an empty split: the text has \(text.utf8.count) bytes in too few lines to cut at --val-fraction \(valFraction)")
        }
        let tokenizer: Tokenizer
        switch kind {
        case "bpe":
            tokenizer = Tokenizer(bpe: try BPE.train(texts: pieces(trainText), vocabularySize: vocabulary!) { progress?("training", $0, $1) })
        case "char": tokenizer = Tokenizer(kind: .char, text: text)
        default: tokenizer = Tokenizer(kind: .byte, text: "")
        }
        let trainIds = encode(trainText, with: tokenizer, threads: threads) { progress?("encoding train", $0, $1) }
        let valIds = encode(valText, with: tokenizer, threads: threads) { progress?("encoding val", $0, $1) }
        return try write(output, tokenizer: tokenizer, sources: sources, splits: [(trainIds, trainText.utf8.count), (valIds, valText.utf8.count)],
                         valFraction: valFraction)
    }

    /// An output folder evolve may write into: new, empty, or a data folder already.
    public static func checkOutput(_ output: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: output, isDirectory: &isFolder) else { return }
        guard isFolder.boolValue else { throw CorpusError(description: "--output \(output) is a file; name a folder") }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        guard entries.isEmpty || entries.contains("meta.json") else {
            throw CorpusError(description: "--output \(output) is a folder with other files; name a new or empty one")
        }
    }

    static func write(_ output: String, tokenizer: Tokenizer, sources: [(path: String, data: Data)],
                      splits: [(ids: [Int32], bytes: Int)], valFraction: Double) throws -> DataMeta {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let width = TokenSplit.Width(vocabulary: tokenizer.vocabularySize)
        var files = [DataMeta.Split]()
        for (name, split) in zip(["train.bin", "val.bin"], splits) {
            let bytes = width.bytes(split.ids)
            try bytes.write(to: URL(fileURLWithPath: "\(output)/\(name)"), options: .atomic)
            files.append(DataMeta.Split(file: name, tokens: split.ids.count, bytes: split.bytes, sha256: sha256Hex(bytes)))
        }
        var tokenizerSha: String?
        if let bpe = tokenizer.bpe {
            let json = bpe.jsonData()
            try json.write(to: URL(fileURLWithPath: "\(output)/tokenizer.json"), options: .atomic)
            tokenizerSha = sha256Hex(json)
        }
        let meta = DataMeta(tokenizer: tokenizer.name, vocabularySize: tokenizer.vocabularySize, dtype: width.dtype,
                            split: "by lines: the last \(valFraction) of the text's bytes, from the start of a line, is validation",
                            train: files[0], val: files[1],
                            sources: sources.map { DataMeta.Source(path: $0.path, bytes: $0.data.count, sha256: sha256Hex($0.data)) },
                            alphabet: tokenizer.kind == .char && tokenizer.bpe == nil ? String(String.UnicodeScalarView(tokenizer.symbols)) : nil,
                            tokenizerSha256: tokenizerSha)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(meta).write(to: URL(fileURLWithPath: "\(output)/meta.json"), options: .atomic)
        return meta
    }
}

/// A pointer handed to concurrent workers that each write their own slots.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
