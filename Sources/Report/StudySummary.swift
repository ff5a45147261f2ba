import Foundation
import Store

/// What the list of studies shows of each: its counts, its best, its pace, and whether workers hold leases now.
public struct StudySummary: Codable, Sendable {
    public var name: String
    public var created: Date
    public var queued: Int, running: Int, done: Int, failed: Int
    public var bestId: Int64?
    public var bestLoss: Double?
    /// Candidates made per hour between its first and its last (or now, while workers are active).
    public var perHour: Double?
    /// Whether any running candidate's lease beat within the last `activeWithin` seconds.
    public var active: Bool

    public static let activeWithin: Double = 300

    public static func read(_ store: Store, _ study: Study, now: Date = Date()) throws -> StudySummary {
        let c = try store.counts(study: study.id!), best = try store.best(study: study.id!)
        let active = try store.running(study: study.id!).contains { now.timeIntervalSince($0.heartbeat ?? .distantPast) < activeWithin }
        var perHour: Double?
        if let span = try store.madeBetween(study: study.id!) {
            let hours = (active ? now : span.upperBound).timeIntervalSince(span.lowerBound) / 3600
            let made = c.queued + c.running + c.done + c.failed
            if hours > 0, made > 1 { perHour = Double(made) / hours }
        }
        return StudySummary(name: study.name, created: study.created, queued: c.queued, running: c.running, done: c.done,
                            failed: c.failed, bestId: best?.id, bestLoss: best?.fitness, perHour: perHour, active: active)
    }
}

