import Foundation
import Testing
@testable import Store
import TestSupport

/// Studies that outgrow one machine: a study moved between engines, and workers on three
/// hosts (network namespaces) sharing one PostgreSQL server while one host's link is cut and
/// another's worker is killed. They need $EVOLVE_TEST_POSTGRES (`.ci/run` starts a server).
@Suite("several hosts", .serialized, .enabled(if: Engine.postgresServer != nil))
struct ClusterTests {
    let tiny = packageRoot.appendingPathComponent("search-spaces/tiny.yaml").path

    /// A study begun on SQLite, copied to PostgreSQL, resumed there and copied back ends as an
    /// uninterrupted SQLite study does, and the study commands answer the same on every copy.
    @Test func copiedStudyResumesAndAnswersTheSame() throws {
        let corpus = try realCorpus()
        func search(_ db: String, _ n: Int) throws {
            let r = try runEvolve(["search", tiny, "--db", db, "--candidates", "\(n)", "--corpus", corpus, "--threads", "2"])
            #expect(r.status == 0, "\(r.output)")
        }
        let straight = temporaryDatabase(), laptop = temporaryDatabase(), back = temporaryDatabase()
        let cluster = try temporaryDatabase(.postgres)
        try search(straight, 10)
        try search(laptop, 6)
        #expect(try runEvolve(["copy", laptop, cluster]).status == 0)
        try search(cluster, 10)
        let copied = try runEvolve(["copy", cluster, back])
        #expect(copied.status == 0 && copied.output.contains("candidates=10"), "\(copied.output)")
        #expect(try history(back, tinySpace()) == history(straight, tinySpace()))

        // The same study on PostgreSQL and, copied back, on SQLite: the same answers.
        let best = try #require(try openStore(back).best(study: 1)?.id)
        for command in [["status"], ["top"], ["top", "--pareto"], ["show", "\(best)"], ["export", "\(best)", "-o"], ["report", "-o"]] {
            let answers = try [(cluster, try openStore(cluster).location), (back, back)].map { db, shown in
                // The commands that write a file write it in the temporary folder, and it is compared.
                let file = temporaryDatabase() + ".out"
                let writes = command.last == "-o"
                let r = try runEvolve(command + (writes ? [file] : []) + ["--db", db])
                #expect(r.status == 0, "\(r.output)")
                let text = writes ? try String(contentsOfFile: file, encoding: .utf8) : r.output
                return text.replacingOccurrences(of: shown, with: "DB").replacingOccurrences(of: file, with: "FILE")
            }
            #expect(answers[0] == answers[1], "evolve \(command.joined(separator: " ")) answers differently on the copy")
        }
        // Copying again into a database that has the study is refused, writing nothing.
        let again = try runEvolve(["copy", laptop, cluster])
        #expect(again.status == 1 && again.output.contains("already holds a study named tiny"), "\(again.output)")
    }

