import Foundation
import GRDB

/// The SQLite engine, through GRDB: one file, WAL (readers never block the writer). Several
/// processes of one machine may share it: every write is an IMMEDIATE transaction (GRDB's
/// choice for a pool) that waits up to `busyTimeout` for the lock.
public final class SQLiteDatabase: SQLDatabase, @unchecked Sendable {
    public let path: String
    public var location: String { path }
    public let readOnly: Bool
    let pool: any DatabaseWriter
    /// Where a database of an older schema opened read-only is read from: a copy, migrated
    /// (the file itself is never written), removed when the store closes.
    private var copy: String?

    /// SQLite's clock (the one machine's), in GRDB's text form of a date, so that stored and
    /// computed times compare as text.
    public let dialect = Dialect(
        now: "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        secondsAgo: "strftime('%Y-%m-%d %H:%M:%f', 'now', printf('%+.3f seconds', -(?)))",
        skipLocked: "",   // the writer holds the whole database
        nextLease: "(SELECT COALESCE(MAX(lease), 0) + 1 FROM candidate)",
        writerHoldsDatabase: true)

    /// SQLite's header field that says which application a file belongs to: evolve's
    /// databases carry 'evol', and evolve writes no other non-empty database.
    static let applicationID: Int32 = 0x6576_6F6C

    /// Opens (or creates) a study database. `readOnly` opens an existing one without writing
    /// anything, not even its journal mode (the study commands that only read use it).
    public init(path: String, busyTimeout: TimeInterval = 60, readOnly: Bool = false) throws {
        self.path = path
        self.readOnly = readOnly
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        do {
            let exists = ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) > 0
            if readOnly && !exists { throw StoreError(description: "\(path): no such database") }
            if exists { try SQLiteDatabase.checkOwner(path) }
            if readOnly {
                config.readonly = true
                let file = try DatabaseQueue(path: path, configuration: config)
                (pool, copy) = try SQLiteDatabase.current(file)
            } else {
                try? FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                         withIntermediateDirectories: true)
                pool = try DatabasePool(path: path, configuration: config)
            }
            let migrator = SQLiteSchema.migrator
            if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                throw StoreError(description: "\(path) was written by a newer evolve (its schema has migrations this build does not know); nothing was changed")
            }
            guard !readOnly else { return }
            try migrator.migrate(pool)
            if try pool.read({ try Int32.fetchOne($0, sql: "PRAGMA application_id") }) != SQLiteDatabase.applicationID {
                try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA application_id = \(SQLiteDatabase.applicationID)") }
            }
        } catch let e as StoreError {
            throw e
        } catch {
            throw SQLiteDatabase.explain(error, path)
        }
    }

    deinit { if let copy { try? FileManager.default.removeItem(atPath: copy) } }

    /// A read-only database as this build reads it: itself when its schema is current; else
    /// (written by an older evolve, before columns this build reads) a copy of it as it
    /// stands now, migrated, and that copy's path. Readers then see the database as it was
    /// when opened: fine for the commands that read (status, top, report, …); `serve` says so.
    static func current(_ file: DatabaseQueue) throws -> (any DatabaseWriter, String?) {
        let migrator = SQLiteSchema.migrator
        guard try !file.read({ try migrator.hasCompletedMigrations($0) }) else { return (file, nil) }
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-migrated-\(UUID()).db").path
        do {
            let writable = try DatabaseQueue(path: copy)
            try file.backup(to: writable)
            try migrator.migrate(writable)
            return (writable, copy)
        } catch {
            try? FileManager.default.removeItem(atPath: copy)
            throw error
        }
    }

    /// Whether this store reads a migrated copy of an older database (see `current`).
    public var readsACopy: Bool { copy != nil }

    /// Refuses a non-empty file that is not evolve's, reading it without writing: evolve's
    /// own mark, or (databases from before the mark) evolve's tables and migrations.
    static func checkOwner(_ path: String) throws {
        var config = Configuration()
        config.readonly = true
        let (id, tables) = try DatabaseQueue(path: path, configuration: config).read { db in
            (try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0,
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"))
        }
        if id == applicationID || tables.isEmpty { return }
        if id == 0 && Set(["grdb_migrations", "study", "candidate", "evaluation"]).isSubset(of: tables) { return }
        let what = id != 0 ? String(format: "application id 0x%08x", id) : "tables \(tables.prefix(5).joined(separator: ", "))"
        throw StoreError(description: "\(path) is not an evolve database (it holds \(what)); nothing was changed")
    }

    /// A one-line reason for a database error.
    static func explain(_ error: Error, _ path: String) -> StoreError {
        if let e = error as? StoreError { return e }
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return StoreError(description: "\(path) is locked by another process (gave up waiting); nothing was changed")
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return StoreError(description: "\(path) is not an evolve database (or is damaged)")
            case .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM:
                return StoreError(description: "\(path) cannot be opened for writing")
            default:
                return StoreError(description: "\(path): \(e.message ?? "\(e.resultCode)")")
            }
        }
        return StoreError(description: "\(path): \(error)")
    }

    @discardableResult public func write<T>(_ body: (SQLConnection) throws -> T) throws -> T {
        do { return try pool.write { try body(Connection(db: $0)) } } catch { throw SQLiteDatabase.explain(error, path) }
    }

    public func read<T>(_ body: (SQLConnection) throws -> T) throws -> T {
        do { return try pool.read { try body(Connection(db: $0)) } } catch { throw SQLiteDatabase.explain(error, path) }
    }

    struct Connection: SQLConnection {
        let db: Database

        func rows(_ sql: String, _ values: [SQLValue]) throws -> [SQLRow] {
            let rows = try GRDB.Row.fetchAll(db, sql: sql, arguments: StatementArguments(values.map(\.grdb)))
            guard let first = rows.first else { return [] }
            let columns = ColumnIndex(Array(first.columnNames))
            return rows.map { SQLiteRow(row: $0, columns: columns) }
        }

        func execute(_ sql: String, _ values: [SQLValue]) throws -> Int {
            try db.execute(sql: sql, arguments: StatementArguments(values.map(\.grdb)))
            return db.changesCount
        }

        func serialize(_ key: LockKey) throws {}
    }

    /// Cells read by position and by their storage class, as GRDB's conversions read them
    /// (an integral real is an integer, an integer a real; text as UTF-8 from a blob), without
    /// its generic decoding per cell.
    struct SQLiteRow: SQLRow {
        let row: GRDB.Row
        let columns: ColumnIndex
        func value(_ column: String) -> DatabaseValue { columns(column).map { row[$0] as DatabaseValue } ?? .null }
        func integer(_ column: String) throws -> Int64? {
            switch value(column).storage {
            case .int64(let x): return x
            case .double(let x): return Int64(exactly: x)
            default: return nil
            }
        }
        func real(_ column: String) throws -> Double? {
            switch value(column).storage {
            case .double(let x): return x
            case .int64(let x): return Double(x)
            default: return nil
            }
        }
        func text(_ column: String) throws -> String? {
            switch value(column).storage {
            case .string(let x): return x
            case .blob(let x): return String(data: x, encoding: .utf8)
            default: return nil
            }
        }
        func date(_ column: String) throws -> Date? { Date.fromDatabaseValue(value(column)) }
    }
}

extension SQLValue {
    var grdb: DatabaseValue {
        switch self {
        case .null: return .null
        case .integer(let x): return x.databaseValue
        case .real(let x): return x.databaseValue
        case .text(let x): return x.databaseValue
        case .date(let x): return x.databaseValue
        }
    }
}
