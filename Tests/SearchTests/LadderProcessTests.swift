import Foundation
import Testing
@testable import Search
@testable import Store
import TestSupport
import Config
import Program

/// A search on a ladder as its users run it: `evolve search search-spaces/tiny-ladder.yaml`
/// with workers, one of them killed while it trains a rung job.
@Suite("ladder processes", .serialized)
struct LadderProcessTests {
    let space = packageRoot.appendingPathComponent("search-spaces/tiny-ladder.yaml").path

    /// What every finished ladder study holds: its candidates and rung jobs each completed
    /// once, nothing queued or running, and each seed's reference jobs at every rung that
    /// has jobs, exactly the space's `reference_seeds` of them (3 in tiny-ladder.yaml).
    func checkFinished(_ db: String, candidates n: Int) throws -> (SQLStore, Study) {
        let store = try openStore(db, readOnly: true)
        let s = try #require(try store.studies().first)
        let all = try store.candidates(study: s.id!), jobs = try store.rungJobs(study: s.id!)
        #expect(all.count == n && (all + jobs).allSatisfy { $0.completion != nil }, "\((all + jobs).map(\.status))")
        #expect(Set((all + jobs).compactMap(\.completion)).count == all.count + jobs.count)
        let ladder = try SearchSpace.load(path: space)
        let seed = try #require(all.first), count = ladder.referenceSeeds
        #expect(count == 3 && ladder.promotedSeeds == 2)
        for rung in Set(jobs.map(\.rung)) {
            let references = jobs.filter { $0.rung == rung && $0.mutationKind == Ladder.reference }
            #expect(references.count == count && references.allSatisfy { $0.subject == seed.id }, "rung \(rung)")
            #expect(Set(references.map(\.seed)).count == count, "reference jobs share a training seed")
            // A promoted subject's `promoted_seeds` jobs at the rung, each trained on its own seed (none took another's result).
            let promoted = jobs.filter { $0.rung == rung && $0.mutationKind == Ladder.promote }
            for (subject, its) in Dictionary(grouping: promoted, by: { $0.subject! }) {
                #expect(its.count == ladder.promotedSeeds && Set(its.map(\.seed)).count == its.count && subject != seed.id!, "#\(subject) at rung \(rung)")
                #expect(its.allSatisfy { $0.reusedFrom == nil }, "#\(subject) at rung \(rung) took a twin's result")
            }
        }
        // Each job's validation curve: a loss at each of its rung's checkpoints (fewer for one that diverged).
        for job in jobs where job.reusedFrom == nil && job.failure != .compile {
            let bands = try store.evaluations(job.id!).map(\.band), steps = try #require(job.scheduleSteps)
            let expected = job.status == .done ? ladder.bandEnds(steps: steps, rung: job.rung).count : bands.count
            #expect(bands == Array(0..<expected) && !bands.isEmpty && (job.status != .done || expected == Rung.checkpoints), "#\(job.id!): \(bands)")
        }
        return (store, s)
    }

    /// On both engines: rung jobs are candidate rows, which both store alike.
    @Test(arguments: Engine.all) func aLadderSearchRunsToTheEnd(_ engine: Engine) throws {
        let corpus = try realCorpus(), db = try temporaryDatabase(engine)
        let r = try runEvolve(["search", space, "--db", db, "--candidates", "6", "--workers", "2", "--corpus", corpus, "--threads", "2"])
        #expect(r.status == 0, "\(r.output)")
        let (store, s) = try checkFinished(db, candidates: 6)
        let counts = try store.countsByRung(study: s.id!)
        #expect(counts.count == 3, "rungs with jobs: \(counts)")
        let completed = counts.map { "\($0.done + $0.failed)" }.joined(separator: ",")
        #expect(r.lastLine.hasPrefix("completed=6 ") && r.lastLine.hasSuffix("rung_completed=\(completed)"), "\(r.lastLine)")
        #expect(r.output.contains("rung 1 of #"), "no rung job reported: \(r.output)")

        let status = try runEvolve(["status", "--db", db])
        #expect(status.status == 0 && status.output.contains("  rung 2: ") && status.lastLine == r.lastLine, "\(status.output)")
        // The study's time is every row's, the rung jobs' part named.
        #expect(status.output.split(separator: "\n").contains { $0.hasPrefix("time: ") && $0.contains("of it in rung jobs)") }, "\(status.output)")
        let top = try runEvolve(["top", "--rung", "1", "--db", db])
        #expect(top.status == 0 && top.output.contains("the seed's reference") && top.output.contains("the seed (reference jobs)"), "\(top.output)")
        let climber = try #require(try store.rungJobs(study: s.id!).first { $0.mutationKind == Ladder.promote && $0.completion != nil })
        let show = try runEvolve(["show", "\(climber.subject!)", "--db", db])
        #expect(show.status == 0 && show.output.contains("  rung 0: val_loss") && show.output.contains("  rung 1: "), "\(show.output)")
        // Its compute speedup over the seed at rung 1, read off both curves.
        if climber.fitness != nil {
            #expect(show.output.split(separator: "\n").contains { $0.hasPrefix("  rung 1: ") && $0.contains("compute speedup") }, "\(show.output)")
        }
        try checkExportAtRung(store, s, db)
    }

