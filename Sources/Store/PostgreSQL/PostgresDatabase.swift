import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// The PostgreSQL engine, through postgres-nio: one server shared by workers on any number of
/// hosts. Claims skip rows another transaction has locked (`FOR UPDATE SKIP LOCKED`); leases
/// are timed by the server's clock; a transaction left open by a worker that vanished is
/// ended by the server (`idle_in_transaction_session_timeout`), and a statement that gets no
/// answer within `timeout` (a cut link) closes the connection. A lost connection is retried
/// for `reconnection.seconds` (PostgresDatabase+Reconnect.swift), else a one-line error.
public final class PostgresDatabase: SQLDatabase, @unchecked Sendable {
    public let location: String
    public let readOnly: Bool
    public let dialect = Dialect(
        now: "clock_timestamp()",
        secondsAgo: "clock_timestamp() - make_interval(secs => ?)",
        skipLocked: " FOR UPDATE SKIP LOCKED",
        nextLease: "nextval('candidate_lease')",
        // Never backwards: a value an uncommitted transaction already drew stays unique.
        afterExplicitIDs: ["study", "candidate", "evaluation"].map {
            "SELECT setval(pg_get_serial_sequence('\($0)', 'id'), GREATEST((SELECT MAX(id) FROM \($0)), (SELECT last_value FROM \($0)_id_seq), 1))"
        } + ["SELECT setval('candidate_lease', GREATEST((SELECT MAX(lease) FROM candidate), (SELECT last_value FROM candidate_lease), 1))"])

    let target: PostgresURL
    let timeout: TimeInterval
    let reconnection: Reconnection
    let lock = NSLock()
    private var connection: PostgresConnection?
    private static let logger = Logger(label: "evolve.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Connects, checks that the database is empty or evolve's, and migrates it (unless
    /// `readOnly`). A database with migrations this build does not know is refused.
    public convenience init(url: String, readOnly: Bool = false, timeout: TimeInterval = 30, reconnection: Reconnection = .never) throws {
        try self.init(target: try PostgresURL(url), readOnly: readOnly, timeout: timeout, reconnection: reconnection)
        guard try PostgresSchema.prepare(self, migrate: !readOnly) else { throw StoreError(description: "\(location) holds no evolve study yet") }
    }

    /// The database opened read-only, or nil where it holds no evolve schema yet.
    public static func existing(url: String, timeout: TimeInterval = 30, reconnection: Reconnection = .never) throws -> PostgresDatabase? {
        let db = try PostgresDatabase(target: try PostgresURL(url), readOnly: true, timeout: timeout, reconnection: reconnection)
        return try PostgresSchema.prepare(db, migrate: false) ? db : nil
    }

    init(target: PostgresURL, readOnly: Bool, timeout: TimeInterval, reconnection: Reconnection = .never) throws {
        self.target = target
        location = target.redacted
        self.readOnly = readOnly
        self.timeout = timeout
        self.reconnection = reconnection
    }

    deinit { _ = connection?.close() as EventLoopFuture<Void>? }

    @discardableResult public func write<T>(_ body: (SQLConnection) throws -> T) throws -> T {
        try transaction("BEGIN", writes: true, body)
    }

    public func read<T>(_ body: (SQLConnection) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", writes: false, body)
    }

    /// One try of `body` between `begin` and COMMIT on `c`. A write first learns its
    /// transaction id and, just before COMMIT, leaves it with the result in `sent`: if the
    /// answer to COMMIT is lost, the id tells after reconnecting whether it committed.
    func attempt<T>(_ begin: String, writes: Bool, _ c: Connection, _ body: (SQLConnection) throws -> T,
                    sent: inout (xid: Int64, result: T)?) throws -> T {
        try c.execute(begin, [])
        do {
            let result = try body(c)
            if writes, let xid = try c.rows("SELECT txid_current() AS n", []).first?.integer("n") { sent = (xid, result) }
            try c.execute("COMMIT", [])
            sent = nil
            return result
        } catch {
            // A lost connection has ended the transaction already.
            if !(error is ConnectionLost) { _ = try? c.execute("ROLLBACK", []) }
            throw error
        }
    }

    /// The open connection, or a new one (after a failure closed the last).
    func connected() throws -> PostgresConnection {
        if let c = connection, !c.isClosed { return c }
        var config = PostgresConnection.Configuration(host: target.host, port: target.port, username: target.user,
                                                      password: target.password, database: target.database, tls: .disable)
        config.options.connectTimeout = .seconds(Int64(timeout))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let c: PostgresConnection
        let connecting = PostgresConnection.connect(on: loop, configuration: config, id: 1, logger: Self.logger)
        do {
            c = try answer(connecting, from: nil, within: timeout)
        } catch let lost as ConnectionLost {
            connecting.whenSuccess { _ = $0.close() as EventLoopFuture<Void> }   // if it ever comes
            throw ConnectionLost(reason: lost.reason, connecting: true)
        } catch {
            throw ConnectionLost(error, connecting: true) ?? explain(error)
        }
        connection = c
        do {
            // A worker that vanishes mid-transaction must not hold its locks for ever.
            let session = Connection(database: self, connection: c)
            try session.execute("SET idle_in_transaction_session_timeout = '\(Int(timeout))s'", [])
            try session.execute("SET application_name = 'evolve'", [])
        } catch {
            drop()
            throw error
        }
        return c
    }

    /// Closes the connection (after it failed): the next statement opens a new one.
    func drop() {
        _ = connection?.close() as EventLoopFuture<Void>?
        connection = nil
    }

    /// A one-line reason for a failure: the server's message, or what happened to the link.
    func explain(_ error: Error) -> StoreError {
        if let e = error as? StoreError { return e }
        if let lost = error as? ConnectionLost ?? ConnectionLost(error) {
            return StoreError(description: "\(location): " + (lost.connecting ? "cannot connect to the server (\(lost.reason))"
                                                                               : "the connection to the server was lost (\(lost.reason))"))
        }
        if let e = error as? PSQLError {
            if let info = e.serverInfo, let message = info[.message] {
                if info[.sqlState] == "3D000" { return StoreError(description: "\(location): \(message) (create it first, e.g. createdb)") }
                return StoreError(description: "\(location): \(message)")
            }
            return StoreError(description: "\(location): \(e.code)")
        }
        if let e = error as? PostgresDecodingError {
            return StoreError(description: "\(location): column \(e.columnName) holds a \(e.postgresType), not what evolve wrote there")
        }
        return StoreError(description: "\(location): \(error)")
    }

    struct Connection: SQLConnection {
        let database: PostgresDatabase
        let connection: PostgresConnection

        func rows(_ sql: String, _ values: [SQLValue]) throws -> [SQLRow] {
            let rows = try run(sql, values).rows
            guard let first = rows.first else { return [] }
            let columns = ColumnIndex(first.map(\.columnName))
            return rows.map { PostgresRowReader(cells: Array($0), columns: columns) }
        }

        @discardableResult func execute(_ sql: String, _ values: [SQLValue]) throws -> Int {
            try run(sql, values).metadata.rows ?? 0
        }

        func serialize(_ key: LockKey) throws {
            _ = try run("SELECT pg_advisory_xact_lock(?)", [.integer(key.rawValue)])
        }

        /// One statement, its `?`s numbered `$1, $2, …`; closes the connection if the server
        /// does not answer within the timeout (the link may be cut). A failure of the link
        /// throws `ConnectionLost`, one of the statement a one-line `StoreError`.
        func run(_ sql: String, _ values: [SQLValue]) throws -> PostgresQueryResult {
            var binds = PostgresBindings(capacity: values.count)
            for v in values {
                switch v {
                case .null: binds.appendNull()
                case .integer(let x): binds.append(x)
                case .real(let x): binds.append(x)
                case .text(let x): binds.append(x)
                case .date(let x): binds.append(x)
                }
            }
            var numbered = "", n = 0
            for ch in sql {
                if ch == "?" { n += 1; numbered += "$\(n)" } else { numbered.append(ch) }
            }
            let query = connection.query(PostgresQuery(unsafeSQL: numbered, binds: binds), logger: PostgresDatabase.logger)
            do {
                return try answer(query, from: connection, within: database.timeout)
            } catch {
                throw ConnectionLost(error) ?? database.explain(error)
            }
        }
    }

    struct PostgresRowReader: SQLRow {
        let cells: [PostgresCell]
        let columns: ColumnIndex
        func cell(_ column: String) -> PostgresCell? { columns(column).map { cells[$0] } }
        func integer(_ column: String) throws -> Int64? { try cell(column)?.decode(Int64?.self) }
        func real(_ column: String) throws -> Double? { try cell(column)?.decode(Double?.self) }
        func text(_ column: String) throws -> String? { try cell(column)?.decode(String?.self) }
        func date(_ column: String) throws -> Date? { try cell(column)?.decode(Date?.self) }
    }
}

/// `postgres://user[:password]@host[:port]/dbname`, parsed; `redacted` hides the password.
struct PostgresURL {
    var user: String, password: String?, host: String, port: Int, database: String

