import Foundation
import Primitives
import Testing
import TestSupport

/// The token-level path end to end, as a user runs it: `evolve data prepare` writes a folder
/// that Hugging Face `tokenizers` and numpy read as evolve does, and `evolve train --data`
/// trains on it and reports bits per byte.
@Suite("token data", .serialized)
struct TokenDataTests {
    /// Text the tokenizer never saw: every plane of Unicode, odd white space, apostrophes,
    /// digits of other scripts, controls — one line a sample.
    static func unseenText(_ lines: Int = 400) -> String {
        var rng = Xoshiro(seed: 21)
        let pieces = ["'s", "'t", "'re", "’s", "''", " \u{00A0}x", "\u{3000}", "\r\n", "\t\t", "  ", "٣٤", "²", "１２", "\u{0085}", "\u{0}",
                      "👩‍💻", "é", "e\u{301}", "数据", "नमस्ते", "مرحبا", "ok.", "A", "z9"]
        return (0..<lines).map { _ in
            (0..<8).map { _ -> String in
                if rng.below(4) == 0 {
                    // A random scalar from any plane (no surrogates).
                    var v = UInt32(rng.below(0x110000))
                    if (0xD800...0xDFFF).contains(v) { v = 0x41 }
                    return String(Unicode.Scalar(v)!)
                }
                return pieces[rng.below(pieces.count)]
            }.joined()
        }.joined(separator: "\n")
    }

    @Test(.enabled(if: pythonChecksRun, "needs a Python with tokenizers and numpy (EVOLVE_PYTHON)"))
    func huggingFaceAndNumpyReadWhatEvolveWrites() throws {
        let python = try requirePythonWithTorch()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-tokens-\(UUID())").path
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let corpus = try String(contentsOfFile: try realCorpus(), encoding: .utf8)
        try String(corpus.prefix(300_000)).write(toFile: "\(tmp)/corpus.txt", atomically: true, encoding: .utf8)
        try Self.unseenText().write(toFile: "\(tmp)/unseen.txt", atomically: true, encoding: .utf8)
        let prepared = try runEvolve(["data", "prepare", "\(tmp)/corpus.txt", "--tokenizer", "bpe", "--vocab", "1024", "--output", "\(tmp)/data"])
        #expect(prepared.status == 0, "\(prepared.output)")
        var ours = [String: String]()
        for name in ["corpus.txt", "unseen.txt", "README.md"] {
            let file = name == "README.md" ? packageRoot.appendingPathComponent(name).path : "\(tmp)/\(name)"
            let r = try runEvolve(["data", "encode", "\(tmp)/data", file])
            #expect(r.status == 0)
            ours[name] = r.output.trimmingCharacters(in: .whitespacesAndNewlines)
            try ours[name]!.write(toFile: "\(tmp)/\(name).ids", atomically: true, encoding: .utf8)
            // And back, byte for byte.
            let back = try runEvolve(["data", "decode", "\(tmp)/data", "\(tmp)/\(name).ids"])
            #expect(back.output == (try String(contentsOfFile: file, encoding: .utf8)), "\(name): decode(encode(text)) differs")
        }
        let check = try runPython(python, """
            import json, os, sys
            import numpy as np
            from tokenizers import Tokenizer
            tmp, readme = sys.argv[1], sys.argv[2]
            tok = Tokenizer.from_file(os.path.join(tmp, "data", "tokenizer.json"))
            for name, path in [("corpus.txt", os.path.join(tmp, "corpus.txt")), ("unseen.txt", os.path.join(tmp, "unseen.txt")), ("README.md", readme)]:
                theirs = tok.encode(open(path, encoding="utf-8", newline="").read()).ids
                ours = [int(x) for x in open(os.path.join(tmp, name + ".ids")).read().split()]
                print(name, "same" if theirs == ours else "differ at %d of %d" % (next((i for i, (a, b) in enumerate(zip(theirs, ours)) if a != b), min(len(theirs), len(ours))), len(theirs)))
            meta = json.load(open(os.path.join(tmp, "data", "meta.json")))
            for split in ("train", "val"):
                ids = np.memmap(os.path.join(tmp, "data", meta[split]["file"]), dtype=np.dtype(meta["dtype"]).newbyteorder("<"), mode="r")
                print(split, len(ids) == meta[split]["tokens"], int(ids.max()) < meta["vocab_size"])
            """, [tmp, packageRoot.appendingPathComponent("README.md").path])
        #expect(check.status == 0, "\(check.output)")
        for name in ["corpus.txt", "unseen.txt", "README.md"] { #expect(check.output.contains("\(name) same"), "\(check.output)") }
        #expect(check.output.contains("train True True") && check.output.contains("val True True"), "\(check.output)")
        // A run on the folder reports bits per byte; one with another folder's data is told so.
        let trained = try runEvolve(["train", packageRoot.appendingPathComponent("search-spaces/seeds/vanilla.program").path,
                                     "--data", "\(tmp)/data", "--steps", "3", "--threads", "1", "--precision", "float32", "--save", "\(tmp)/ckpt"])
        #expect(trained.status == 0 && !value("val_bpb", in: trained.lastLine).isEmpty && value("tokenizer", in: trained.lastLine) == "bpe",
                "\(trained.output)")
        // PyTorch evaluates the exported module on the same token files to evolve's loss.
        let exported = try runEvolve(["export", "\(tmp)/ckpt", "--format", "pytorch", "--output", "\(tmp)/model.py"])
        #expect(exported.status == 0, "\(exported.output)")
        let theirs = try runPython(python, "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
                                   [packageRoot.appendingPathComponent("scripts/pytorch_check.py").path, "val", "\(tmp)/model.py", "\(tmp)/ckpt",
                                    "--data", "\(tmp)/data"])
        let a = Double(value("val_loss", in: trained.lastLine)) ?? .nan
        let b = Double(value("val_loss", in: theirs.output.split(separator: "\n").last.map(String.init) ?? "")) ?? .nan
        #expect(abs(a - b) <= 1e-4, "evolve \(a), PyTorch \(b): \(theirs.output)")
    }

