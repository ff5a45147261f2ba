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

    @Option(help: "The study database (default: results/<space name>.db).")
    var db: String?

    @Option(help: "Stop when the study has made this many candidates and all have completed.")
    var candidates = 100

    @Option(help: "Worker processes on this machine sharing the database, each with threads/workers threads.")
    var workers = 1

    @OptionGroup var options: RunOptions

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            guard candidates >= 1 else { throw CommandError(description: "--candidates must be at least 1") }
            guard workers >= 1 else { throw CommandError(description: "--workers must be at least 1") }
            let s = try SearchSpace.load(path: space)
            let path = db ?? "results/\(s.name).db"
            let store = try Store(path: path)
            let stop = StopSignal.install()
            var finished = true
            if workers > 1 {
                finished = try runWorkers(database: path, stop: stop)
            } else {
                let data = try Dataset(path: try Corpus.locate(options.corpus ?? s.corpus), tokenizer: s.recipe.tokenizer,
                                       trainFraction: s.recipe.trainFraction)
                let evolution = try Evolution(space: s, store: store, data: data, threads: options.threads)
                let display = SearchDisplay()
                evolution.report = display.candidate
                evolution.onStep = display.step
                evolution.shouldStop = { stop.requested }
                print("study \(s.name) in \(path): \(s.budget) per candidate, population \(s.population), "
                      + "tournament \(s.tournament), \(s.hurdles) hurdle(s); until \(candidates) candidates")
                finished = try evolution.run(until: candidates)
                display.finish()
            }
            let study = try store.study(named: s.name, space: s.text, seed: Int64(s.seed))
            let running = try store.counts(study: study.id!).running
            if !finished {
                print("stopped; run the same command to resume")
            } else if running > 0 {
                print("nothing left to start here; \(running) candidate(s) still training in other processes")
            }
            print(try statusLine(store, study))
            if !finished { throw ExitCode(130) }
        }
    }

    /// Runs `workers` copies of this search as child processes on one database, each line
    /// of theirs prefixed with its number; a stop request is passed on to them.
    func runWorkers(database: String, stop: StopSignal) throws -> Bool {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let threads = max(1, options.threads / workers)
        var args = ["search", space, "--db", database, "--candidates", "\(candidates)", "--threads", "\(threads)"]
        if let c = options.corpus { args += ["--corpus", c] }
        let children: [Process] = try (1...workers).map { w in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: exe) ? exe : CommandLine.arguments[0])
            p.arguments = args
            let pipe = Pipe()
            p.standardOutput = pipe
            let lines = LineRelay(prefix: "w\(w) ")
            pipe.fileHandleForReading.readabilityHandler = { lines.take($0.availableData) }
            try p.run()
            return p
        }
        print("\(workers) workers (\(threads) thread(s) each) on \(database), until \(candidates) candidates")
        stop.onFirst = {
            FileHandle.standardError.write("\nevolve: stopping the workers (Ctrl-C again to quit at once)\n".data(using: .utf8)!)
            for c in children where c.isRunning { kill(c.processIdentifier, SIGTERM) }
        }
        for c in children { c.waitUntilExit() }
        for c in children { (c.standardOutput as? Pipe)?.fileHandleForReading.readabilityHandler = nil }
        let failed = children.filter { $0.terminationStatus != 0 && $0.terminationStatus != 130 }
        if !failed.isEmpty && !stop.requested {
            throw CommandError(description: "\(failed.count) of \(workers) workers failed (exit status \(failed.map { "\($0.terminationStatus)" }.joined(separator: ", ")))")
        }
        return !stop.requested
    }
}

/// Prints a child's output line by line under a prefix; its closing key=value line is the
/// parent's to print, once, so it is dropped.
final class LineRelay: @unchecked Sendable {
    private static let printing = NSLock()
    private let prefix: String
    private var pending = Data()

    init(prefix: String) { self.prefix = prefix }

    func take(_ chunk: Data) {
        LineRelay.printing.lock(); defer { LineRelay.printing.unlock() }
        pending += chunk
        while let nl = pending.firstIndex(of: 10) {
            let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
            pending.removeSubrange(pending.startIndex...nl)
            if !line.hasPrefix("completed=") { print(prefix + line) }
        }
        fflush(stdout)
    }
}