    /// Three hosts, each an `evolve worker` in its own network namespace reaching the server
    /// over a veth link. Mid-candidate, one host's link is cut and another's worker is killed
    /// (that host starts a new one). The study ends with every candidate completed exactly
    /// once, each band recorded once under the lease that completed it, nothing lost.
    /// It needs root or passwordless sudo (`ip netns`); without them it is reported as
    /// skipped, except under CI, where it must run.
    @Test(.enabled(if: Namespaces.privilege != nil || runningInCI, "network namespaces need root or passwordless sudo (ip netns)"))
    func workersOnThreeHostsSurviveACutLinkAndAKill() throws {
        guard let net = try hosts(3) else { return }
        defer { net.remove() }
        let corpus = try realCorpus(), n = 14, lease = 6
        // The tiny space with longer training and no hurdle, so that a cut and a kill land
        // mid-candidate: with the hurdle, a candidate stopped at it took about a second, and a
        // worker could finish its share without ever holding one for a second (2 runs in 7).
        let space = try edited(tiny, ["budget: {steps: 100}": "budget: {steps: 6000}", "hurdles: 1 ": "hurdles: 0 "])
        let db = try temporaryDatabase(.postgres)
        let made = try runEvolve(["search", space, "--db", db, "--candidates", "\(n)", "--workers", "0", "--corpus", corpus])
        #expect(made.status == 0, "\(made.output)")
        let store = try openStore(db)
        let study = try #require(try store.studies().first)

        func start(_ host: Int) throws -> HostProcess { try worker(host, net, db, corpus, lease: lease) }
        func holding(_ w: HostProcess) throws -> Candidate { try job(held: w, store, study) }
        var workers = try (1...3).map(start)
        let cut = try holding(workers[0])
        try net.cut(host: 1)
        let killed = try holding(workers[1])
        kill(workers[1].pid, SIGKILL)
        workers.append(try start(2))   // host 2 comes back with a new worker
        for w in workers[2...] { #expect(w.wait(seconds: 300) == 0, "\(w.output)") }
        kill(workers[0].pid, SIGKILL)   // still waiting on its cut link
        _ = workers[0].wait(seconds: 30)
        _ = workers[1].wait(seconds: 30)

        let all = try store.candidates(study: study.id!)
        let completions = all.compactMap(\.completion)
        let lost = all.filter { $0.status != .done && $0.status != .failed }.count
        var duplicates = 0, staleBands = 0
        for c in all {
            let bands = try store.evaluations(c.id!)
            duplicates += bands.count - Set(bands.map(\.band)).count
            staleBands += bands.filter { $0.lease != c.lease }.count
        }
        #expect(all.count == n && lost == 0 && Set(completions).count == n && completions.count == n)
        #expect(duplicates == 0 && staleBands == 0)
        #expect(try store.candidate(cut.id!)?.lease != cut.lease && store.candidate(killed.id!)?.lease != killed.lease,
                "the cut and the killed candidates were completed under new leases")
        print("several hosts: workers=\(workers.count) hosts=3 link_cuts=1 kills=1 candidates=\(all.count) "
              + "completed=\(completions.count) duplicates=\(duplicates) stale_bands=\(staleBands) lost=\(lost)")
    }

    /// A ladder's rung job, not only a candidate, survives a cut link: two hosts share a study
    /// on tiny-ladder.yaml (rung 1 trained long enough to be cut mid-job); the link of the host
    /// training a rung job is cut, the other host trains that job again after the lease lapses,
    /// and every candidate and rung job is completed once, each band under its completing lease.
    @Test(.enabled(if: Namespaces.privilege != nil || runningInCI, "network namespaces need root or passwordless sudo (ip netns)"))
    func aRungJobSurvivesACutLink() throws {
        guard let net = try hosts(2) else { return }
        defer { net.remove() }
        let corpus = try realCorpus(), lease = 6
        let space = try edited(packageRoot.appendingPathComponent("search-spaces/tiny-ladder.yaml").path,
                               ["budget: {steps: 150}": "budget: {steps: 5000}"])
        let db = try temporaryDatabase(.postgres)
        let made = try runEvolve(["search", space, "--db", db, "--candidates", "4", "--workers", "0", "--corpus", corpus])
        #expect(made.status == 0, "\(made.output)")
        let store = try openStore(db)
        let study = try #require(try store.studies().first)

        let workers = try (1...2).map { try worker($0, net, db, corpus, lease: lease) }
        // Whichever host first holds a rung job for a second is cut off.
        let (host, cut) = try held(workers, store, study) { $0.rung > 0 }
        try net.cut(host: host + 1)
        let other = workers[1 - host]
        #expect(other.wait(seconds: 300) == 0, "\(other.output)")
        kill(workers[host].pid, SIGKILL)   // still waiting on its cut link
        _ = workers[host].wait(seconds: 30)

        let rows = try store.candidates(study: study.id!) + store.rungJobs(study: study.id!)
        let completions = rows.compactMap(\.completion)
        #expect(rows.allSatisfy { $0.status == .done || $0.status == .failed } && Set(completions).count == rows.count
                && completions.count == rows.count, "\(rows.map { "#\($0.id!) \($0.status)" })")
        for r in rows {
            let bands = try store.evaluations(r.id!)
            #expect(bands.count == Set(bands.map(\.band)).count && bands.allSatisfy { $0.lease == r.lease }, "#\(r.id!)")
        }
        let again = try #require(try store.candidate(cut.id!))
        #expect(again.rung > 0 && again.status == .done && again.lease != cut.lease, "the cut rung job was not completed under a new lease")
        #expect(other.output.contains("#\(cut.id!) rung \(cut.rung) of #"), "\(other.output)")
    }

