import Foundation
import GRDB
import Testing
@testable import Store
import TestSupport

/// Every kind of bad input a user has fed evolve: one line naming the cause, a non-zero exit,
/// and the study beside it byte for byte as it was.
@Suite("bad input", .serialized)
struct BadInputTests {
    let tiny = packageRoot.appendingPathComponent("search-spaces/tiny.yaml").path
    let vanilla = packageRoot.appendingPathComponent("search-spaces/seeds/vanilla.program").path

    /// A finished 3-candidate study of the tiny space on the synthetic corpus.
    func study() throws -> (db: String, corpus: String) {
        let corpus = try syntheticCorpusFile(), db = temporaryDatabase()
        let r = try runEvolve(["search", tiny, "--db", db, "--candidates", "3", "--corpus", corpus, "--threads", "1"])
        #expect(r.status == 0, "\(r.output)")
        return (db, corpus)
    }

    /// A file in the temporary folder holding `text`.
    func file(_ text: String, _ ext: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-bad-\(UUID()).\(ext)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The tiny space with one line replaced or added (its seeds by absolute path).
    func space(_ change: (String) -> String) throws -> String {
        let text = try String(contentsOfFile: tiny, encoding: .utf8)
            .replacingOccurrences(of: "seeds: [seeds/vanilla.program]", with: "seeds: [\(vanilla)]")
        return try file(change(text), "yaml")
    }

    func replacing(_ key: String, with line: String) -> (String) -> String {
        { text in text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(key + ":") ? line : String($0) }.joined(separator: "\n") }
    }

    /// The database's bytes (and its WAL's, if any).
    func bytes(_ db: String) -> [Data?] { [db, db + "-wal"].map { FileManager.default.contents(atPath: $0) } }

    /// Runs evolve, expecting one line containing `message` and a failing exit.
    func refuses(_ args: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try runEvolve(args)
        #expect(r.status != 0, "\(args): exit 0\n\(r.output)", sourceLocation: sourceLocation)
        let lines = r.output.split(separator: "\n").filter { !$0.contains("debug build") && !$0.hasPrefix("step ") && !$0.hasPrefix("validation: ") }
        #expect(lines.count == 1 && lines[0].contains(message), "\(args):\n\(r.output)", sourceLocation: sourceLocation)
    }

    @Test func studyInputsAreRefusedAndTheStudyIsUntouched() throws {
        let (db, corpus) = try study()
        let before = bytes(db)
        let empty = try file("", "txt"), short = try file("To be, or not", "txt")
        let bigProgram = try file(try String(contentsOfFile: vanilla, encoding: .utf8)
            .replacingOccurrences(of: "layers=4", with: "layers=10000"), "program")
        func search(_ space: String, _ extra: [String] = [], corpus c: String? = nil) -> [String] {
            ["search", space, "--db", db, "--candidates", "4", "--corpus", c ?? corpus] + extra
        }
        let cases: [([String], String)] = [
            (search(tiny, corpus: empty), "is empty"),
            (search(tiny, corpus: short), "needs 17 in each split"),
            (search(try space(replacing("budget", with: "budget: {flops: 1e30}"))), "above the most evolve accepts"),
            (search(try space(replacing("budget", with: "budget: {steps: 1e30}"))), "above the most evolve accepts"),
            (search(try space(replacing("budget", with: "budget: {tokens: 1e30}"))), "above the most evolve accepts"),
            (search(try space(replacing("budget", with: "budget: {steps: 0.5}"))), "whole number"),
            (search(try space(replacing("hurdles", with: "hurdles: 70"))), "hurdles must be an integer from 0 to 16"),
            (search(try space(replacing("genes", with: "genes: {layers: 1, d_model: 100000, heads: 2, context: 16}"))),
             "above the most evolve builds"),
            (search(try space(replacing("genes", with: "genes: {layers: 1000, d_model: 4096, heads: 2, context: 16}"))),
             "GB; this machine has"),
            (search(tiny, corpus: try syntheticCorpusFile().replacingOccurrences(of: ".txt", with: "-other.txt")), "cannot read"),
            (search(tiny, ["--threads", "0"]), "--threads must be at least 1"),
            // A ladder whose rung is smaller than the one below, or would not fit this machine's memory.
            (search(try space(replacing("budget", with: "budget: {steps: 100}\nladder: [{d_model: 16, budget: {steps: 10}}]"))),
             "ladder: rung 1: d_model 16 is smaller than the rung below's 32"),
            (search(try space(replacing("budget", with: "budget: {steps: 100}\nladder: [{d_model: 16384, layers: 512, budget: {steps: 10}}]"))),
             "ladder: rung 1: vanilla: training it at batch"),
            (["train", bigProgram, "--corpus", corpus], "above the most evolve builds"),
            (["export", "1", "--db", db, "--output", "/dev/null/x.yaml"], "cannot write"),
            (search(try space { $0.replacingOccurrences(of: "  insert: 1", with: "  insert: .inf") }), "needs a weight from 0 to 1e6"),
            (search(try space(replacing("name", with: "name: tiny two"))), "must be one word"),
            (search(tiny, ["--force-new-study", "a b"]), "must be one word"),
            (["show", try file("""
                program huge
                genes layers=1024 d_model=65536 heads=1 context=1 router=switch experts=4096 topk=4096
                subprogram 0
                  s1 = DENSE s0 dim=64
                  s2 = SPARSE_FFN s1 dim=64
                  s3 = SPARSE_FFN s2 dim=64
                  s4 = DENSE s3 dim=8
                """, "program")], "too large to count"),
            (["top", "-n", "0", "--db", db], "-n must be at least 1"),
        ]
        for (args, message) in cases { try refuses(args, message) }
        // A study is never resumed on other text, or from an edited space.
        let other = try file(syntheticText(30_000).uppercased(), "txt")
        try refuses(search(tiny, corpus: other), "trains on the corpus with sha256")
        let renamed = try space { $0.replacingOccurrences(of: "budget: {steps: 100}", with: "budget: {steps: 7}") }
        try refuses(search(renamed), "(budget, seeds differ)")   // its seeds by absolute path
        // The database byte for byte (a reader may leave an empty WAL beside it).
        #expect(bytes(db)[0] == before[0] && (bytes(db)[1] ?? Data()).isEmpty, "the study's database changed")
        // With a new name, the edited space is a study of its own beside the first.
        let fresh = try runEvolve(search(renamed, ["--force-new-study", "tiny-7", "--candidates", "2"]))
        #expect(fresh.status == 0 && fresh.lastLine.hasPrefix("completed=2 "), "\(fresh.output)")
    }

