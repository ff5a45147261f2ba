import Compiler
import Config
@testable import Training
import Foundation
import Primitives
import Program
import Testing
@testable import Search
import TestSupport

/// A seeded fuzzer over everything evolve reads from a user — program text, program YAML,
/// search spaces and configs, a data folder's files, a checkpoint's state, manifest and
/// safetensors header — and the compiler behind them: real files, mutated (numbers swapped
/// for extremes, lines dropped, doubled and swapped, words replaced, bytes cut or inserted),
/// each parsed, validated, costed and, where it is valid and fits, compiled and run a step.
/// Nothing may crash or hang (an input has EVOLVE_FUZZ_LIMIT seconds of CPU time, 2 by
/// default; see `FuzzWatchdog`), and every refusal must be one line. The suite runs EVOLVE_FUZZ_INPUTS
/// inputs (1,000 by default) from EVOLVE_FUZZ_SEED (2026); `scripts/fuzz.sh 100000` runs more.
@Suite("fuzz")
struct FuzzTests {
    enum Kind: String, CaseIterable {
        case programText = "program text", programYAML = "program YAML", space, config
        case tokenizerJSON = "tokenizer.json", dataMeta = "data meta.json", checkpointState = "checkpoint state.json"
        case checkpointManifest = "checkpoint manifest.json", safetensors = "safetensors header"
    }

    /// A data folder and a checkpoint to mutate files of, made once.
    static let fixtures: (data: String, checkpoint: String, trainer: () -> Trainer) = {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-fuzz-\(UUID())").path
        _ = try! DataPrepare.prepare([("t", Data(syntheticText(4000).replacingOccurrences(of: ". ", with: ".\n").utf8))],
                                     tokenizer: "bpe", vocabulary: 300, valFraction: 0.1, output: tmp + "/data", threads: 1)
        var p = try! seed("vanilla")
        (p.genes.layers, p.genes.dModel, p.genes.heads, p.genes.context) = (1, 16, 2, 8)
        var r = Recipe()
        (r.batchSize, r.steps) = (2, 2)
        let data = try! Dataset(folder: tmp + "/data")
        let make = { try! Run(p, recipe: r, data: data, threads: 1).trainer }
        let t = make()
        var hooks = TrainingHooks()
        hooks.save = { try Checkpoint.save(t, $0, files: [:], to: tmp + "/ckpt") }
        _ = try! t.train(data, hooks: hooks)
        return (tmp + "/data", tmp + "/ckpt", make)
    }()

    static func corpus() throws -> [(Kind, String)] {
        let root = packageRoot.path
        let seeds = try FileManager.default.contentsOfDirectory(atPath: root + "/search-spaces/seeds").sorted()
        let programs = try seeds.map { try Program.load(path: root + "/search-spaces/seeds/" + $0) }
        let spaces = try FileManager.default.contentsOfDirectory(atPath: root + "/search-spaces").filter { $0.hasSuffix(".yaml") }.sorted()
        var all: [(Kind, String)] = programs.map { (.programText, $0.text) } + programs.map { (.programYAML, $0.yaml) }
        all += try spaces.map { (.space, try String(contentsOfFile: root + "/search-spaces/" + $0, encoding: .utf8)) }
        all.append((.config, try String(contentsOfFile: root + "/configs/baseline.yaml", encoding: .utf8)))
        // A space whose widths alias its dims, so anchors and aliases are mutated too.
        all.append((.space, "name: aliased\nseeds: [seeds/vanilla.program]\nchoices: {dims: &d [4, 8, 16], widths: *d}\ntraining: {steps: 3, batch_size: 2}\n"))
        all.append((.tokenizerJSON, try String(contentsOfFile: fixtures.data + "/tokenizer.json", encoding: .utf8)))
        all.append((.dataMeta, try String(contentsOfFile: fixtures.data + "/meta.json", encoding: .utf8)))
        all.append((.checkpointState, try String(contentsOfFile: fixtures.checkpoint + "/state.json", encoding: .utf8)))
        all.append((.checkpointManifest, try String(contentsOfFile: fixtures.checkpoint + "/manifest.json", encoding: .utf8)))
        all.append((.safetensors, weights.text))
        return all
    }