    /// `n` test hosts, or nil with the failure recorded where namespaces cannot be made.
    func hosts(_ n: Int) throws -> Namespaces? {
        if let net = try Namespaces(n) { return net }
        Issue.record("network namespaces could not be made (ip netns, as root or through passwordless sudo, from iproute2)")
        return nil
    }

    /// A copy of the space file at `path` in the scratch folder, with `edits` made and its seed
    /// named by absolute path (the copy is read from elsewhere).
    func edited(_ path: String, _ edits: [String: String]) throws -> String {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-hosts-\(UUID())-" + URL(fileURLWithPath: path).lastPathComponent).path
        var text = try String(contentsOfFile: path, encoding: .utf8)
        for (old, new) in edits {
            #expect(text.contains(old), "\(path) no longer holds \(old)")
            text = text.replacingOccurrences(of: old, with: new)
        }
        try text.replacingOccurrences(of: "seeds/vanilla.program", with: packageRoot.appendingPathComponent("search-spaces/seeds/vanilla.program").path)
            .write(toFile: copy, atomically: true, encoding: .utf8)
        return copy
    }

    /// An `evolve worker` on test host `host`, reaching the study's server over its link.
    func worker(_ host: Int, _ net: Namespaces, _ db: String, _ corpus: String, lease: Int) throws -> HostProcess {
        try HostProcess(["worker", "--db", net.url(db, host: host), "--corpus", corpus, "--threads", "1", "--lease", "\(lease)"],
                        namespace: "evolve-t\(host)")
    }

    /// The row `w` holds, a second into its training.
    func job(held w: HostProcess, _ store: SQLStore, _ study: Study) throws -> Candidate {
        try held([w], store, study) { _ in true }.1
    }

    /// The first of `workers` (its index) seen holding a row that `matches` for a second, and that row.
    func held(_ workers: [HostProcess], _ store: SQLStore, _ study: Study, _ matches: (Candidate) -> Bool) throws -> (Int, Candidate) {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            for (k, w) in workers.enumerated() {
                guard let c = try store.running(study: study.id!).first(where: { $0.worker?.pid == w.pid && matches($0) }) else { continue }
                usleep(1_000_000)
                if let still = try store.candidate(c.id!), still.status == .running, still.lease == c.lease { return (k, still) }
            }
            usleep(100_000)
        }
        throw StoreError(description: "no worker held such a row within 120 s: \(workers.map(\.output))")
    }
}

/// Test hosts on this machine: network namespaces `evolve-tK`, each joined to this host by a
/// veth pair (10.77.K.1 here, 10.77.K.2 there). Nil where they cannot be made.
final class Namespaces {
    let count: Int

    /// What `ip` runs under: nothing as root, `sudo -n` for a user with passwordless sudo
    /// (scripts/test.sh run by such a user); nil for anyone else.
    static let privilege: [String]? = {
        if geteuid() == 0 { return [] }
        return launch(["sudo", "-n", "true"]) ? ["sudo", "-n"] : nil
    }()

