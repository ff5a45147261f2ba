import Foundation
import Testing
@testable import Store
import TestSupport

/// Studies whose PostgreSQL server goes away: stopped at once (`pg_ctl -m immediate`, as a
/// crash or a failover does) and started again, or left down. Each test runs its own
/// server (scripts/postgres-cluster.sh), since stopping the shared one would fail the tests
/// beside it; they run where $EVOLVE_TEST_POSTGRES says PostgreSQL is there to test on.
@Suite("database restarts", .serialized, .enabled(if: Engine.postgresServer != nil))
struct RestartTests {
    let tiny = packageRoot.appendingPathComponent("search-spaces/tiny.yaml").path

    /// A store waits out a restart inside the call it was making, and says so in two lines;
    /// an error of the statement itself is never retried.
    @Test func aStoreWaitsOutARestartButNotABadStatement() throws {
        let server = try RestartableServer()
        defer { server.remove() }
        let lines = Lines()
        let store = try openStore(try createPostgresDatabase(server: server.url, name: "evolve_store_restart"),
                                  reconnection: Reconnection(seconds: 60) { lines.append($0) })
        let study = try store.study(named: "s", space: "", seed: 1)
        try store.add(Candidate(studyId: study.id!, program: "p", hash: "h", seed: 1))
        try server.crash()
        let back = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { try? server.start(after: 3); back.signal() }
        let t0 = Date()
        let counts = try store.counts(study: study.id!)
        let waited = Date().timeIntervalSince(t0)
        back.wait()
        #expect(counts.queued == 1 && waited >= 2.5, "waited \(waited) s: \(counts)")
        #expect(lines.all.count == 2 && lines.all[0].hasPrefix("store: connection lost (") && lines.all[0].hasSuffix("retrying for up to 60 s")
                && lines.all[1].hasPrefix("store: reconnected after "), "\(lines.all)")