    /// The checkpoint's weights file as text to mutate: the header's length (its 8 bytes, in
    /// decimal) on the first line, then the header, one field a line; `data` follows it.
    static let weights: (text: String, data: Data) = {
        let file = try! Data(contentsOf: URL(fileURLWithPath: fixtures.checkpoint + "/model.safetensors"))
        let n = Int(file.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try! JSONSerialization.jsonObject(with: file.subdata(in: 8..<(8 + n)))
        let pretty = String(decoding: try! JSONSerialization.data(withJSONObject: header, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
        return ("\(pretty.utf8.count)\n" + pretty, file.subdata(in: (8 + n)..<file.count))
    }()

    /// A weights file from `text` (see `weights`): a first line that is not a length gives
    /// the header's own.
    static func safetensorsFile(_ text: String) -> Data {
        let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let header = lines.count > 1 ? String(lines[1]) : text
        let n = lines.count > 1 ? UInt64(lines[0]) ?? UInt64(header.utf8.count) : UInt64(header.utf8.count)
        var file = Data()
        withUnsafeBytes(of: n.littleEndian) { file.append(contentsOf: $0) }
        return file + Data(header.utf8) + weights.data
    }

    /// A copy of `folder` with `file` replaced by `contents`.
    static func copy(_ folder: String, replacing file: String, with contents: Data) throws -> String {
        let dir = folder + "-\(UUID())"
        try FileManager.default.copyItem(atPath: folder, toPath: dir)
        try contents.write(to: URL(fileURLWithPath: dir + "/" + file))
        return dir
    }

    static let extremes = ["0", "-1", "1e30", "1e-30", ".nan", ".inf", "-.inf", "99999999999999999999", "0.5", "65537",
                           "1024", "3", "-0", "1e308", "2147483648", "NaN"]
    static let words = Op.allCases.map(\.rawValue) + ["s0", "s1", "s99", "s-1", "dim=8", "dim=3", "sub=1", "sub=9", "c=", "=",
        "subprogram", "program", "genes", "layers=0", "d_model=7", "heads=0", "altup=9", "router=x", "[", "]", "{", "}", ":",
        "- ", "#", "é", "\t", "seeds:", "budget:", "steps:", "population:", "model:", "training:", "program:", "null", "~"]

    /// One random edit of `text`.
    static func mutate(_ text: String, _ rng: inout Xoshiro) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let i = rng.below(lines.count)
        switch rng.below(8) {
        case 0, 1:   // a number swapped for an extreme
            var w = lines[i].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            let numeric = w.indices.filter { w[$0].contains(where: \.isNumber) }
            guard let j = numeric.isEmpty ? nil : numeric[rng.below(numeric.count)] else { break }
            let digits = w[j].firstIndex(where: \.isNumber)!
            w[j] = String(w[j][..<digits]) + extremes[rng.below(extremes.count)] + (w[j].hasSuffix(",") ? "," : "")
            lines[i] = w.joined(separator: " ")
        case 2: lines.remove(at: i)
        case 3: lines.insert(lines[rng.below(lines.count)], at: i)
        case 4: lines.swapAt(i, rng.below(lines.count))
        case 5:   // a word replaced
            var w = lines[i].split(separator: " ").map(String.init)
            if w.isEmpty { w = [""] }
            w[rng.below(w.count)] = words[rng.below(words.count)]
            lines[i] = w.joined(separator: " ")
        case 6:   // cut short
            let all = lines.joined(separator: "\n")
            return String(all.prefix(rng.below(all.count + 1)))
        default:   // printable bytes inserted
            let all = Array(lines.joined(separator: "\n").unicodeScalars)
            let at = rng.below(all.count + 1)
            let junk = (0..<(1 + rng.below(4))).map { _ in Unicode.Scalar(UInt8(32 + rng.below(95))) }
            return String(String.UnicodeScalarView(all[..<at] + junk + all[at...]))
        }
        return lines.joined(separator: "\n")
    }

    struct Tally { var inputs = 0, refused = 0, valid = 0, compiled = 0 }

    /// Parses one input of its kind; the programs it yields go through the compiler.
    static func exercise(_ kind: Kind, _ text: String, _ tally: inout Tally) throws {
        let dir = packageRoot.path + "/search-spaces/"
        let programs: [Program]
        switch kind {
        case .programText: programs = [try Program(text: text, file: "fuzz.program")]
        case .programYAML: programs = [try Program(yaml: text, file: "fuzz.yaml")]
        case .space: programs = try SearchSpace.parse(text, path: dir + "fuzz.yaml").seeds
        case .config:
            let c = try TrainConfig.parse(text, file: "fuzz.yaml")
            programs = [try c.resolvedProgram(file: dir + "fuzz.yaml")]
        case .tokenizerJSON:
            let bpe = try BPE(json: Data(text.utf8))
            #expect(String(decoding: bpe.decode(bpe.encode("to be, or not")), as: UTF8.self) == "to be, or not")
            return
        case .dataMeta:
            let d = try copy(fixtures.data, replacing: "meta.json", with: Data(text.utf8))
            defer { try? FileManager.default.removeItem(atPath: d) }
            _ = try Dataset(folder: d)
            return
        case .checkpointState, .checkpointManifest, .safetensors:
            try restore(kind, text)
            return
        }
        for p in programs {
            try p.validate()
            tally.valid += 1
            // The text form reads back to itself (genes a program does not use are not written).
            let back = try Program(text: p.text)
            #expect(back.text == p.text && back.hash == p.hash, "the text form does not read back:\n\(p.text)")
            _ = p.canonical.hash
            _ = try p.cost(vocabulary: 7)
            let compiler = try Compiler(p, vocabulary: 7)
            try compiler.checkMemory(batch: 1, available: 5e7)   // small models only: fast, and the refusal exercised
            let m = compiler.build(batch: 1, initStd: 0.02, seed: 1)
            for i in 0..<m.tokens.count { m.tokens[i] = Int32(i % 7); m.targets[i] = Int32((i + 3) % 7) }
            m.graph.forward()
            m.graph.backward(from: m.objective)
            tally.compiled += 1
        }
    }

    /// A checkpoint with one file replaced by the input, resumed; past the manifest (written
    /// anew) unless the input is the manifest, to the file's own checks.
    static func restore(_ kind: Kind, _ text: String) throws {
        let (file, contents): (String, Data) = switch kind {
        case .checkpointManifest: ("manifest.json", Data(text.utf8))
        case .safetensors: ("model.safetensors", safetensorsFile(text))
        default: ("state.json", Data(text.utf8))
        }
        let d = try copy(fixtures.checkpoint, replacing: file, with: contents)
        defer { try? FileManager.default.removeItem(atPath: d) }
        if kind != .checkpointManifest { try Manifest.write(d) }
        _ = try Checkpoint.restore(fixtures.trainer(), from: d)
    }

    @Test func nothingCrashesAndEveryRefusalIsOneLine() throws {
        let n = Int(ProcessInfo.processInfo.environment["EVOLVE_FUZZ_INPUTS"] ?? "") ?? 1000
        let corpus = try Self.corpus()
        var rng = Xoshiro(seed: UInt64(ProcessInfo.processInfo.environment["EVOLVE_FUZZ_SEED"] ?? "") ?? 2026)
        var tally = Tally()
        let environment = ProcessInfo.processInfo.environment
        let watchdog = try FuzzWatchdog(limit: Double(environment["EVOLVE_FUZZ_LIMIT"] ?? "") ?? 2,
                                        folder: environment["EVOLVE_FUZZ_OUT"] ?? FileManager.default.temporaryDirectory.appendingPathComponent("evolve-fuzz-out-\(UUID())").path)
        defer { watchdog.finish() }
        let start = Date()
        // EVOLVE_FUZZ_ONLY=K runs input K alone (the inputs before it are made, not run): a
        // failure's input again, in seconds.
        let only = Int(environment["EVOLVE_FUZZ_ONLY"] ?? "")
        for k in 0..<n {
            let (kind, original) = corpus[k % corpus.count]
            var text = original
            for _ in 0..<(1 + rng.below(3)) { text = Self.mutate(text, &rng) }
            if let only, k != only { continue }
            tally.inputs += 1
            try watchdog.begin(k, "\(kind.rawValue) input \(k)", text)
            defer { watchdog.end() }
            do { try Self.exercise(kind, text, &tally) } catch {
                tally.refused += 1
                let line = "\(error)"
                #expect(!line.isEmpty && !line.contains("\n"), "\(kind.rawValue) input \(k): a refusal of several lines: \(line.debugDescription)")
            }
        }
        #expect(only != nil || (tally.valid > n / 20 && tally.compiled > n / 40), "\(tally)")
        print(String(format: "fuzz: %d inputs (%@), 0 crashes, 0 hangs (limit %.1f s of CPU time; the most taken %.2f s, %@), %d refused with a one-line error, %d valid programs, %d compiled and run, %.1f s",
                     tally.inputs, Kind.allCases.map(\.rawValue).joined(separator: ", "), watchdog.limit, watchdog.slowest.seconds,
                     watchdog.slowest.label, tally.refused, tally.valid, tally.compiled, Date().timeIntervalSince(start)))
    }
}
