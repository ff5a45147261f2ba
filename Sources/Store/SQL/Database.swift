import Foundation

/// A value bound into, or read out of, a statement. The store's SQL is written once with
/// `?` placeholders; each engine binds these in its own way.
public enum SQLValue: Sendable, Equatable {
    case null, integer(Int64), real(Double), text(String), date(Date)

    public init(_ x: Int64?) { self = x.map(SQLValue.integer) ?? .null }
    public init(_ x: Int?) { self = x.map { .integer(Int64($0)) } ?? .null }
    public init(_ x: Double?) { self = x.map(SQLValue.real) ?? .null }
    public init(_ x: String?) { self = x.map(SQLValue.text) ?? .null }
    public init(_ x: Date?) { self = x.map(SQLValue.date) ?? .null }
}

/// A result's column positions by name, made once per result, not searched for per cell:
/// a search by name, case-insensitive, per cell was most of the time of reading a study of
/// 10,000 candidates. Names are found as written, else case-folded (PostgreSQL folds
/// unquoted names to lower case), the folded answer remembered.
final class ColumnIndex: @unchecked Sendable {
    private let exact: [String: Int]
    private let folded: [String: Int]
    private var asked: [String: Int?] = [:]
    private let lock = NSLock()

    init(_ names: [String]) {
        exact = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        folded = Dictionary(names.enumerated().map { ($1.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The position of the column named `name`, nil where the result has none.
    func callAsFunction(_ name: String) -> Int? {
        if let i = exact[name] { return i }
        lock.lock(); defer { lock.unlock() }
        if let i = asked[name] { return i }
        let i = folded[name.lowercased()]
        asked[name] = i
        return i
    }
}

/// One result row, read by column name (engines fold names to lower case).
public protocol SQLRow {
    func integer(_ column: String) throws -> Int64?
    func real(_ column: String) throws -> Double?
    func text(_ column: String) throws -> String?
    func date(_ column: String) throws -> Date?
}

/// A connection inside a transaction (or a read).
public protocol SQLConnection {
    /// The rows a statement returns (SELECT, or anything with RETURNING).
    func rows(_ sql: String, _ values: [SQLValue]) throws -> [SQLRow]
    /// Runs a statement; the number of rows it changed.
    @discardableResult func execute(_ sql: String, _ values: [SQLValue]) throws -> Int
    /// Holds `key` until the transaction ends, so that writers of the same kind go one at a
    /// time (numbering completions, inserting a study's next candidate). SQLite's writers
    /// already do: a no-op there.
    func serialize(_ key: LockKey) throws
}

/// What differs between the engines' SQL, as fragments the store splices in.
public struct Dialect: Sendable {
    /// The database server's clock, as a timestamp: leases never read a worker's clock.
    public var now: String
    /// The server's clock minus `?` seconds (one placeholder).
    public var secondsAgo: String
    /// Appended to the SELECT that picks a candidate to claim: others skip the row it locks.
    public var skipLocked: String
    /// A fresh lease token, never handed out before.
    public var nextLease: String
    /// Statements that bring the id and lease counters past rows inserted with explicit ids.
    public var afterExplicitIDs: [String] = []
    /// Whether a write transaction holds the whole database from its start (SQLite), so
    /// that the wait to begin one is the wait for the lock.
    public var writerHoldsDatabase = false
}

/// One engine: SQLite through GRDB, PostgreSQL through postgres-nio. The store's logic
/// (`SQLStore`) is written once on top of this.
public protocol SQLDatabase: AnyObject, Sendable {
    var location: String { get }
    var dialect: Dialect { get }
    var readOnly: Bool { get }
    /// `body` in one transaction, committed when it returns, rolled back when it throws.
    @discardableResult func write<T>(_ body: (SQLConnection) throws -> T) throws -> T
    /// `body` on a consistent snapshot; it must not write.
    func read<T>(_ body: (SQLConnection) throws -> T) throws -> T
}

extension SQLConnection {
    @discardableResult func execute(_ sql: String, _ values: SQLValue...) throws -> Int { try execute(sql, values) }
    func rows(_ sql: String, _ values: SQLValue...) throws -> [SQLRow] { try rows(sql, values) }
    /// The column `n` of the first row (`SELECT COUNT(*) AS n …`).
    func number(_ sql: String, _ values: SQLValue...) throws -> Int64? { try rows(sql, values).first?.integer("n") }
}