    @Test func trainInputs() throws {
        let corpus = try syntheticCorpusFile()
        let nan = try file("training:\n  learning_rate: .nan\n", "yaml")
        let inf = try file("training:\n  learning_rate: .inf\n", "yaml")
        let huge = try file("training:\n  learning_rate: 1e9\n  steps: 40\n", "yaml")
        let wide = try file("model:\n  d_model: 100000\n", "yaml")
        let noMask = try file(try String(contentsOfFile: vanilla, encoding: .utf8)
            .replacingOccurrences(of: "  s6 = MASK s5\n", with: "  s6 = C_MUL s5 c=1\n"), "program")
        try refuses(["train", nan, "--corpus", corpus], "'learning_rate' must be a finite number")
        try refuses(["train", inf, "--corpus", corpus], "'learning_rate' must be a finite number")
        try refuses(["train", huge, "--corpus", corpus], "diverged at step")
        try refuses(["train", wide, "--corpus", corpus], "above the most evolve builds")
        try refuses(["train", try file("model:\n  mlp_ratio: 2305843009213693952\n", "yaml"), "--corpus", corpus], "mlp_ratio")
        try refuses(["train", try file("training:\n  batch_size: 1000000000000000000\n", "yaml"), "--corpus", corpus],
                    "batch_size is at most 65536")
        try refuses(["train", noMask, "--corpus", corpus, "--steps", "5"], "reads later tokens")
        try refuses(["train", vanilla, "--corpus", corpus, "--threads", "0"], "--threads must be at least 1")
        let allowed = try runEvolve(["train", noMask, "--corpus", corpus, "--steps", "5", "--allow-noncausal"])
        #expect(allowed.status == 0 && allowed.output.contains("warning: ") && allowed.lastLine.contains("val_loss="), "\(allowed.output)")
    }

