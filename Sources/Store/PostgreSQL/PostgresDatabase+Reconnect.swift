import Foundation
import NIOCore
import NIOPosix
import PostgresNIO

/// How long a store keeps trying to reach a database server it lost (a restart, a failover, a
/// cut link) before it gives up, and where it says so.
public struct Reconnection: Sendable {
    /// Seconds of retrying; 0 gives up at once, with a one-line error.
    public var seconds: TimeInterval
    /// Told when the connection is lost and when it is back.
    public var report: @Sendable (String) -> Void

    public init(seconds: TimeInterval, report: @escaping @Sendable (String) -> Void = {
        FileHandle.standardError.write(Data(($0 + "\n").utf8))
    }) {
        self.seconds = seconds
        self.report = report
    }

    public static let never = Reconnection(seconds: 0)
}

/// The server stayed out of reach for the whole `Reconnection` window. Nothing was lost: what
/// the store did not finish was rolled back by the server.
public struct DatabaseUnreachable: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// The link to the server failed (refused, closed, reset, unanswered; the server shutting down,
/// crashed or still starting), not the statement: the same transaction may succeed on a new
/// connection. Errors of the statement itself (SQL, constraints, decoding) are never this.
struct ConnectionLost: Error {
    let reason: String
    /// Lost while connecting, rather than on a connection that was open.
    var connecting = false

    init(reason: String, connecting: Bool = false) {
        self.reason = reason
        self.connecting = connecting
    }

    /// `error` as a lost connection, or nil where it is not one.
    init?(_ error: Error, connecting: Bool = false) {
        if let e = error as? ConnectionLost { self = e; return }
        if let e = error as? PSQLError {
            if let info = e.serverInfo {
                // Class 08 (connection exceptions) and 57P01–57P03 (admin shutdown, crash
                // shutdown, cannot connect now: the server stopping or still recovering).
                let state = info[.sqlState] ?? ""
                guard state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state) else { return nil }
                self.init(reason: info[.message] ?? state, connecting: connecting)
                return
            }
            switch e.code {
            case .connectionError:
                self.init(reason: e.underlying.map(Self.short) ?? "no answer", connecting: true)
            case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
                self.init(reason: "closed" + (e.underlying.map { ": " + Self.short($0) } ?? " by the server"), connecting: connecting)
            default:
                return nil
            }
            return
        }
        guard error is IOError || error is NIOConnectionError || error is ChannelError else { return nil }
        self.init(reason: Self.short(error), connecting: connecting)
    }

    /// A network error in a few words ("connection refused", "connection reset by peer").
    static func short(_ error: Error) -> String {
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)).lowercased() }
        if let e = error as? NIOConnectionError, let last = e.connectionErrors.last { return short(last.error) }
        if let e = error as? PSQLError, let u = e.underlying { return short(u) }
        return "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

extension PostgresDatabase {
    /// `body` in one transaction on this store's connection (one at a time). A lost
    /// connection is retried with backoff for `reconnection.seconds`: the transaction ran
    /// again from BEGIN, except a write whose COMMIT went unanswered, which the server
    /// is asked about first (`txid_status`), so that a commit is never made twice.
    func transaction<T>(_ begin: String, writes: Bool, _ body: (SQLConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        var outage: Outage?
        var sent: (xid: Int64, result: T)?
        while true {
            do {
                let c = Connection(database: self, connection: try connected())
                if let unanswered = sent {
                    guard let done = try c.committed(unanswered.xid) else { throw ConnectionLost(reason: "the last commit is still in progress") }
                    sent = nil
                    if done { outage?.end(); return unanswered.result }
                }
                let result = try attempt(begin, writes: writes, c, body, sent: &sent)
                outage?.end()
                return result
            } catch let lost as ConnectionLost {
                drop()
                guard reconnection.seconds > 0 else { throw explain(lost) }
                if outage == nil { outage = Outage(location: location, reconnection: reconnection, first: lost) }
                try outage!.pause(after: lost)
            }
        }
    }
}

extension PostgresDatabase.Connection {
    /// Whether the transaction `xid` committed: true, false (aborted, unknown to the server,
    /// or beyond its next id: a server that crashed before the commit reached its log starts
    /// again below it, and txid_status would raise an error), nil while it is still in progress.
    func committed(_ xid: Int64) throws -> Bool? {
        let sql = "SELECT CASE WHEN ? >= txid_snapshot_xmax(txid_current_snapshot()) THEN 'future' ELSE txid_status(?) END AS s"
        switch try rows(sql, [.integer(xid), .integer(xid)]).first?.text("s") {
        case "committed": return true
        case "in progress": return nil
        default: return false
        }
    }
}

/// A lost connection being retried: it says when it began and when it ended, and gives up
/// once the window has passed.
struct Outage {
    let location: String
    let reconnection: Reconnection
    let began = Date()
    var wait = 0.25

    init(location: String, reconnection: Reconnection, first: ConnectionLost) {
        self.location = location
        self.reconnection = reconnection
        reconnection.report("store: connection lost (\(first.reason)); retrying for up to \(Self.seconds(reconnection.seconds))")
    }

    /// Sleeps before the next try (doubling up to 2 s, jittered so that many workers do not
    /// knock at once); throws `DatabaseUnreachable` once the window is spent.
    mutating func pause(after lost: ConnectionLost) throws {
        let left = reconnection.seconds - Date().timeIntervalSince(began)
        guard left > 0 else {
            throw DatabaseUnreachable(description: "\(location): no connection to the server for \(Self.seconds(Date().timeIntervalSince(began))) "
                + "of retrying (\(lost.reason)); gave up. The study is intact: run the same command once the server is back")
        }
        usleep(UInt32(min(wait * Double.random(in: 0.75...1.25), left) * 1e6))
        wait = min(wait * 2, 2)
    }

    func end() {
        reconnection.report(String(format: "store: reconnected after %.1f s", Date().timeIntervalSince(began)))
    }

    static func seconds(_ s: TimeInterval) -> String {
        s < 10 ? String(format: "%.1f s", s) : "\(Int(s.rounded())) s"
    }
}

/// The future's value, waited for no longer than `timeout`: a cut link never answers, and
/// postgres-nio can drop a query written just as its connection closed. Without an answer
/// after `timeout`, or a second after `connection` closed, the connection is closed and the
/// link counted as lost.
func answer<T>(_ future: EventLoopFuture<T>, from connection: PostgresConnection?, within timeout: TimeInterval) throws -> T {
    let box = Answer<T>()
    future.whenComplete { box.put($0) }
    let deadline = Date().addingTimeInterval(timeout)
    var closedAt: Date?
    while true {
        if let result = box.take(waiting: 0.2) { return try result.get() }
        if let c = connection, c.isClosed {
            closedAt = closedAt ?? Date()
            if Date().timeIntervalSince(closedAt!) > 1 { throw ConnectionLost(reason: "the connection closed without an answer") }
        }
        if Date() > deadline {
            _ = connection?.close() as EventLoopFuture<Void>?
            throw ConnectionLost(reason: "no answer in \(Int(timeout)) s; the connection was closed")
        }
    }
}

/// A result handed over from the event loop's thread.
final class Answer<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<T, Error>?

    func put(_ r: Result<T, Error>) {
        condition.lock()
        result = r
        condition.signal()
        condition.unlock()
    }

    /// The result, waiting up to `seconds` for it; nil if it has not come.
    func take(waiting seconds: TimeInterval) -> Result<T, Error>? {
        condition.lock()
        defer { condition.unlock() }
        if result == nil { _ = condition.wait(until: Date().addingTimeInterval(seconds)) }
        return result
    }
}
