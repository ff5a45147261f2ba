import ArgumentParser
import Foundation
import Store

/// The store alone under many workers: simulated workers (threads, each with its own
/// connection, as processes on other hosts would have) run the search's store calls with a
/// fitness that costs no training, so what is measured is the database's share of a search.
struct StoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-bench",
        abstract: "Claims per second, heartbeat latency and lock waits of the study store under N simulated workers; the last line is key=value pairs.",
        discussion: "lock_wait_s sums the time writes waited for locks (SQLite: for the database's write lock; PostgreSQL: in advisory locks, which serialize completions and a study's inserts); lock_wait_share divides it by workers × seconds. redraws counts children drawn again because the study moved while they were drawn.")

    @Option(help: "The database to benchmark in: a new file or an empty postgres:// database.")
    var db: String

    @Option(parsing: .unconditional, help: "Simulated workers.")
    var workers = 32

    @Option(parsing: .unconditional, help: "Candidates the study makes, in all.")
    var candidates = 2000

    @Option(parsing: .unconditional, help: "Heartbeats each candidate sends before it completes (a real one sends one every few seconds).")
    var heartbeats = 2

    func run() throws {
        try reportingErrors {
            guard workers >= 1, candidates >= 1, heartbeats >= 0 else {
                throw CommandError(description: "--workers and --candidates must be at least 1, --heartbeats at least 0")
            }
            if let s = try openExistingStore(db), !(try s.studies().isEmpty) {
                throw CommandError(description: "\(db) already holds a study; benchmark in a new database")
            }
            let study = try openStore(db).study(named: "store-bench", space: "", seed: 0)
            let timings = Timings()
            let stores = try (0..<workers).map { _ in try openStore(db) }
            for s in stores { s.onLockWait = { timings.waited($0) } }
            let start = Date()
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                do { try simulate(stores[w], study: study.id!, worker: Worker(host: "bench", pid: Int32(w + 1), start: 0), timings) } catch {
                    timings.fail("\(error)")
                }
            }
            let seconds = Date().timeIntervalSince(start)
            if let e = timings.error { throw CommandError(description: e) }
            let counts = try stores[0].counts(study: study.id!)
            guard counts.done == candidates else { throw CommandError(description: "only \(counts.done) of \(candidates) candidates completed") }
            print("\(workers) workers, \(candidates) candidates on \(stores[0].location) in \(String(format: "%.2f", seconds)) s")
            for (name, ms) in timings.all {
                print(String(format: "  %-10@ n=%-6d p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms", name as NSString, ms.count,
                             q(ms, 0.5), q(ms, 0.9), q(ms, 0.99), ms.max() ?? 0))
            }
            let claims = timings.all.first { $0.0 == "claim" }?.1 ?? []
            let beats = timings.all.first { $0.0 == "heartbeat" }?.1 ?? []
            print(keyValues(["engine": isPostgresURL(db) ? "postgresql" : "sqlite", "workers": "\(workers)", "candidates": "\(candidates)",
                             "claims_per_s": String(format: "%.0f", Double(claims.count) / seconds),
                             "heartbeat_p50_ms": String(format: "%.2f", q(beats, 0.5)), "heartbeat_p99_ms": String(format: "%.2f", q(beats, 0.99)),
                             "claim_p99_ms": String(format: "%.2f", q(claims, 0.99)), "redraws": "\(timings.redraws)",
                             "lock_wait_s": String(format: "%.2f", timings.lockWait),
                             "lock_wait_share": String(format: "%.3f", timings.lockWait / (seconds * Double(workers)))]))
        }
    }

    /// One worker's loop, the search's calls: claim a queued candidate or make one, heartbeat, record a band, complete.
    func simulate(_ store: SQLStore, study: Int64, worker: Worker, _ t: Timings) throws {
        while true {
            var draws = 0
            guard let c = try t.time("claim", { try store.claim(study: study, worker: worker)
                    ?? store.makeCandidate(study: study, limit: candidates, recent: 50, worker: worker) { n, _ in
                draws += 1
                return Candidate(studyId: study, program: "p", hash: "h\(n)")
            } }) else { return }
            t.redrew(draws - 1)
            for _ in 0..<heartbeats { _ = try t.time("heartbeat") { try store.heartbeat(c.id!, lease: c.lease!) } }
            let e = Evaluation(candidateId: c.id!, band: 0, loss: 1, steps: 1, tokens: 1, seconds: 0, parameters: 1, flopsPerToken: 1)
            _ = try t.time("record") { try store.record(e, lease: c.lease) }
            _ = try t.time("complete") { try store.complete(c.id!, lease: c.lease, Outcome(fitness: 1)) }
        }
    }

    func q(_ xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s[min(s.count - 1, Int(p * Double(s.count)))]
    }
}

/// Latencies per call kind, in milliseconds, from all workers.
final class Timings: @unchecked Sendable {
    private let lock = NSLock()
    private var samples = [String: [Double]]()
    private(set) var redraws = 0
    private(set) var lockWait = 0.0
    private(set) var error: String?

    func time<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        lock.lock(); samples[name, default: []].append(ms); lock.unlock()
        return r
    }

    func waited(_ s: Double) { lock.lock(); lockWait += s; lock.unlock() }
    func redrew(_ n: Int) { lock.lock(); redraws += n; lock.unlock() }
    func fail(_ e: String) { lock.lock(); error = error ?? e; lock.unlock() }
    var all: [(String, [Double])] { lock.lock(); defer { lock.unlock() }; return ["claim", "heartbeat", "record", "complete"].map { ($0, samples[$0] ?? []) } }
}