    /// Benchmarks and scaling runs refuse, before measuring or training anything, inputs
    /// and output paths they could not use at the end.
    @Test func benchAndScaleInputs() throws {
        let corpus = try syntheticCorpusFile()
        let blocker = try file("not a folder", "txt")
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-none-\(UUID())").path
        try refuses(["bench", "--seeds", "--seeds-folder", missing], "--seeds-folder \(missing): no such folder")
        try refuses(["bench", "--seeds", "--rounds", "0"], "--rounds must be at least 1")
        try refuses(["bench", "--seeds", "--output", FileManager.default.temporaryDirectory.path], "is a folder: name the file to write")
        try refuses(["bench", "--seeds", "--output", blocker + "/seeds.md"], "cannot write into \(blocker)")
        try refuses(["scale", vanilla, vanilla, "--output", blocker, "--corpus", corpus], "cannot write into \(blocker)")
        try refuses(["scale", vanilla, "--corpus", corpus], "give two or more program files")
        try refuses(["scale", vanilla, vanilla, "--sizes", "50", "--corpus", corpus], "--sizes: widths are multiples of 32")
        try refuses(["scale", vanilla, vanilla, "--reuse", missing, "--corpus", corpus], "--reuse: \(missing): no such file")
        try refuses(["scale", vanilla, vanilla, "--reuse", blocker, "--corpus", corpus], "--reuse \(blocker): record 1: not a table of evolve scale")
    }

    /// A worker, a copy and a resumed training given what they cannot use.
    @Test func workerCopyAndResumeInputs() throws {
        let real = try realCorpus(), other = try syntheticCorpusFile()
        let db = temporaryDatabase()
        let made = try runEvolve(["search", tiny, "--db", db, "--candidates", "3", "--workers", "0", "--corpus", real])
        #expect(made.status == 0 && made.output.contains("evolve worker --db \(db)"), "\(made.output)")
        try refuses(["worker", "--db", db, "--corpus", other], "(read from \(real) where it began); \(other) is other text: pass that one with --corpus or --data")
        try refuses(["worker", "--db", db, "--corpus", real, "--lease", "0"], "--lease must be at least 1 second")
        try refuses(["worker", "--db", db, "--corpus", real, "--reconnect=-1"], "--reconnect must be 0 or more seconds")
        try refuses(["search", tiny, "--db", db, "--corpus", real, "--reconnect", "inf"], "--reconnect must be 0 or more seconds")
        try refuses(["worker", "--db", temporaryDatabase(), "--corpus", real], "no such database")
        try refuses(["search", tiny, "--db", db, "--workers=-1", "--corpus", real], "--workers must be 0 or more")
        // The engine and the rungs a worker is given, each a family.
        let noTorch = try file("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n", "sh")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: noTorch)
        try refuses(["worker", "--db", db, "--corpus", real, "--engine", "pytorch", "--python", noTorch],
                    "--engine pytorch: \(noTorch) cannot train on cpu: ModuleNotFoundError: No module named 'torch'")
        for python in ["/nonexistent/python", FileManager.default.temporaryDirectory.path, real] {
            try refuses(["worker", "--db", db, "--corpus", real, "--engine", "pytorch", "--python", python], "is not an executable Python")
        }
        for device in ["tpu", "CUDA", "", "cuda0"] {
            try refuses(["worker", "--db", db, "--corpus", real, "--engine", "pytorch", "--device", device], "--device \(device): expected cpu, cuda or cuda:N")
        }
        try refuses(["worker", "--db", db, "--corpus", real, "--device", "cpu"], "--device and --python go with --engine pytorch")
        let jax = try runEvolve(["worker", "--db", db, "--corpus", real, "--engine", "jax"])   // argument parser's own error
        #expect(jax.status != 0 && jax.output.hasPrefix("Error: The value 'jax' is invalid for '--engine <engine>'"), "\(jax.output)")
        for (rungs, word) in [("1", "1"), ("0,1", "1"), ("x", "x"), ("0,,0", ""), (" ", " "), ("-1", "-1"), ("99999999999999999999", "99999999999999999999")] {
            try refuses(["worker", "--db", db, "--corpus", real, "--rungs=\(rungs)"], "--rungs \(rungs): '\(word)' is not a rung of study tiny (0 to 0)")
        }
        // None of them made or claimed a candidate.
        let untouched = try openStore(db, readOnly: true)
        #expect(try untouched.candidates(study: try #require(try untouched.studies().first).id!).isEmpty)
        try refuses(["copy", temporaryDatabase(), temporaryDatabase()], "no such database, or no study in it")
        try refuses(["copy", db, db + "2", "--study", "nope"], "has no study 'nope' (it has: tiny)")
        #expect(try runEvolve(["copy", db, db + "2"]).status == 0)
        try refuses(["copy", db, db + "2"], "already holds a study named tiny")
        try refuses(["copy", db, "postgres://nobody@/x"], "no host")
        try refuses(["train", "--resume", FileManager.default.temporaryDirectory.path, "--corpus", real], "no checkpoint here")
        try refuses(["train", vanilla, "--resume", "/tmp", "--corpus", real], "leave out")
        try refuses(["train", vanilla, "--save-every", "5", "--corpus", real], "--save-every needs --save DIR")
        try refuses(["train", vanilla, "--save", "/dev/null/x", "--steps", "1", "--corpus", real], "cannot write a checkpoint here")

