import Foundation
import GRDB
import Primitives
import Testing
@testable import Search
@testable import Store
import TestSupport
import Training

/// The search as its users run it: the `evolve` executable, killed, interrupted, run as
/// several processes on one database, its best program exported and retrained.
@Suite("search processes", .serialized)
struct ProcessTests {
    let space = packageRoot.appendingPathComponent("search-spaces/tiny.yaml").path

    func search(_ db: String, _ corpus: String, candidates: Int, _ extra: [String] = [],
                signal: Int32? = nil, after: Double = 0) throws -> EvolveRun {
        try runEvolve(["search", space, "--db", db, "--candidates", "\(candidates)", "--corpus", corpus, "--threads", "2"] + extra,
                      signal: signal, after: after)
    }

    /// Killed with SIGKILL at random moments (and once with Ctrl-C's SIGINT), resumed each
    /// time, a study ends as an uninterrupted one does: the same candidates in the same
    /// order with the same results, exactly N of them, each completed once.
    @Test func killedAtRandomMomentsEndsAsIfNeverKilled() throws {
        let corpus = try realCorpus()
        let n = 12
        let straight = temporaryDatabase(), killed = temporaryDatabase()
        let started = Date()
        let clean = try search(straight, corpus, candidates: n)
        #expect(clean.status == 0, "\(clean.output)")
        // Signals land within the first fifth of an uninterrupted run's time (the four before
        // the last kill add up to at most 80% of it), so the study outlasts most of them even
        // when the machine runs faster than it did for the uninterrupted run (in CI, one draw
        // of up to 30% each saw the study finish after two kills).
        let duration = Date().timeIntervalSince(started)

        var rng = Xoshiro(seed: 2026)
        var kills = 0, interrupts = 0
        for round in 0..<6 {
            let interrupt = round == 2
            let delay = max(0.2, duration * Double.random(in: 0.05...0.2, using: &rng))
            let r = try search(killed, corpus, candidates: n, signal: interrupt ? SIGINT : SIGKILL, after: delay)
            guard r.killed else { break }   // it finished before the signal
            if interrupt {
                #expect(r.status == 130, "after Ctrl-C: \(r.output)")
                #expect(r.output.contains("stopped; run the same command to resume"))
                interrupts += 1
            } else {
                kills += 1
            }
        }
        let last = try search(killed, corpus, candidates: n)
        #expect(last.status == 0, "\(last.output)")
        #expect(kills >= 3, "the runs ended before most signals; the test did not test much")

        let tiny = try tinySpace()
        #expect(try history(killed, tiny) == history(straight, tiny))
        let store = try openStore(killed)
        let study = try store.study(named: tiny.name, space: "", seed: 0)
        let all = try store.candidates(study: study.id!)
        #expect(all.count == n)
        #expect(all.allSatisfy { $0.status == .done || $0.status == .failed })
        #expect(Set(all.compactMap(\.completion)).count == n)
        for c in all where c.reusedFrom == nil && c.failure != .leaksFuture && c.failure != .compile {
            // Bands 0, 1, … each recorded once (a diverged step before band 0 records none).
            let bands = try store.evaluations(c.id!).map(\.band)
            #expect(bands == Array(0..<bands.count) && (!bands.isEmpty || c.failure == .diverged), "#\(c.id!) bands \(bands)")
        }
        #expect(last.lastLine.hasPrefix("completed=\(n) "), "\(last.lastLine)")
    }