    init(_ text: String) throws {
        let bad = { (why: String) in StoreError(description: "\(text.replacingOccurrences(of: #":[^:@/]*@"#, with: ":***@", options: .regularExpression)): \(why); expected postgres://user[:password]@host[:port]/dbname") }
        guard let u = URLComponents(string: text), ["postgres", "postgresql"].contains(u.scheme ?? "") else { throw bad("not a URL") }
        guard let host = u.host, !host.isEmpty else { throw bad("no host") }
        guard let user = u.user, !user.isEmpty else { throw bad("no user") }
        let name = u.path.hasPrefix("/") ? String(u.path.dropFirst()) : u.path
        guard !name.isEmpty, !name.contains("/") else { throw bad("no database name") }
        if let p = u.port, !(1...65535).contains(p) { throw bad("port out of range") }
        self.user = user.removingPercentEncoding ?? user
        password = u.password.map { $0.removingPercentEncoding ?? $0 }
        self.host = host
        port = u.port ?? 5432
        database = name.removingPercentEncoding ?? name
    }

    var redacted: String { "postgres://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)" }
}

/// Makes a database on a server (the test suite's, one per test); `server` is the URL of a
/// database to connect to first (e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
public func createPostgresDatabase(server: String, name: String) throws -> String {
    var url = try PostgresURL(server)
    let admin = try PostgresDatabase(target: url, readOnly: true, timeout: 30)
    _ = try admin.withConnection { try $0.run("CREATE DATABASE \(name)", []) }
    url.database = name
    return "postgres://\(url.user)\(url.password.map { ":\($0)" } ?? "")@\(url.host):\(url.port)/\(name)"
}

extension PostgresDatabase {
    /// `body` outside any transaction (CREATE DATABASE cannot run in one).
    func withConnection<T>(_ body: (Connection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        do { return try body(Connection(database: self, connection: try connected())) } catch { throw explain(error) }
    }
}