    /// A search on a data folder with several worker processes: each worker trains on the
    /// folder (it is passed on), and the study pins it.
    @Test func aSearchWithWorkersTrainsOnTheFolder() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-tokens-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let text = try String(contentsOfFile: try realCorpus(), encoding: .utf8).prefix(200_000)
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        try String(text).write(toFile: "\(tmp)/t.txt", atomically: true, encoding: .utf8)
        let prepared = try runEvolve(["data", "prepare", "\(tmp)/t.txt", "--tokenizer", "char", "--output", "\(tmp)/data"])
        #expect(prepared.status == 0, "\(prepared.output)")
        let db = temporaryDatabase()
        let tiny = packageRoot.appendingPathComponent("search-spaces/tiny.yaml").path
        let r = try runEvolve(["search", tiny, "--db", db, "--candidates", "3", "--workers", "2", "--threads", "2", "--data", "\(tmp)/data"])
        #expect(r.status == 0 && r.lastLine.hasPrefix("completed=3 "), "\(r.output)")
        // Bits per byte are recorded beside the loss: on ASCII text a character is a byte, so
        // they are the loss over ln 2.
        var fields = [String: Double]()
        for kv in r.lastLine.split(separator: " ") {
            let p = kv.split(separator: "=", maxSplits: 1)
            if p.count == 2, let x = Double(p[1]) { fields[String(p[0])] = x }
        }
        let (loss, bpb) = (fields["best_val_loss"] ?? .nan, fields["best_val_bpb"] ?? .nan)
        #expect(abs(bpb - loss / log(2)) < 2e-4, "\(r.lastLine)")
        let top = try runEvolve(["top", "--db", db])
        #expect(top.status == 0 && top.output.contains("val_bpb") && top.output.contains(String(format: "%.4f", bpb)), "\(top.output)")
        let other = try runEvolve(["search", tiny, "--db", db, "--candidates", "4", "--corpus", try syntheticCorpusFile()])
        #expect(other.status != 0 && other.output.contains("\(tmp)/data"), "a study on the folder resumed on other text: \(other.output)")
    }
}
