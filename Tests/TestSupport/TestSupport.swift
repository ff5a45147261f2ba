import Compiler
import Foundation
import Model
import Primitives
import Program
import Store
import Training

/// The package's root folder (tests read its configs and seed programs).
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The real corpus for end-to-end tests: $EVOLVE_CORPUS, else
/// ../shared/data/tinyshakespeare.txt beside the package (where CI has it). Missing, the
/// test fails and says how to supply it.
public func realCorpus() throws -> String {
    if let path = ProcessInfo.processInfo.environment["EVOLVE_CORPUS"] { return path }
    let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/tinyshakespeare.txt")
    guard FileManager.default.fileExists(atPath: shared.path) else {
        throw CorpusError(description: "end-to-end tests need tinyshakespeare: set EVOLVE_CORPUS to its path")
    }
    return shared.path
}

/// A small generated corpus: four words in random order, a pattern a model learns quickly.
public func syntheticText(_ n: Int = 20_000) -> String {
    let words = ["to be ", "or not ", "that is ", "the question. "]
    var rng = Xoshiro(seed: 1)
    var s = ""
    while s.count < n { s += words[rng.below(words.count)] }
    return s
}

/// The `evolve` executable the tests were built with (it sits beside the test bundle).
public func evolveExecutable() throws -> URL {
    let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    for dir in [bundle, bundle.deletingLastPathComponent(), packageRoot.appendingPathComponent(".build/release")] {
        let exe = dir.appendingPathComponent("evolve")
        if FileManager.default.isExecutableFile(atPath: exe.path) { return exe }
    }
    throw CorpusError(description: "no evolve executable beside \(bundle.path); build it with `swift build -c release`")
}

/// What a run of `evolve` did.
public struct EvolveRun: Sendable {
    public let status: Int32
    public let output: String       // standard output and standard error together
    public let killed: Bool         // ended by the signal the caller sent
    public var lastLine: String { output.split(separator: "\n").last.map(String.init) ?? "" }
}

/// Starts `evolve` with `arguments` from the package root, its standard output and error in
/// one pipe; the caller reads the pipe and waits.
public func startEvolve(_ arguments: [String]) throws -> (Process, Pipe) {
    let p = Process()
    p.executableURL = try evolveExecutable()
    p.arguments = arguments
    p.currentDirectoryURL = packageRoot
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    return (p, pipe)
}

/// Runs `evolve` with `arguments` from the package root; with `signal`, sends it that signal
/// after `after` seconds (if it is still running).
public func runEvolve(_ arguments: [String], signal: Int32? = nil, after: Double = 0) throws -> EvolveRun {
    let (p, pipe) = try startEvolve(arguments)
    var sent = false
    if let signal {
        let deadline = Date().addingTimeInterval(after)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { kill(p.processIdentifier, signal); sent = true }
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return EvolveRun(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self), killed: sent)
}

/// The synthetic corpus as a file, for commands that read one.
public func syntheticCorpusFile() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-synthetic-\(UUID()).txt").path
    try syntheticText().write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// A seed program of search-spaces/seeds/ by name.
public func seed(_ name: String) throws -> Program {
    try Program.load(path: packageRoot.appendingPathComponent("search-spaces/seeds/\(name).program").path)
}

/// A path for a new database in the temporary folder.
public func temporaryDatabase() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("evolve-test-\(UUID()).db").path
}

/// A worker identity for store tests: `test:N:0`, no process behind it.
public func testWorker(_ n: Int) -> Worker { Worker(host: "test", pid: Int32(n), start: 0) }

/// Promotion as a search asks for it, without a search: the best half of a rung climbs, up to
/// rung `top`; a seed's jobs are two reference jobs, any other subject's one promoted job.
public func testPromotion(top: Int) -> Promotion {
    Promotion(fraction: 0.5, top: top) { subject, rung in
        let kind = Ladder.isSeed(subject) ? Ladder.reference : Ladder.promote
        return (0..<(kind == Ladder.reference ? 2 : 1)).map { k in
            Candidate(studyId: subject.studyId, program: "p", hash: "\(subject.hash)@\(rung).\(k)", parentId: subject.id,
                      mutationKind: kind, generation: subject.generation, seed: Int64(k))
        }
    }
}

