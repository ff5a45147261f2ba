import ArgumentParser
import Foundation
import Program
import Tensor
import Training

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Token-level data: prepare a folder of token files from text, encode and decode with its tokenizer, benchmark the tokenizer.",
        subcommands: [Prepare.self, Encode.self, Decode.self, TokenizerBench.self])

    struct Prepare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Text files → DIR/train.bin, val.bin (little-endian ids, uint16 where the vocabulary allows), meta.json and, for bpe, tokenizer.json (Hugging Face's format).")

        @Argument(help: "Text files, folders (read recursively, in sorted order), or - for standard input; UTF-8.")
        var inputs: [String]

        @Option(help: "bpe (byte-level, GPT-2's scheme, trained on the training split), char (the text's characters) or byte.")
        var tokenizer = "bpe"

        @Option(parsing: .unconditional, help: "The BPE's vocabulary: 256 byte ids plus merges, at most 65536.")
        var vocab: Int?

        @Option(parsing: .unconditional, help: "The share of the text, by whole lines at its end, that is the validation split.")
        var valFraction = 0.1

        @Option(name: .shortAndLong, help: "The folder to write (new, empty, or a data folder to replace).")
        var output: String

        @Option(parsing: .unconditional, help: "Threads that encode.")
        var threads = ProcessInfo.processInfo.activeProcessorCount

        func run() throws {
            try reportingErrors {
                guard threads >= 1 else { throw CommandError(description: "--threads must be at least 1") }
                if tokenizer == "bpe" && vocab == nil { throw CommandError(description: "--tokenizer bpe needs --vocab N (e.g. 8192)") }
                try DataPrepare.checkOutput(output)
                let sources = try DataPrepare.sources(inputs)
                let bar = ProgressBar()
                let start = Date()
                let meta = try DataPrepare.prepare(sources, tokenizer: tokenizer, vocabulary: vocab, valFraction: valFraction,
                                                   output: output, threads: threads, progress: bar.update)
                bar.finish()
                print(keyValues([
                    "folder": output, "tokenizer": meta.tokenizer, "vocab_size": "\(meta.vocabularySize)", "dtype": meta.dtype,
                    "train_tokens": "\(meta.train.tokens)", "val_tokens": "\(meta.val.tokens)",
                    "train_bytes": "\(meta.train.bytes)", "val_bytes": "\(meta.val.bytes)",
                    "seconds": String(format: "%.1f", Date().timeIntervalSince(start)),
                ]))
            }
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A text file's ids with a data folder's tokenizer: one line of integers, or a .bin with --output.")

        @Argument(help: "A prepared data folder.")
        var folder: String

        @Argument(help: "A UTF-8 text file, or - for standard input.")
        var text: String

        @Option(name: .shortAndLong, help: "Write the ids as a .bin (the folder's dtype) instead of printing them.")
        var output: String?

        func run() throws {
            try reportingErrors {
                let (meta, tokenizer) = try Dataset.tokenizer(folder)
                let ids = DataPrepare.encode(try DataPrepare.text(DataPrepare.sources([text])), with: tokenizer, threads: 1)
                guard let output else { return print(ids.map(String.init).joined(separator: " ")) }
                try checkCanWrite(output)
                try meta.width.bytes(ids).write(to: URL(fileURLWithPath: output))
                print(keyValues(["file": output, "tokens": "\(ids.count)", "dtype": meta.dtype]))
            }
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ids back to text with a data folder's tokenizer: a file of integers (one line or many), or a .bin.")

        @Argument(help: "A prepared data folder.")
        var folder: String

        @Argument(help: "A file of whitespace-separated ids, a .bin of the folder's dtype, or - for standard input.")
        var ids: String

        func run() throws {
            try reportingErrors {
                let (meta, tokenizer) = try Dataset.tokenizer(folder)
                let list: [Int32]
                if ids.hasSuffix(".bin") {
                    let split = try TokenSplit(mapping: ids, width: meta.width)
                    list = split.ids(0..<split.count)
                } else {
                    let text = try DataPrepare.text(DataPrepare.sources([ids]))
                    list = try text.split(whereSeparator: \.isWhitespace).map { word in
                        guard let id = Int32(word) else { throw CommandError(description: "\(ids): '\(word.prefix(20))' is not an id") }
                        return id
                    }
                }
                if let bad = list.first(where: { $0 < 0 || Int($0) >= tokenizer.vocabularySize }) {
                    throw CommandError(description: "\(ids): id \(bad) is outside the vocabulary of \(tokenizer.vocabularySize)")
                }
                FileHandle.standardOutput.write(Data(tokenizer.bytes(list)))
            }
        }
    }
}

/// Progress of `data prepare`'s phases on one line of standard error.
final class ProgressBar {
    private let tty = isatty(2) != 0
    private var last = (phase: "", at: Date.distantPast, tenth: -1)

    func update(_ phase: String, _ done: Int, _ total: Int) {
        let tenth = total > 0 ? done * 10 / total : 10
        let now = Date()
        if phase == last.phase && (tty ? now.timeIntervalSince(last.at) < 0.25 && done < total : tenth == last.tenth) { return }
        if phase != last.phase && tty && !last.phase.isEmpty { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        last = (phase, now, tenth)
        let line = String(format: "%@ %3.0f%% (%d of %d)", phase, 100 * Double(done) / Double(max(total, 1)), done, total)
        FileHandle.standardError.write(((tty ? "\r\u{1B}[K" : "") + line + (tty ? "" : "\n")).data(using: .utf8)!)
    }

    func finish() { if tty { FileHandle.standardError.write("\n".data(using: .utf8)!) } }
}

extension DataCommand {
    struct TokenizerBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Encode a text with a data folder's BPE in evolve and in Hugging Face tokenizers, alternately, one thread each: MB/s of both.")

        @Argument(help: "A data folder prepared with --tokenizer bpe.")
        var folder: String

        @Argument(help: "A UTF-8 text file to encode.")
        var text: String

        @Option(parsing: .unconditional, help: "Rounds; each encodes the text once in each.")
        var rounds = 3

        @Option(help: "The Python with tokenizers (default: $EVOLVE_PYTHON, else ~/.cache/evolve-venv/bin/python).")
        var python: String?

        func run() throws {
            try reportingErrors {
                guard rounds >= 1 else { throw CommandError(description: "--rounds must be at least 1") }
                let (_, tokenizer) = try Dataset.tokenizer(folder)
                guard tokenizer.bpe != nil else { throw CommandError(description: "\(folder): not a BPE folder") }
                let body = try DataPrepare.text(DataPrepare.sources([text]))
                let python = self.python ?? TorchEngine.defaultPython
                var ours = [Double](), theirs = [Double](), same = true
                for _ in 0..<rounds {
                    var ids = [Int32]()
                    ours.append(seconds { ids = tokenizer.encode(body) })
                    let (s, count) = try huggingFace(python, tokenizer: "\(folder)/tokenizer.json")
                    theirs.append(s)
                    same = same && count == ids.count
                }
                let mb = Double(body.utf8.count) / 1e6
                let (a, b) = (mb / ours.sorted()[rounds / 2], mb / theirs.sorted()[rounds / 2])
                print(keyValues(["bytes": "\(body.utf8.count)", "evolve_mb_s": String(format: "%.2f", a), "tokenizers_mb_s": String(format: "%.2f", b),
                                 "ratio": String(format: "%.2f", a / b), "same_count": "\(same)", "rounds": "\(rounds)"]))
            }
        }

        /// Seconds Hugging Face's tokenizer takes to encode the text in one call (one thread),
        /// and the ids it gives.
        func huggingFace(_ python: String, tokenizer: String) throws -> (Double, Int) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = ["-c", """
                import sys, time
                from tokenizers import Tokenizer
                tok = Tokenizer.from_file(sys.argv[1]); text = open(sys.argv[2], encoding="utf-8").read()
                t = time.perf_counter(); n = len(tok.encode(text).ids); print(time.perf_counter() - t, n)
                """, tokenizer, text]
            p.environment = ProcessInfo.processInfo.environment.merging(["RAYON_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"]) { $1 }
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let words = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ")
            p.waitUntilExit()
            guard p.terminationStatus == 0, words.count == 2, let s = Double(words[0]), let n = Int(words[1].trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw CommandError(description: "\(python): cannot run Hugging Face tokenizers (pip install tokenizers, or --python)")
            }
            return (s, n)
        }
    }
}
