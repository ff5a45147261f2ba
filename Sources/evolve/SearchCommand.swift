import ArgumentParser
import Foundation
import Search
import Store
import Training

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Run (or resume) an evolutionary search over a search-space file; the last line is key=value pairs.")

    @Argument(help: "A search-space file (see search-spaces/).")
    var space: String

    @Option(help: "The study database: a file (SQLite) or postgres://user[:password]@host[:port]/dbname (default: $EVOLVE_DB, else results/<space name>.db).")
    var db: String?

    @Option(parsing: .unconditional, help: "Stop when the study has made this many candidates and all have completed.")
    var candidates = 100

    @Option(parsing: .unconditional, help: "Worker processes on this machine sharing the database, each with threads/workers threads (0: only make or update the study, for `evolve worker` on other hosts).")
    var workers = 1

    @Option(help: "Start a new study of this name in the database instead of resuming the space's own (for another corpus or an edited space file).")
    var forceNewStudy: String?

    @OptionGroup var worker: WorkerOptions

    @OptionGroup var options: RunOptions

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            guard candidates >= 1 else { throw CommandError(description: "--candidates must be at least 1") }
            guard workers >= 0 else { throw CommandError(description: "--workers must be 0 or more") }
            try worker.check()
            try options.check()
            try checkIsSpaceFile(space)
            var s = try SearchSpace.load(path: space)
            if let name = forceNewStudy {
                guard SearchSpace.isName(name) else {
                    throw CommandError(description: "--force-new-study: '\(name)' must be one word of letters, digits, '.', '-' and '_'")
                }
                s.name = name
            }
            // Everything is checked before the database is touched: the corpus against every
            // seed's context, and every seed's memory at the space's batch, at every rung.
            let data = try options.dataset(s.recipe, fallback: s.corpus, fallbackData: s.data)
            try s.checkFits(data)
            let path = db ?? databaseFromEnvironment ?? "results/\(s.name).db"
            let display = SearchDisplay(), reconnection = worker.reconnection(display)
            // Checked read-only: a refusal writes nothing.
            if let existing = try openExistingStore(path, reconnection: reconnection)?.existingStudy(named: s.name) {
                try s.checkResumes(existing, corpus: data)
            }
            let store = try openStore(path, reconnection: reconnection)
            let stop = StopSignal.install()
            var finished = true
            if workers == 0 {
                let evolution = try Evolution(space: s, store: store, data: data, threads: options.threads)
                try store.setTarget(study: evolution.study.id!, candidates)
                print("study \(s.name) in \(store.location) is to make \(candidates) candidates; join it from any host with "
                      + "`evolve worker --db \(isPostgresURL(path) ? "URL" : path) \(options.data == nil && s.data == nil ? "--corpus PATH" : "--data DIR")`")
            } else if workers > 1 {
                finished = try runWorkers(database: path, shown: store.location, stop: stop)
            } else {
                let evolution = try Evolution(space: s, store: store, data: data, threads: options.threads)
                try store.setTarget(study: evolution.study.id!, candidates)
                finished = try work(evolution, until: candidates, lease: worker.lease, display: display, stop: stop)
            }
            // Read, not made: workers that all stopped before making it leave no study to report.
            guard let study = try store.existingStudy(named: s.name) else {
                throw CommandError(description: "no worker made study \(s.name) in \(store.location) before stopping; nothing was recorded")
            }
            try finish(store, study, finished: finished)
        }
    }

    /// Runs `workers` copies of this search as child processes on one database, each line
    /// of theirs prefixed with its number; a stop request is passed on to them. A child that
    /// dies (killed, or crashed) is replaced, up to twice the number of workers in all; the
    /// candidate it held is re-queued by the next live worker that looks. One that gave up on
    /// an unreachable server is not: the others would too.
    func runWorkers(database: String, shown: String, stop: StopSignal) throws -> Bool {
        let threads = max(1, options.threads / workers)
        var args = ["search", space, "--db", database, "--candidates", "\(candidates)", "--threads", "\(threads)"] + worker.arguments
        if let c = options.corpus { args += ["--corpus", c] }
        if let d = options.data { args += ["--data", d] }
        if let n = forceNewStudy { args += ["--force-new-study", n] }
        let exited = DispatchSemaphore(value: 0)
        var relays = [LineRelay]()
        func start(_ w: Int) throws -> Process {
            let (child, relay) = try startChild(args, prefix: "w\(w) ") { exited.signal() }
            relays.append(relay)
            return child
        }
        // The stop request reaches the children from the first moment: set before they start.
        var children = [Process]()
        let live = NSLock()
        stop.onFirst = {
            FileHandle.standardError.write("\nevolve: stopping the workers (Ctrl-C again to quit at once)\n".data(using: .utf8)!)
            live.lock(); defer { live.unlock() }
            for c in children where c.isRunning { kill(c.processIdentifier, SIGTERM) }
        }
        live.lock()
        do { children = try (1...workers).map { try start($0) } } catch { live.unlock(); throw error }
        if stop.requested { for c in children { kill(c.processIdentifier, SIGTERM) } }
        live.unlock()
        print("\(workers) workers (\(threads) thread(s) each) on \(shown), until \(candidates) candidates")
        var replacements = 0, failed = [Int32](), gaveUp = 0, done = Set<Int>()
        while true {
            live.lock()
            for (w, c) in children.enumerated() where !done.contains(w) && !c.isRunning {
                let ok = c.terminationStatus == 0 || c.terminationStatus == 130
                let how = c.terminationReason == .uncaughtSignal ? "signal \(c.terminationStatus)" : "exit status \(c.terminationStatus)"
                let unreachable = c.terminationReason == .exit && c.terminationStatus == unreachableStatus
                if !ok && !unreachable && !stop.requested && replacements < 2 * workers, let again = try? start(w + 1) {
                    replacements += 1
                    FileHandle.standardError.write("evolve: worker w\(w + 1) died (\(how)); started another in its place\n".data(using: .utf8)!)
                    children[w] = again
                    continue
                }
                if !ok && !stop.requested {
                    if unreachable { gaveUp += 1 } else { failed.append(c.terminationStatus) }
                }
                done.insert(w)
            }
            let running = done.count < children.count
            live.unlock()
            guard running else { break }
            exited.wait()
        }
        // Every child's last lines relayed before this process prints its own last line.
        for r in relays { r.waitForEnd(seconds: 10) }
        guard !stop.requested else { return false }
        if gaveUp > 0 {
            throw DatabaseUnreachable(description: "\(shown): \(gaveUp) worker(s) gave up after "
                + "--reconnect \(Int(worker.reconnect)) s without the server; the study is intact: run the same command once the server is back")
        }
        if !failed.isEmpty {
            throw CommandError(description: "\(failed.count) worker(s) kept dying (exit status \(failed.map { "\($0)" }.joined(separator: ", "))); the study is intact: run the same command to go on")
        }
        return true
    }
}

