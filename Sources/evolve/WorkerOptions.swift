import ArgumentParser
import Foundation
import Store

/// Options of every command that works on a study's candidates (`search`, `worker`): how long
/// a silent holder keeps its lease, and how long a lost database server is waited for.
struct WorkerOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Seconds a worker may go without a heartbeat (by the database's clock) before its candidate goes back to the queue.")
    var lease: Double = 300

    @Option(parsing: .unconditional, help: "Seconds to keep retrying a lost PostgreSQL server (a restart, a failover) before giving up; meanwhile the candidate in training waits, and keeps its lease if the server is back in time.")
    var reconnect: Double = 300

    func check() throws {
        guard lease.isFinite, lease >= 1 else { throw CommandError(description: "--lease must be at least 1 second") }
        guard reconnect.isFinite, reconnect >= 0 else { throw CommandError(description: "--reconnect must be 0 or more seconds") }
    }

    /// The reconnection window, its two lines (lost, back) shown through `display`.
    func reconnection(_ display: SearchDisplay) -> Reconnection {
        Reconnection(seconds: reconnect) { display.notice($0) }
    }

    /// The arguments that pass these options on to a child process.
    var arguments: [String] { ["--lease", "\(lease)", "--reconnect", "\(reconnect)"] }
}

/// A worker's exit status when its database server stayed out of reach for `--reconnect`
/// seconds (sysexits' EX_TEMPFAIL): a parent does not start another worker in its place.
let unreachableStatus: Int32 = 75
