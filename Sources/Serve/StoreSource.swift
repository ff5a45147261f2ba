import Foundation
import Store

/// The store a server reads, opened read-only on first use and opened again after any
/// failure: a SQLite file that was deleted or replaced, a PostgreSQL server that restarted.
/// Reads run one at a time on a queue of their own, off the server's threads (the engines'
/// calls block).
public final class StoreSource: @unchecked Sendable {
    public let location: String
    private let open: @Sendable (String) throws -> Store
    private let queue = DispatchQueue(label: "evolve.serve.store")
    private var store: Store?        // touched only on `queue`
    private var file: (device: UInt64, inode: UInt64)?

    public init(location: String, open: @escaping @Sendable (String) throws -> Store = { try openStore($0, readOnly: true) }) {
        self.location = location; self.open = open
    }

    /// `body` over the store; a failure to reach it is `Unavailable`, and the next read opens it again.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Store) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { done in
            queue.async { done.resume(with: Result { try self.readNow(body) }) }
        }
    }

    private func readNow<T>(_ body: (Store) throws -> T) throws -> T {
        if !isPostgresURL(location) {
            var st = stat()
            guard stat(location, &st) == 0, st.st_size > 0 else {
                store = nil
                throw Unavailable(description: "\(location): no such database (it was moved or deleted?)")
            }
            let identity = (device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            if file.map({ $0 != identity }) ?? true { store = nil; file = identity }   // another file under the name
        }
        do {
            let s = try store ?? open(location)
            store = s
            return try body(s)
        } catch let e as NotFound {
            throw e
        } catch {
            store = nil
            throw Unavailable(description: "\(location) cannot be read: \(error)")
        }
    }
}

/// The store cannot be read now; the page says so, and the next read tries again.
public struct Unavailable: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description.split(whereSeparator: \.isNewline).joined(separator: " ") }
}

/// No such study, candidate or file: a 404.
public struct NotFound: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}