    /// Eight processes on one database: each candidate made once and completed once, and
    /// none fails on a locked database.
    @Test func eightWorkersShareADatabase() throws {
        let corpus = try realCorpus()
        let db = temporaryDatabase()
        let n = 20
        let r = try search(db, corpus, candidates: n, ["--workers", "8", "--threads", "8"])
        #expect(r.status == 0, "\(r.output)")
        #expect(!r.output.lowercased().contains("locked"), "\(r.output)")
        #expect(Set(r.output.split(separator: "\n").compactMap { $0.split(separator: " ").first }
            .filter { $0.hasPrefix("w") }).count == 8, "every worker reported")
        let store = try openStore(db)
        let study = try store.study(named: "tiny", space: "", seed: 0)
        let all = try store.candidates(study: study.id!)
        #expect(all.count == n)
        #expect(all.allSatisfy { $0.completion != nil })
        #expect(r.lastLine.hasPrefix("completed=\(n) failed="), "\(r.lastLine)")
    }

    /// `evolve export` writes the best candidate (and any other) as a config that
    /// `evolve train` retrains to the recorded validation loss.
    @Test func exportedProgramsRetrainToTheirRecordedLoss() throws {
        let corpus = try syntheticCorpusFile()
        let db = temporaryDatabase()
        #expect(try search(db, corpus, candidates: 8).status == 0)
        let store = try openStore(db)
        let study = try store.study(named: "tiny", space: "", seed: 0)
        let best = try #require(try store.best(study: study.id!))
        // The best, and a candidate stopped at its hurdle (measured part-way through its schedule).
        let stopped = try store.candidates(study: study.id!).first {
            $0.status == .done && $0.reusedFrom == nil && (try? store.evaluations($0.id!).count) == 1
        }
        for c in [best] + (stopped.map { [$0] } ?? []) {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-export-\(UUID()).yaml").path
            let export = try runEvolve(["export", "\(c.id!)", "--db", db, "--output", file])
            #expect(export.status == 0, "\(export.output)")
            let train = try runEvolve(["train", file, "--corpus", corpus])
            #expect(train.status == 0, "\(train.output)")
            let loss = try #require(Double(value("val_loss", in: train.lastLine)), "\(train.output)")
            #expect(abs(loss - c.fitness!) < 1e-4, "#\(c.id!): recorded \(c.fitness!), retrained \(loss)")
            #expect(try String(contentsOfFile: file, encoding: .utf8).contains("precision: \(study.precision.rawValue)"))
        }
        // The config carries the study's precision, not the exporting machine's: a study
        // recorded in each precision (one of them differs from this CPU's default).
        for name in ["float32", "bfloat16"] {
            try DatabaseQueue(path: db).write { try $0.execute(sql: "UPDATE study SET products = ?", arguments: [name]) }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-export-\(UUID()).yaml").path
            #expect(try runEvolve(["export", "\(best.id!)", "--db", db, "--output", file]).status == 0)
            #expect(try String(contentsOfFile: file, encoding: .utf8).contains("precision: \(name)"))
            let train = try runEvolve(["train", file, "--corpus", corpus, "--steps", "2"])
            #expect(value("precision", in: train.lastLine).hasPrefix(name), "\(train.lastLine)")
        }
    }

    /// Bad input: one line naming the cause, exit status 1, and the study left as it was.
    @Test func badInputIsOneLineAndLosesNothing() throws {
        let corpus = try syntheticCorpusFile()
        let db = temporaryDatabase()
        #expect(try search(db, corpus, candidates: 3).status == 0)
        let before = try history(db, try tinySpace())
        let notADatabase = try syntheticCorpusFile()
        let cases: [([String], String)] = [
            (["search", space, "--db", db, "--corpus", "/nonexistent/corpus.txt"], "/nonexistent/corpus.txt"),
            (["search", "search-spaces/nothere.yaml", "--db", db, "--corpus", corpus], "no such file"),
            (["search", space, "--db", notADatabase, "--corpus", corpus], "not an evolve database"),
            (["show", "999", "--db", db], "no candidate #999"),
            (["export", "999", "--db", db], "no candidate #999"),
        ]
        for (args, message) in cases {
            let r = try runEvolve(args)
            #expect(r.status == 1, "\(args): \(r.output)")
            let lines = r.output.split(separator: "\n").filter { !$0.contains("debug build") }
            #expect(lines.count == 1 && lines[0].contains(message), "\(args): \(r.output)")
        }
        #expect(try history(db, try tinySpace()) == before)
    }

    /// `evolve train --save` killed with SIGKILL mid-run and resumed ends with exactly the
    /// losses and weights of a run never stopped; its weights load in Python's safetensors.
    @Test func trainingResumesAfterAKill() throws {
        let corpus = try realCorpus()
        let program = packageRoot.appendingPathComponent("search-spaces/seeds/primer-ez.program").path
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-train-\(UUID())").path
        let args = ["train", program, "--steps", "60", "--corpus", corpus, "--threads", "2"]
        let whole = try runEvolve(args + ["--save", base + "-whole"])
        #expect(whole.status == 0, "\(whole.output)")
        // Killed twice, each time a moment after a checkpoint past the last one, and resumed.
        let dir = base + "-killed"
        var killedAt = [Int]()
        for round in 0..<2 {
            let (p, pipe) = try startEvolve(round == 0 ? args + ["--save", dir, "--save-every", "10"] : ["train", "--resume", dir, "--corpus", corpus])
            pipe.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
            let since = killedAt.last ?? 0
            while p.isRunning, ((try? Checkpoint.state(dir))?.step ?? 0) <= since { usleep(20_000) }
            usleep(UInt32(150_000 * (round + 1)))
            if p.isRunning { kill(p.processIdentifier, SIGKILL); killedAt.append(try Checkpoint.state(dir).step) }
            p.waitUntilExit()
            pipe.fileHandleForReading.readabilityHandler = nil
        }
        let last = try runEvolve(["train", "--resume", base + "-killed", "--corpus", corpus])
        #expect(last.status == 0, "\(last.output)")
        #expect(killedAt.count == 2 && killedAt.allSatisfy { $0 < 60 }, "killed after steps \(killedAt)")
        let a = try Checkpoint.state(base + "-whole"), b = try Checkpoint.state(base + "-killed")
        #expect(a.step == 60 && a.losses == b.losses)
        let valLoss = { (r: EvolveRun) in r.output.split(separator: " ").first { $0.hasPrefix("val_loss=") } }
        #expect(valLoss(whole) != nil && valLoss(whole) == valLoss(last))
        #expect(try Safetensors.read(base + "-whole/model.safetensors").tensors == Safetensors.read(base + "-killed/model.safetensors").tensors)

        // The weights as Python's safetensors reads them (skipped, and said, without a Python; never under CI).
        guard pythonChecksRun else { print("trainingResumesAfterAKill: no Python with safetensors (EVOLVE_PYTHON): its last check skipped"); return }
        let python = try requirePythonWithTorch()
        let check = try runPython(python, """
            import sys
            from safetensors.numpy import load_file
            w = load_file(sys.argv[1] + "/model.safetensors")
            print(len(w), sum(v.size for v in w.values()), w["wte"].dtype)
            """, [base + "-whole"])
        let params = whole.output.split(separator: " ").first { $0.hasPrefix("params=") }?.dropFirst(7) ?? "?"
        #expect(check.status == 0 && check.output.contains(" \(params) float32"), "\(check.output)")
    }
}

/// The value of `key` in a line of key=value pairs.
func value(_ key: String, in line: String) -> String {
    line.split(separator: " ").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) } ?? ""
}
