import Foundation
import GRDB

/// Who holds a candidate's lease: `host:pid:start` in the database, where start is the process's start time in
/// clock ticks since boot — so a later process that happens to reuse the pid is not taken
/// for the one that died.
public struct Worker: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let pid: Int32
    public let start: UInt64

    public static let current = Worker(host: ProcessInfo.processInfo.hostName, pid: getpid(),
                                       start: Worker.startTime(of: getpid()) ?? 0)

    public init(host: String, pid: Int32, start: UInt64) {
        self.host = host; self.pid = pid; self.start = start
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]), let start = UInt64(parts[parts.count - 1])
        else { return nil }
        self.init(host: parts.dropLast(2).joined(separator: ":"), pid: pid, start: start)
    }

    public var description: String { "\(host):\(pid):\(start)" }

    /// False only when this worker is certainly gone: it ran on this host and its process
    /// has exited (or become a zombie, or its pid now belongs to a newer process). Workers
    /// of other hosts are judged by their heartbeats instead.
    public var isCertainlyDead: Bool {
        guard host == ProcessInfo.processInfo.hostName else { return false }
        #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        let fields = Worker.fieldsAfterName(stat)
        // fields[0] is the state (field 3 of stat); the start time is field 22.
        if fields.first == "Z" || fields.first == "X" { return true }
        return fields.count > 19 && UInt64(fields[19]) != start
        #else
        return kill(pid, 0) != 0 && errno == ESRCH
        #endif
    }

    /// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
    static func startTime(of pid: Int32) -> UInt64? {
        #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        let fields = fieldsAfterName(stat)
        return fields.count > 19 ? UInt64(fields[19]) : nil
        #else
        return 0
        #endif
    }

    /// The fields after the command name, which is in parentheses and may hold spaces.
    private static func fieldsAfterName(_ stat: String) -> [Substring] {
        guard let close = stat.lastIndex(of: ")") else { return [] }
        return stat[stat.index(after: close)...].split(separator: " ")
    }
}

/// Stored as its text form, `host:pid:start`.
extension Worker: Codable, DatabaseValueConvertible {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let w = Worker(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a worker: \(text)"))
        }
        self = w
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public var databaseValue: DatabaseValue { description.databaseValue }

    public static func fromDatabaseValue(_ value: DatabaseValue) -> Worker? {
        String.fromDatabaseValue(value).flatMap(Worker.init)
    }
}