/// This executable again with `arguments`, its lines relayed under `prefix`; `exited` is
/// called when it ends.
func startChild(_ arguments: [String], prefix: String, exited: @escaping @Sendable () -> Void) throws -> (Process, LineRelay) {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: exe) ? exe : CommandLine.arguments[0])
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    let lines = LineRelay(prefix: prefix)
    pipe.fileHandleForReading.readabilityHandler = { handle in
        let chunk = handle.availableData
        if chunk.isEmpty { handle.readabilityHandler = nil }   // the end: it would be called again and again
        lines.take(chunk)
    }
    p.terminationHandler = { _ in exited() }
    try p.run()
    return (p, lines)
}

/// Prints a child's output line by line under a prefix; its closing key=value line is the
/// parent's to print, once, so it is dropped.
final class LineRelay: @unchecked Sendable {
    private static let printing = NSLock()
    private let prefix: String
    private var pending = Data()
    /// Signalled once, at the end of the child's output (an empty chunk).
    private let ended = DispatchSemaphore(value: 0)

    init(prefix: String) { self.prefix = prefix }

    /// Waits until the child's output has ended and every line of it is printed (the pipe
    /// closes when the child exits, but its last chunk may still be on its way here).
    func waitForEnd(seconds: Double) { _ = ended.wait(timeout: .now() + seconds) }

    func take(_ chunk: Data) {
        LineRelay.printing.lock(); defer { LineRelay.printing.unlock() }
        // At the end (an empty chunk) an unterminated last line is ended, and printed like any other.
        pending += chunk.isEmpty && !pending.isEmpty ? Data([10]) : chunk
        while let nl = pending.firstIndex(of: 10) {
            let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
            pending.removeSubrange(pending.startIndex...nl)
            if !line.hasPrefix("completed=") { print(prefix + line) }
        }
        fflush(stdout)
        if chunk.isEmpty { ended.signal() }
    }
}

/// One worker's search in this process, with its progress on the terminal; false if stopped.
func work(_ evolution: Evolution, until candidates: Int, lease: Double, display: SearchDisplay, stop: StopSignal) throws -> Bool {
    let s = evolution.space
    evolution.lease = lease
    evolution.report = display.candidate
    evolution.onStep = display.step
    evolution.shouldStop = { stop.requested }
    print("study \(s.name) in \(evolution.store.location): \(s.budget) per candidate, population \(s.population), "
          + "tournament \(s.tournament), \(s.hurdles) hurdle(s), objective \(s.objective), selection \(s.selection.rawValue), "
          + "products in \(evolution.recipe.products(on: evolution.engine).label); until \(candidates) candidates")
    defer { display.finish() }
    return try evolution.run(until: candidates)
}

/// The closing lines of a search or a worker: how it ended, and the study's key=value line.
func finish(_ store: Store, _ study: Study, finished: Bool) throws {
    let running = try store.countsByRung(study: study.id!).map(\.running).reduce(0, +)
    if !finished {
        print("stopped; run the same command to resume")
    } else if running > 0 {
        print("nothing left to start here; \(running) candidate(s) still training in other processes")
    }
    print(try statusLine(store, study))
    if !finished { throw ExitCode(130) }
}

/// `evolve WORD` searches the space file WORD, so a mistyped command arrives here as a file
/// name: where no such file exists and WORD is close to a command, say so.
func checkIsSpaceFile(_ path: String) throws {
    guard !FileManager.default.fileExists(atPath: path) else { return }
    let commands = Evolve.configuration.subcommands.map { $0._commandName }
    let near = commands.map { ($0, editDistance(path.lowercased(), $0)) }.min { $0.1 < $1.1 }
    if let (command, d) = near, d <= 2, !path.contains("/"), !path.contains(".") {
        throw CommandError(description: "'\(path)' is neither a command nor a file; did you mean `evolve \(command)`? (`evolve --help` lists the commands)")
    }
}

/// Levenshtein distance between two short words.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var previous = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let here = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = here
        }
    }
    return row[b.count]
}