/// A program compiled over `threads` replicas with a recipe's batch, init and seed.
public func replicated(_ p: Program, vocabulary: Int, recipe r: Recipe, threads: Int) throws -> ReplicatedModel {
    try Compiler(p, vocabulary: vocabulary)
        .replicated(batch: r.batchSize, initStd: r.initStd, seed: r.seed, threads: threads, replicas: r.replicas,
                    precision: r.products)
}

/// The engines the store's tests run on: SQLite always, PostgreSQL where
/// $EVOLVE_TEST_POSTGRES names a server to make test databases on (`.ci/run` starts one with
/// scripts/postgres-cluster.sh; CI without it fails `postgresIsTestedInCI`).
public enum Engine: String, Sendable, CustomStringConvertible {
    case sqlite, postgres
    public var description: String { rawValue }
    public static var all: [Engine] { postgresServer == nil ? [.sqlite] : [.sqlite, .postgres] }
    public static var postgresServer: String? {
        ProcessInfo.processInfo.environment["EVOLVE_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// A new, empty database on `engine`: a file path, or a PostgreSQL URL of a fresh database.
public func temporaryDatabase(_ engine: Engine) throws -> String {
    switch engine {
    case .sqlite: return temporaryDatabase()
    case .postgres:
        let name = "evolve_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        return try createPostgresDatabase(server: Engine.postgresServer!, name: name)
    }
}

/// The Python with numpy and safetensors (and, for the export tests, torch) that checks what
/// evolve writes: $EVOLVE_PYTHON, else the virtual environment `.ci/run` makes,
/// ~/.cache/evolve-venv. Nil where neither exists (CI fails then; elsewhere the test says so).
public func checkingPython() -> String? {
    let candidates: [String?] = [ProcessInfo.processInfo.environment["EVOLVE_PYTHON"],
                      FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/evolve-venv/bin/python").path]
    return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// The checking Python where it has torch, numpy and safetensors (the export and parity
/// tests need them); nil where it has not.
public let pythonWithTorch: String? = {
    guard let python = checkingPython(), (try? runPython(python, "import torch, numpy, safetensors"))?.status == 0 else { return nil }
    return python
}()

/// Whether the tests that need `pythonWithTorch` run: where it exists, and always under CI,
/// where its absence fails them (`.enabled(if: pythonChecksRun)`, so elsewhere they are
/// reported as skipped, with the reason).
public let pythonChecksRun = pythonWithTorch != nil || runningInCI

/// `pythonWithTorch`, or an error saying how to get it.
public func requirePythonWithTorch() throws -> String {
    guard let python = pythonWithTorch else {
        throw TestSupportError(description: "no Python with torch, numpy and safetensors: scripts/test.sh makes ~/.cache/evolve-venv, or set EVOLVE_PYTHON")
    }
    return python
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
}

/// Runs `python -c script` with `arguments`; its status and output.
public func runPython(_ python: String, _ script: String, _ arguments: [String] = []) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = ["-c", script] + arguments
    // No __pycache__ beside the modules it imports from the checkout: one under Sources/
    // would be a file SwiftPM warns it does not handle, in every later build.
    p.environment = ProcessInfo.processInfo.environment.merging(["PYTHONDONTWRITEBYTECODE": "1"]) { $1 }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Whether this is CI (`CI` set), where every check must run: nothing CI needs may be missing.
public var runningInCI: Bool { ProcessInfo.processInfo.environment["CI"] != nil }

/// Runs blocking work (a training, a child process waited on) on a thread of its own instead
/// of one of Swift concurrency's few pool threads: tests run side by side, and the dashboard
/// tests serve pages from that pool in this process. Expectations go outside `body`.
public func onItsOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { done in Thread { done.resume(with: Result { try body() }) }.start() }
}

/// Waits for a child process to end without holding a pool thread.
public func exited(_ p: Process) async {
    while p.isRunning { try? await Task.sleep(nanoseconds: 50_000_000) }
    p.waitUntilExit()
}