    /// `export ID --rung R`: a candidate that never reached R exports its program with R's
    /// genes over R's budget; one that did exports its job there (the recorded run).
    func checkExportAtRung(_ store: SQLStore, _ s: Study, _ db: String) throws {
        let ladder = try SearchSpace.load(path: space), top = ladder.ladder.count
        let all = try store.candidates(study: s.id!), jobs = try store.rungJobs(study: s.id!)
        func job(_ c: Candidate) -> Candidate? { jobs.first { $0.subject == c.id && $0.rung == top && $0.status == .done } }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rung-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: file) }

        let below = try #require(all.first { $0.status == .done && $0.reusedFrom == nil && job($0) == nil }, "every candidate reached rung \(top)")
        let r = try runEvolve(["export", "\(below.id!)", "--rung", "\(top)", "--db", db, "--output", file])
        #expect(r.status == 0, "\(r.output)")
        let (program, config) = try TrainConfig.trainable(file)
        let expected = ladder.program(try Program(text: below.program), rung: top)
        #expect(program.genes == expected.genes && program.hash == expected.hash, "\(program.genes) against \(expected.genes)")
        guard case .steps(let steps) = ladder.budget(rung: top) else { Issue.record("tiny-ladder's top budget is not in steps"); return }
        #expect(config?.recipe.steps == steps && config?.recipe.seed == UInt64(below.seed))

        let reached = try #require(all.first { job($0) != nil }, "nothing reached rung \(top)")
        #expect(try runEvolve(["export", "\(reached.id!)", "--rung", "\(top)", "--db", db, "--output", file]).status == 0)
        #expect(try TextFile.read(file).hasPrefix("# Candidate #\(job(reached)!.id!) of study"))

        let beyond = try runEvolve(["export", "\(below.id!)", "--rung", "\(top + 1)", "--db", db, "--output", file])
        #expect(beyond.status != 0 && beyond.output.contains("has rungs 1 to \(top) above rung 0"), "\(beyond.output)")
    }

    /// A worker killed with SIGKILL while it trains a rung job: the job goes back to the
    /// queue, is trained again by one worker, and is recorded once, on both engines.
    @Test(arguments: Engine.all) func aWorkerKilledOnARungJob(_ engine: Engine) throws {
        let corpus = try realCorpus(), db = try temporaryDatabase(engine)
        let (p, out) = try startEvolve(["search", space, "--db", db, "--candidates", "6", "--corpus", corpus,
                                        "--workers", "2", "--threads", "2"])
        let output = OutputBuffer()
        out.fileHandleForReading.readabilityHandler = { output.append($0.availableData) }
        var victim: Candidate?, watching: SQLStore?   // opened once the search has made the database
        let deadline = Date().addingTimeInterval(300)
        while victim == nil && Date() < deadline && p.isRunning {
            usleep(20_000)
            if watching == nil { watching = try? openStore(db, readOnly: true) }
            // A running rung job, whatever checkpoints it has recorded (a rung job records five,
            // the first at 1/16 of its budget, so "none yet" is a window of milliseconds).
            guard let store = watching, let s = try? store.studies().first,
                  let job = try? store.rungJobs(study: s.id!).first(where: { $0.status == .running }), let w = job.worker,
                  kill(w.pid, SIGKILL) == 0 else { continue }
            // Killed mid-job unless the job was completed just before: then look again.
            if let now = try? store.candidate(job.id!), now.status == .done, now.lease == job.lease { continue }
            victim = job
        }
        p.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        output.append(out.fileHandleForReading.readDataToEndOfFile())
        let killed = try #require(victim, "no worker was seen training a rung job")
        #expect(p.terminationStatus == 0, "\(output.text)")
        #expect(output.text.contains("started another in its place"), "\(output.text)")
        let (store, _) = try checkFinished(db, candidates: 6)
        let job = try #require(try store.candidate(killed.id!))
        #expect(job.lease != killed.lease, "the job was not claimed again")
        // The checkpoints the killed worker had recorded went with its lease: each is recorded once, by the job's last lease.
        let bands = try store.evaluations(job.id!)
        #expect(bands.count == Set(bands.map(\.band)).count && bands.allSatisfy { $0.lease == job.lease }, "\(bands)")
        // Its line is printed by the worker that completed it, once.
        #expect(output.text.components(separatedBy: "#\(killed.id!) rung \(killed.rung) of #").count == 2, "\(output.text)")
    }

    /// Hosts with GPUs take the upper rungs: rung 0 by a worker of evolve's engine (`--rungs
    /// 0`), rungs 1 and 2 by one of PyTorch's (`--engine pytorch --rungs 1,2`), which is
    /// killed with SIGKILL on a rung job; a second PyTorch worker trains that job again, and
    /// it is recorded once. Each job was trained by a worker of its rungs.
    @Test(.enabled(if: pythonChecksRun, "needs a Python with torch and numpy (EVOLVE_PYTHON)"))
    func pytorchWorkersTakeTheUpperRungs() async throws {
        let python = try requirePythonWithTorch(), corpus = try realCorpus(), db = temporaryDatabase()
        let made = try runEvolve(["search", space, "--db", db, "--candidates", "6", "--workers", "0", "--corpus", corpus])
        #expect(made.status == 0, "\(made.output)")
        func start(_ extra: [String]) throws -> (Process, OutputBuffer) {
            let (p, out) = try startEvolve(["worker", "--db", db, "--corpus", corpus, "--threads", "1"] + extra)
            let output = OutputBuffer()
            out.fileHandleForReading.readabilityHandler = { output.append($0.availableData) }
            return (p, output)
        }
        let torch = ["--engine", "pytorch", "--python", python, "--rungs", "1,2"]
        let (cpu, cpuOut) = try start(["--rungs", "0"]), (first, firstOut) = try start(torch)
        var victim: Candidate?
        let deadline = Date().addingTimeInterval(300)
        while victim == nil && Date() < deadline && first.isRunning {
            try await Task.sleep(nanoseconds: 20_000_000)
            guard let store = try? openStore(db, readOnly: true), let s = try? store.studies().first,
                  let job = try? store.rungJobs(study: s.id!).first(where: { $0.status == .running }),
                  job.worker?.pid == first.processIdentifier else { continue }
            if kill(first.processIdentifier, SIGKILL) == 0 { victim = job }
        }
        let killed = try #require(victim, "the PyTorch worker was not seen training a rung job\n\(firstOut.text)")
        let (second, secondOut) = try start(torch)
        await exited(cpu); await exited(second)
        let texts = "evolve's worker:\n\(cpuOut.text)\nPyTorch's, killed:\n\(firstOut.text)\nPyTorch's:\n\(secondOut.text)"
        #expect(cpu.terminationStatus == 0 && second.terminationStatus == 0, "\(texts)")
        let (store, s) = try checkFinished(db, candidates: 6)
        // Each job's line is printed once, by a PyTorch worker; the killed job's by the second.
        for job in try store.rungJobs(study: s.id!) {
            let line = "#\(job.id!) rung \(job.rung) of #"
            #expect(!cpuOut.text.contains(line), "\(line) trained by evolve's engine\n\(texts)")
            #expect((firstOut.text + secondOut.text).components(separatedBy: line).count == 2, "\(line)\n\(texts)")
        }
        #expect(secondOut.text.contains("#\(killed.id!) rung \(killed.rung) of #"), "\(texts)")
        #expect(!(firstOut.text + secondOut.text).contains(" gen "), "a PyTorch worker trained a rung 0 candidate\n\(texts)")
        let again = try #require(try store.candidate(killed.id!))
        #expect(again.lease != killed.lease && again.completion != nil, "the job was not claimed again")
    }

    /// Workers of some rungs only, without a GPU worker's help: one of rung 0 ends when rung 0
    /// is done, leaving the rung jobs queued (nothing below it can give it work); a PyTorch
    /// worker whose trainer dies on every job records each as failed (kind `engine`, the
    /// trainer's last line) and ends, instead of dying and leaving the job to kill the next.
    @Test func rungWorkersEndAndRecordEngineFailures() throws {
        let corpus = try realCorpus(), db = temporaryDatabase()
        #expect(try runEvolve(["search", space, "--db", db, "--candidates", "4", "--workers", "0", "--corpus", corpus]).status == 0)
        let bottom = try runEvolve(["worker", "--db", db, "--corpus", corpus, "--rungs", "0", "--threads", "2"])
        #expect(bottom.status == 0, "\(bottom.output)")
        var store = try openStore(db, readOnly: true)
        let s = try #require(try store.studies().first)
        #expect(try store.candidates(study: s.id!).allSatisfy { $0.completion != nil })
        #expect(try store.rungJobs(study: s.id!).contains { $0.status == .queued }, "no rung job was queued")

        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-broken-python-\(UUID())").path
        try "#!/bin/sh\n[ \"$1\" = \"-c\" ] && exit 0\necho 'RuntimeError: CUDA out of memory' >&2\nexit 1\n"
            .write(toFile: broken, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: broken)
        defer { try? FileManager.default.removeItem(atPath: broken) }
        let top = try runEvolve(["worker", "--db", db, "--corpus", corpus, "--engine", "pytorch", "--python", broken, "--rungs", "1,2"])
        #expect(top.status == 0, "\(top.output)")
        store = try openStore(db, readOnly: true)
        let jobs = try store.rungJobs(study: s.id!)
        #expect(!jobs.isEmpty && jobs.allSatisfy { $0.status == .failed && $0.failure == .engine }, "\(jobs.map { ($0.id!, $0.status, $0.failure) })")
        #expect(jobs.allSatisfy { $0.failed?.reason.hasSuffix("PyTorch's trainer failed: RuntimeError: CUDA out of memory") == true },
                "\(jobs.compactMap(\.failed?.reason))")
    }
}

/// A child's output gathered while it runs.
final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) { lock.lock(); data += d; lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}