        // A checkpoint saved before checkpoints had manifests: refused on --resume, unchanged.
        let old = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-old-checkpoint-\(UUID())").path
        #expect(try runEvolve(["train", vanilla, "--steps", "2", "--save", old, "--corpus", real, "--threads", "1"]).status == 0)
        try FileManager.default.removeItem(atPath: old + "/manifest.json")
        let before = try FileManager.default.contentsOfDirectory(atPath: old).sorted().map { try Data(contentsOf: URL(fileURLWithPath: old + "/" + $0)) }
        try refuses(["train", "--resume", old, "--corpus", real], "has no manifest.json, so its files cannot be verified")
        let after = try FileManager.default.contentsOfDirectory(atPath: old).sorted().map { try Data(contentsOf: URL(fileURLWithPath: old + "/" + $0)) }
        #expect(before == after, "the refusal changed the checkpoint")
    }

    /// Another application's SQLite file: no command writes to it, not even a read-only one.
    @Test func foreignDatabasesAreNeverWritten() throws {
        let corpus = try syntheticCorpusFile()
        let foreign = temporaryDatabase()
        try DatabaseQueue(path: foreign).write { try $0.execute(sql: "CREATE TABLE notes(x); INSERT INTO notes VALUES (1)") }
        let before = bytes(foreign)
        #expect(before[0] != nil)
        for args in [["status", "--db", foreign], ["top", "--db", foreign], ["report", "--db", foreign, "--output", "/tmp/x.html"],
                     ["search", tiny, "--db", foreign, "--corpus", corpus]] {
            try refuses(args, "is not an evolve database")
        }
        #expect(bytes(foreign)[0] == before[0] && (bytes(foreign)[1] ?? Data()).isEmpty)
    }

    /// An empty file is a new database, not a foreign one.
    @Test func anEmptyFileIsANewDatabase() throws {
        let db = temporaryDatabase()
        _ = FileManager.default.createFile(atPath: db, contents: Data())
        let r = try runEvolve(["search", tiny, "--db", db, "--candidates", "2", "--corpus", try syntheticCorpusFile(), "--threads", "1"])
        #expect(r.status == 0 && r.lastLine.hasPrefix("completed=2 "), "\(r.output)")
    }

    /// A failed candidate has nothing to export; a study's report goes beside its database.
    @Test func failedCandidatesAndReports() throws {
        let (db, _) = try study()
        let store = try openStore(db)
        let s = try #require(try store.studies().first)
        var failed = Candidate(studyId: s.id!, program: "program x\n", hash: "x")
        failed = try store.add(failed)
        try store.complete(failed.id!, fitness: .nan, failure: Failure(.diverged, "training loss nan at step 3"))
        try refuses(["export", "\(failed.id!)", "--db", db], "failed (diverged: training loss nan at step 3)")
        let report = try runEvolve(["report", "--db", db])
        #expect(report.status == 0 && report.lastLine.contains("file=\(db).html"), "\(report.output)")
        #expect(FileManager.default.fileExists(atPath: db + ".html"))
    }

    /// One of four workers killed with SIGKILL: another takes its place, the dead one's
    /// candidate goes back to the queue, and the study finishes on its own.
    @Test func aKilledWorkerIsReplaced() throws {
        let corpus = try syntheticCorpusFile(), db = temporaryDatabase()
        let (p, out) = try startEvolve(["search", tiny, "--db", db, "--candidates", "12", "--corpus", corpus,
                                        "--workers", "4", "--threads", "4"])
        // Wait until a worker holds a candidate, then kill the holder.
        var killed = false
        let deadline = Date().addingTimeInterval(60)
        while !killed && Date() < deadline && p.isRunning {
            usleep(100_000)
            guard let store = try? openStore(db, readOnly: true), let s = try? store.studies().first,
                  let held = try? store.running(study: s.id!).first?.worker else { continue }
            killed = kill(held.pid, SIGKILL) == 0
        }
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(killed, "no worker was seen holding a candidate")
        #expect(p.terminationStatus == 0, "\(output)")
        #expect(output.contains("started another in its place"), "\(output)")
        let store = try openStore(db, readOnly: true)
        let s = try #require(try store.studies().first)
        let all = try store.candidates(study: s.id!)
        #expect(all.count == 12 && all.allSatisfy { $0.completion != nil }, "\(all.map(\.status))")
    }
}