        // A candidate of a study that does not exist: the server refuses the statement, at once.
        let t1 = Date()
        #expect(throws: StoreError.self) { try store.add(Candidate(studyId: 999, program: "p", hash: "h", seed: 1)) }
        #expect(Date().timeIntervalSince(t1) < 2 && lines.all.count == 2, "a bad statement was retried: \(lines.all)")
    }

    /// Two `evolve worker`s and a search of two worker processes (four workers, each on its
    /// own connection) while the server is stopped at once and started again, twice, the
    /// second time for longer than the lease. No process exits before the study is done,
    /// and it ends with every candidate completed exactly once, each band recorded once
    /// under the lease that completed it.
    @Test func workersRideOutTwoRestarts() throws {
        let server = try RestartableServer()
        defer { server.remove() }
        let corpus = try realCorpus(), n = 16
        let db = try createPostgresDatabase(server: server.url, name: "evolve_restarts")
        let made = try runEvolve(["search", tiny, "--db", db, "--candidates", "\(n)", "--workers", "0", "--corpus", corpus])
        #expect(made.status == 0, "\(made.output)")
        let store = try openStore(db, reconnection: Reconnection(seconds: 60) { _ in })
        let study = try #require(try store.studies().first)

        let options = ["--corpus", corpus, "--lease", "5", "--reconnect", "60"]
        let workers = try [["worker", "--db", db, "--threads", "1"], ["worker", "--db", db, "--threads", "1"],
                           ["search", tiny, "--db", db, "--candidates", "\(n)", "--workers", "2", "--threads", "2"]]
            .map { try HostProcess($0 + options) }
        defer { for w in workers where w.process.isRunning { kill(w.pid, SIGKILL) } }
        // Each stop lands while a candidate trains. Candidates that fail at once (a mutation
        // that leaks the future fails in milliseconds) can finish the study before the second
        // stop: a worker may then have ended, with status 0, because the study was done.
        var midStudy = 0
        for (completed, down) in [(2, 3.0), (7, 6.0)] {
            if try waitFor(store, study.id!, completed: completed, running: 1, of: n) { midStudy += 1 }
            try server.crash()
            try server.start(after: down)
            usleep(1_000_000)
            let ended = workers.filter { !$0.process.isRunning }
            let c = try store.counts(study: study.id!)
            #expect(ended.isEmpty || (c.done + c.failed == n && ended.allSatisfy { $0.process.terminationStatus == 0 }),
                    "a worker exited during the restart: \(workers.map(\.output))")
        }
        #expect(midStudy >= 1, "no stop landed while candidates trained")
        for w in workers { #expect(w.wait(seconds: 240) == 0, "\(w.output)") }

        let (all, lost, duplicates, staleBands) = try audit(store, study.id!)
        let completions = all.compactMap(\.completion)
        #expect(all.count == n && lost == 0 && Set(completions).count == n && completions.count == n)
        #expect(duplicates == 0 && staleBands == 0)
        for w in workers {
            #expect(w.output.contains("store: connection lost (") && w.output.contains("store: reconnected after "), "\(w.output)")
            #expect(!w.output.contains("died") && w.output.split(separator: "\n").last?.hasPrefix("completed=\(n) ") == true, "\(w.output)")
        }
        let leasesLost = workers.map { $0.output.components(separatedBy: "lease lost").count - 1 }.reduce(0, +)
        print("database restarts: workers=4 restarts=2 stops_mid_study=\(midStudy) candidates=\(all.count) completed=\(completions.count) "
              + "duplicates=\(duplicates) stale_bands=\(staleBands) lost=\(lost) results_dropped_on_lapsed_leases=\(leasesLost)")
    }

    /// A server that stays down: the workers give up after --reconnect seconds with one line
    /// naming the database and how long they tried, and exit 75 (a search of several worker
    /// processes starts none in their place); the study is intact, and a worker started once
    /// the server is back completes it.
    @Test func workersGiveUpOnAServerThatStaysDown() throws {
        let server = try RestartableServer()
        defer { server.remove() }
        let corpus = try realCorpus(), n = 10
        let db = try createPostgresDatabase(server: server.url, name: "evolve_down")
        #expect(try runEvolve(["search", tiny, "--db", db, "--candidates", "\(n)", "--workers", "0", "--corpus", corpus]).status == 0)
        let store = try openStore(db, reconnection: Reconnection(seconds: 60) { _ in })
        let study = try #require(try store.studies().first)
        let options = ["--corpus", corpus, "--reconnect", "3"]
        let workers = try [["worker", "--db", db, "--threads", "1"],
                           ["search", tiny, "--db", db, "--candidates", "\(n)", "--workers", "2", "--threads", "2"]]
            .map { try HostProcess($0 + options) }
        defer { for w in workers where w.process.isRunning { kill(w.pid, SIGKILL) } }
        try waitFor(store, study.id!, completed: 2, running: 1)
        try server.crash()
        let down = Date()
        let statuses = workers.map { $0.wait(seconds: 60) }
        let took = Date().timeIntervalSince(down)
        #expect(statuses == [75, 75] && took >= 3 && took < 30, "exit statuses \(statuses) after \(took) s")
        // Each says so in one line, naming the database and how long it tried; the search's
        // children write theirs to its standard error too, and its own comes last.
        let location = store.location
        let gaveUp = { (line: Substring) in line.contains(location) && line.contains("no connection to the server for 3.") && line.contains("gave up") }
        let errors = workers.map { $0.output.split(separator: "\n").filter { $0.hasPrefix("evolve: ") } }
        #expect(errors[0].count == 1 && errors[0].allSatisfy(gaveUp), "\(workers[0].output)")
        #expect(errors[1].count == 3 && errors[1].dropLast().allSatisfy(gaveUp) && errors[1].last!.contains(location)
                && errors[1].last!.contains("2 worker(s) gave up after --reconnect 3 s"), "\(workers[1].output)")

        try server.start(after: 0)
        let last = try runEvolve(["worker", "--db", db, "--corpus", corpus, "--threads", "2"])
        #expect(last.status == 0 && last.lastLine.hasPrefix("completed=\(n) "), "\(last.output)")
        let (all, lost, duplicates, staleBands) = try audit(store, study.id!)
        #expect(all.count == n && lost == 0 && Set(all.compactMap(\.completion)).count == n && duplicates == 0 && staleBands == 0)
    }

    /// Waits until the study has `completed` candidates done and `running` in training: true;
    /// or (given its size `of`) until all of them are done first: false.
    @discardableResult
    func waitFor(_ store: Store, _ study: Int64, completed: Int, running: Int, of total: Int? = nil) throws -> Bool {
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            let c = try store.counts(study: study)
            if c.done + c.failed >= completed && c.running >= running { return true }
            if let total, c.done + c.failed >= total { return false }
            usleep(100_000)
        }
        throw StoreError(description: "the study never reached \(completed) completed with \(running) running")
    }

    /// The study's candidates; how many are not finished; bands recorded twice; bands
    /// recorded under another lease than the one that completed the candidate.
    func audit(_ store: Store, _ study: Int64) throws -> ([Candidate], Int, Int, Int) {
        let all = try store.candidates(study: study)
        var duplicates = 0, stale = 0
        for c in all {
            let bands = try store.evaluations(c.id!)
            duplicates += bands.count - Set(bands.map(\.band)).count
            stale += bands.filter { $0.lease != c.lease }.count
        }
        return (all, all.filter { $0.status != .done && $0.status != .failed }.count, duplicates, stale)
    }
}

/// Lines collected from another thread.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines = [String]()
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
}

/// A PostgreSQL server of one test's own (scripts/postgres-cluster.sh), on a free port, that
/// can be stopped at once and started again: the same cluster, data folder and port.
final class RestartableServer: @unchecked Sendable {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-restart-\(UUID())").path
    private(set) var url = ""

    init() throws {
        url = try run("start", dir, "\(try freePort())")
    }

    /// `pg_ctl stop -m immediate`: the server ends without a checkpoint, its clients cut off.
    func crash() throws { _ = try run("crash", dir) }

    /// Starts it again after `seconds`.
    func start(after seconds: Double) throws {
        usleep(UInt32(seconds * 1e6))
        _ = try run("start", dir)
    }

    func remove() {
        _ = try? run("stop", dir)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The cluster script's output; its failure as an error.
    private func run(_ arguments: String...) throws -> String {
        let p = Process(), pipe = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["bash", packageRoot.appendingPathComponent("scripts/postgres-cluster.sh").path] + arguments
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw StoreError(description: "postgres-cluster.sh \(arguments.joined(separator: " ")): \(out)") }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A TCP port nothing on this host listens on now (the kernel's pick).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard fd >= 0, bound else { throw StoreError(description: "cannot find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