    init?(_ count: Int) throws {
        self.count = count
        remove()
        for k in 1...count {
            let ok = [["ip", "netns", "add", "evolve-t\(k)"],
                      ["ip", "link", "add", "evolve-h\(k)", "type", "veth", "peer", "name", "evolve-n\(k)"],
                      ["ip", "link", "set", "evolve-n\(k)", "netns", "evolve-t\(k)"],
                      ["ip", "addr", "add", "10.77.\(k).1/24", "dev", "evolve-h\(k)"],
                      ["ip", "link", "set", "evolve-h\(k)", "up"],
                      ["ip", "netns", "exec", "evolve-t\(k)", "ip", "addr", "add", "10.77.\(k).2/24", "dev", "evolve-n\(k)"],
                      ["ip", "netns", "exec", "evolve-t\(k)", "ip", "link", "set", "evolve-n\(k)", "up"],
                      ["ip", "netns", "exec", "evolve-t\(k)", "ip", "link", "set", "lo", "up"]].allSatisfy { Namespaces.run($0) }
            if !ok { remove(); return nil }
        }
    }

    /// The server's URL as host `k` reaches it.
    func url(_ db: String, host k: Int) -> String {
        db.replacingOccurrences(of: "@127.0.0.1:", with: "@10.77.\(k).1:")
    }

    /// Cuts host `k` off the network (its link goes down; its connections hang).
    func cut(host k: Int) throws {
        guard Namespaces.run(["ip", "link", "set", "evolve-h\(k)", "down"]) else { throw StoreError(description: "cannot cut evolve-h\(k)") }
    }

    func remove() {
        for k in 1...count {
            _ = Namespaces.run(["ip", "netns", "del", "evolve-t\(k)"])
            _ = Namespaces.run(["ip", "link", "del", "evolve-h\(k)"])
        }
    }

    /// Runs `args` with `privilege`; whether it succeeded.
    @discardableResult
    static func run(_ args: [String]) -> Bool {
        guard let privilege else { return false }
        return launch(privilege + args)
    }

    private static func launch(_ args: [String]) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }
}

/// An `evolve` process on a test host (this one, or a network namespace), its output in a file.
final class HostProcess {
    let process = Process()
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-worker-\(UUID()).log")
    /// evolve's own pid, the one its leases record.
    private(set) var pid: Int32 = 0
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    init(_ arguments: [String], namespace: String? = nil) throws {
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let out = try FileHandle(forWritingTo: log)
        let evolve = [try evolveExecutable().path] + arguments
        let pidFile = log.path + ".pid"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // On this host, and as root `ip netns exec`, exec evolve: the pid is evolve's. Through
        // sudo, which runs the command as a child, evolve runs as this user again (so it can
        // be killed) and a shell writes the pid it then execs evolve under.
        let direct = namespace == nil || Namespaces.privilege == []
        process.arguments = if let namespace {
            Namespaces.privilege == [] ? ["ip", "netns", "exec", namespace] + evolve
                : (Namespaces.privilege ?? []) + ["ip", "netns", "exec", namespace]
                    + ["setpriv", "--reuid=\(getuid())", "--regid=\(getgid())", "--clear-groups", "--",
                       "/bin/sh", "-c", "echo $$ >\"$0\"; exec \"$@\"", pidFile] + evolve
        } else { evolve }
        process.currentDirectoryURL = packageRoot
        process.standardOutput = out
        process.standardError = out
        try process.run()
        pid = direct ? process.processIdentifier : try Self.read(pidFile, while: process)
    }

    /// The pid the shell wrote, once it has.
    private static func read(_ file: String, while process: Process) throws -> Int32 {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), text.hasSuffix("\n"),
               let pid = Int32(text.dropLast()) { return pid }
            if !process.isRunning { break }
            usleep(20_000)
        }
        throw StoreError(description: "the worker never started: no pid in \(file)")
    }

    /// Its exit status, or nil if it is still running after `seconds`.
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        return process.isRunning ? nil : process.terminationStatus
    }
}
