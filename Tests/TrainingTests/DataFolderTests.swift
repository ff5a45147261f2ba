import Foundation
import Config
import Primitives
import Testing
@testable import Training
import TestSupport

/// Prepared data folders: what `evolve data prepare` writes reads back as the same text, a
/// run on it reports bits per byte, a file of any size trains, and every kind of bad folder
/// is one line naming its file.
@Suite("data folders")
struct DataFolderTests {
    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("evolve-data-\(UUID())").path
    }

    /// Lines of words from several scripts, so characters take 1 to 4 bytes.
    static func text(lines: Int = 400) -> String {
        let words = ["to be", "or not", "wörld", "Ångström", "数据", "δοκιμή", "🙂 ok", "it's", "  spaced", "42"]
        var rng = Xoshiro(seed: 9)
        return (0..<lines).map { _ in (0..<6).map { _ in words[rng.below(words.count)] }.joined(separator: " ") }.joined(separator: "\n") + "\n"
    }

    static func prepare(_ text: String, tokenizer: String, vocabulary: Int? = nil) throws -> (String, DataMeta) {
        let dir = folder()
        let meta = try DataPrepare.prepare([("text", Data(text.utf8))], tokenizer: tokenizer, vocabulary: vocabulary,
                                           valFraction: 0.1, output: dir, threads: 2)
        return (dir, meta)
    }

    @Test(arguments: ["bpe", "char", "byte"]) func preparedFoldersReadBackAsTheirText(_ kind: String) throws {
        let text = Self.text()
        let (dir, meta) = try Self.prepare(text, tokenizer: kind, vocabulary: 300)
        let data = try Dataset(folder: dir)
        #expect(data.tokenizer.name == kind && meta.dtype == "uint16")
        let train = data.train.ids(0..<data.train.count), val = data.validation.ids(0..<data.validation.count)
        #expect(String(decoding: data.tokenizer.bytes(train) + data.tokenizer.bytes(val), as: UTF8.self) == text)
        #expect(meta.train.bytes + meta.val.bytes == text.utf8.count)
        // With a context of 1 every id but the first is predicted: the split's bytes less its first token's.
        let whole = data.validationSet(context: 1, limit: .max)
        #expect(!whole.sampled && whole.bytes + data.tokenizer.bytes([val[0]]).count == meta.val.bytes)
        // The validation split starts at a line.
        #expect(String(decoding: data.tokenizer.bytes(train), as: UTF8.self).hasSuffix("\n"))
        // Encoding in pieces gives the ids of the whole.
        #expect(DataPrepare.encode(text, with: data.tokenizer, threads: 2) == data.tokenizer.encode(text))
    }

    /// Cutting a text into pieces never changes its ids: blank lines, CRLF, trailing spaces and
    /// non-ASCII white space around newlines, with pieces far smaller than the lines.
    @Test func piecesEncodeToTheIdsOfTheWhole() throws {
        var rng = Xoshiro(seed: 5)
        let breaks = ["\n", "\n\n", "\r\n", " \n", "\n ", "\u{3000}\n", "\n\u{3000}", "\n\n\n", "\t\n", "\n's", "\n42", "\n.", "\u{85}\n"]
        let words = ["to", "be", "wörld", "数据", "it's", "  ", "🙂", "x1"]
        var text = ""
        for _ in 0..<3000 { text += rng.below(3) == 0 ? breaks[rng.below(breaks.count)] : words[rng.below(words.count)] + " " }
        let (dir, _) = try Self.prepare(text, tokenizer: "bpe", vocabulary: 400)
        let tokenizer = try Dataset(folder: dir).tokenizer
        for size in [1, 7, 64, 1000] {
            #expect(DataPrepare.encode(text, with: tokenizer, threads: 2, pieceSize: size) == tokenizer.encode(text), "pieces of \(size) bytes")
        }
    }

    /// A config may name its data folder, relative to the config's own folder.
    @Test func configsNameTheirDataFolder() throws {
        #expect(try TrainConfig.parse("data: d\n", file: "/x/c.yaml").data == "/x/d")
        #expect(try TrainConfig.parse("data: /abs/d\n", file: "/x/c.yaml").data == "/abs/d")
        #expect(try TrainConfig.parse("training: {steps: 3}\n", file: "/x/c.yaml").data == nil)
    }

    /// Bits per byte are nats per token over ln 2, times the tokens predicted per byte they
    /// stand for: for characters, nats/char ÷ ln 2 × chars/bytes of each window's targets.
    @Test(arguments: [1, 7, 64]) func bitsPerByteOfACharRun(context: Int) {
        let data = Dataset(text: Self.text())
        let set = data.validationSet(context: context, limit: .max)
        let targets = set.starts.flatMap { data.validation.ids(($0 + 1)..<($0 + 1 + context)) }
        let bytes = String(String.UnicodeScalarView(targets.map { data.tokenizer.symbols[Int($0)] })).utf8.count
        #expect(set.targets == targets.count && set.bytes == bytes && bytes > targets.count)
        #expect(set.starts == Array(0..<((data.validation.count - 1) / context)).map { $0 * context })
        #expect(abs(set.bitsPerByte(1.7) - 1.7 / log(2) * Double(targets.count) / Double(bytes)) < 1e-12)
    }

    /// Above the limit, validation is a fixed sample of the whole split's windows: as many as
    /// the limit holds, distinct, in order, on the same grid, the same every time; at or
    /// below it, every window.
    @Test func largeSplitsAreSampledTheSameEveryTime() {
        let data = Dataset(text: Self.text(lines: 2000))
        let t = 16, windows = (data.validation.count - 1) / t
        for limit in [t, 5 * t, 37 * t + 3, (windows - 1) * t] {
            let set = data.validationSet(context: t, limit: limit)
            #expect(set.sampled && set.starts.count == limit / t, "limit \(limit)")
            #expect(set.starts == set.starts.sorted() && Set(set.starts).count == set.starts.count)
            #expect(set.starts.allSatisfy { $0 % t == 0 && $0 / t < windows })
            #expect(set.starts == data.validationSet(context: t, limit: limit).starts)
        }
        #expect(!data.validationSet(context: t, limit: windows * t).sampled)
        // Samples of different sizes are not all the first windows.
        #expect(data.validationSet(context: t, limit: 5 * t).starts != Array(0..<5).map { $0 * t })
    }

    /// A token file past 4 GiB (sparse: all ids 0) maps, is checked, and trains a step whose
    /// windows land past the 32-bit offsets.
    @Test func aTokenFileOverFourGiBTrains() throws {
        let (dir, meta) = try Self.prepare(Self.text(), tokenizer: "byte")
        let big = (Int64(1) << 32) + 4096, path = "\(dir)/train.bin"
        let fd = open(path, O_WRONLY | O_TRUNC)
        #expect(fd >= 0 && ftruncate(fd, off_t(big)) == 0)
        close(fd)
        var m = meta
        m.train.tokens = Int(big / 2)
        try JSONEncoder().encode(m).write(to: URL(fileURLWithPath: "\(dir)/meta.json"))
        let data = try Dataset(folder: dir)
        #expect(data.train.count == Int(big / 2) && data.train[data.train.count - 1] == 0)
        var c = tinyConfig()
        c.recipe.steps = 1
        let result = train(c, data, steps: 1, threads: 1)
        #expect(result.losses.count == 1 && result.losses[0].isFinite)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Each kind of bad folder or input, generated from a good folder: one line naming the file.
    @Test func badFoldersAreOneLineNamingTheFile() throws {
        let (good, _) = try Self.prepare(Self.text(), tokenizer: "bpe", vocabulary: 280)
        let faults: [(String, (String) throws -> Void, String)] = [
            ("no meta", { try FileManager.default.removeItem(atPath: "\($0)/meta.json") }, "not a prepared data folder"),
            ("meta not json", { try "{".write(toFile: "\($0)/meta.json", atomically: true, encoding: .utf8) }, "meta.json: not an evolve data meta.json"),
            ("odd size", { try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\($0)/val.bin")) }, "val.bin: 3 bytes is not a whole number"),
            ("size disagrees", { try Data([1, 0]).write(to: URL(fileURLWithPath: "\($0)/val.bin")) }, "val.bin: 1 ids; meta.json says"),
            ("id past vocabulary", { dir in
                let n = try Dataset.readMeta(dir).val.tokens
                try Data((0..<n).flatMap { _ in [UInt8(0xFF), 0xFF] }).write(to: URL(fileURLWithPath: "\(dir)/val.bin")) }, "val.bin: id 65535 is outside the vocabulary"),
            ("bad tokenizer", { try "{\"model\": 3}".write(toFile: "\($0)/tokenizer.json", atomically: true, encoding: .utf8) }, "tokenizer.json: not a byte-level BPE"),
            ("vocab over dtype", { dir in try Self.editMeta(dir) { $0.vocabularySize = 70_000 } }, "vocab_size 70000 does not fit uint16"),
            ("missing split", { try FileManager.default.removeItem(atPath: "\($0)/train.bin") }, "train.bin: missing"),
        ]
        for (name, fault, message) in faults {
            let dir = Self.folder()
            try FileManager.default.copyItem(atPath: good, toPath: dir)
            try fault(dir)
            do { _ = try Dataset(folder: dir); Issue.record("\(name): accepted") } catch {
                let text = "\(error)"
                #expect(text.contains(message) && !text.contains("\n") && text.contains(dir), "\(name): \(text)")
            }
        }
    }

    static func editMeta(_ dir: String, _ edit: (inout DataMeta) -> Void) throws {
        var m = try Dataset.readMeta(dir)
        edit(&m)
        try JSONEncoder().encode(m).write(to: URL(fileURLWithPath: "\(dir)/meta.json"))
    }

    @Test func badInputsToPrepareAreRefusedBeforeWriting() throws {
        let cases: [(String, Data, Int?, String)] = [
            ("bpe", Data(Self.text().utf8), 255, "needs 256...65536 ids"),
            ("bpe", Data([0x61, 0x0A, 0x62, 0xC3, 0x28, 0x0A]), 300, "not UTF-8 text (the first invalid byte is at offset 3)"),
            ("char", Data("one line without a newline".utf8), nil, "an empty split"),
            ("words", Data("a\nb\n".utf8), nil, "is not bpe, char or byte"),
        ]
        for (kind, bytes, vocabulary, message) in cases {
            let dir = Self.folder()
            do {
                _ = try DataPrepare.prepare([("input.txt", bytes)], tokenizer: kind, vocabulary: vocabulary, valFraction: 0.1, output: dir, threads: 1)
                Issue.record("\(message): accepted")
            } catch { #expect("\(error)".contains(message), "\(error)") }
            #expect(!FileManager.default.fileExists(atPath: dir), "\(message): wrote \(dir)")
        }
    }
}
