import Foundation

/// The fuzzer's watch over the input in hand. Each input is written to `folder` before it
/// runs (`in-progress.txt`, and what it is in `in-progress.kind`), so a crash leaves it
/// there. One that takes more than `limit` seconds of its thread's CPU time (a loop without
/// end), or ten times that on the clock (a wait without end), is a hang: it is saved as
/// `hang-input-N.txt`, reported in a `fuzz: hang:` line, and the run ends with status 3 (an
/// input cannot be stopped from outside the thread running it). CPU time, not the clock,
/// so that a busy machine does not make slow inputs of fast ones.
final class FuzzWatchdog: @unchecked Sendable {
    let limit: Double
    let folder: String
    private let lock = NSLock()
    private var current: (number: Int, label: String, started: Date, cpu: clockid_t, cpuStart: Double)?
    private var stopped = false
    /// The most CPU time any input took, and which.
    private(set) var slowest: (seconds: Double, label: String) = (0, "none")

    init(limit: Double, folder: String) throws {
        self.limit = limit
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        Thread { [self] in watch() }.start()
    }

    /// Input `number`, described by `label`, is about to run.
    func begin(_ number: Int, _ label: String, _ text: String) throws {
        try text.write(toFile: folder + "/in-progress.txt", atomically: false, encoding: .utf8)
        try label.write(toFile: folder + "/in-progress.kind", atomically: false, encoding: .utf8)
        var clock = clockid_t()
        pthread_getcpuclockid(pthread_self(), &clock)
        lock.lock(); defer { lock.unlock() }
        current = (number, label, Date(), clock, Self.seconds(clock))
    }

    func end() {
        lock.lock(); defer { lock.unlock() }
        if let c = current, Self.seconds(c.cpu) - c.cpuStart > slowest.seconds {
            slowest = (Self.seconds(c.cpu) - c.cpuStart, c.label)
        }
        current = nil
    }

    /// A CPU-time clock's reading in seconds.
    static func seconds(_ clock: clockid_t) -> Double {
        var t = timespec()
        clock_gettime(clock, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// The run is over: the watch stops and nothing is left in progress.
    func finish() {
        lock.lock(); stopped = true; lock.unlock()
        for f in ["in-progress.txt", "in-progress.kind"] { try? FileManager.default.removeItem(atPath: folder + "/" + f) }
    }

    private func watch() {
        while true {
            usleep(50_000)
            lock.lock()
            let (c, done) = (current, stopped)
            lock.unlock()
            if done { return }
            guard let c, Self.seconds(c.cpu) - c.cpuStart > limit || Date().timeIntervalSince(c.started) > 10 * limit else { continue }
            let saved = folder + "/hang-input-\(c.number).txt"
            try? FileManager.default.removeItem(atPath: saved)
            try? FileManager.default.moveItem(atPath: folder + "/in-progress.txt", toPath: saved)
            try? FileManager.default.removeItem(atPath: folder + "/in-progress.kind")
            let line = String(format: "fuzz: hang: %@ ran %.1f s of CPU time (%.1f s on the clock) past the %.2g s limit; the input is saved in %@\n",
                              c.label, Self.seconds(c.cpu) - c.cpuStart, Date().timeIntervalSince(c.started), limit, saved)
            FileHandle.standardOutput.write(Data(line.utf8))
            exit(3)
        }
    }
}
