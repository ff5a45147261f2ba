import Foundation
import Primitives

/// A subject's result at one rung of a ladder of scales: at rung 0 the candidate's own; above
/// it, that of its rung jobs there (one for a promoted candidate, several training seeds for
/// a seed's reference jobs), counted once all of them have finished.
public struct Standing: Sendable, Equatable {
    /// The rung-0 candidate it measures.
    public var subject: Int64
    public var rung: Int
    /// Each job's loss; +inf for one that failed or ended on a loss that is not finite.
    public var losses: [Double]
    /// Each job's loss in bits per byte, where recorded.
    public var bits: [Double]
    /// The rows it was measured by (the candidate itself at rung 0).
    public var jobs: [Int64]
    /// Whether those are a seed's reference jobs (the baseline, not a climb on merit).
    public var isReference = false

    /// The mean loss; +inf where any job failed (a failure ranks behind every result).
    public var loss: Double {
        losses.allSatisfy(\.isFinite) ? losses.reduce(0, +) / Double(max(losses.count, 1)) : .infinity
    }

    /// The jobs' sample standard deviation (0 for one job): the spread of training seeds.
    public var spread: Double {
        guard losses.count > 1, loss.isFinite else { return 0 }
        let m = loss
        return (losses.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(losses.count - 1)).squareRoot()
    }

    public var bitsPerByte: Double? {
        bits.count == losses.count && !bits.isEmpty && loss.isFinite ? bits.reduce(0, +) / Double(bits.count) : nil
    }
}

/// The rules of the ladder, over candidate rows alone, so that every engine applies them
/// the same way inside its completion transaction (`Store.complete(_:lease:_:promoting:)`).
public enum Ladder {
    /// The mutation kinds of rung jobs: a candidate trained at a higher rung, and the seeds'
    /// reference jobs (the baseline a gain is measured against).
    public static let promote = "promote", reference = "reference"

    /// Whether a rung-0 row is one of the study's seeds (made first, no parent).
    public static func isSeed(_ c: Candidate) -> Bool { c.rung == 0 && c.generation == 0 && c.parentId == nil }

    /// The finished standings at `rung` among `rows`. At rung 0, a candidate that took a twin's
    /// result is left out unless `twins`: it is the twin's program, which climbs for both.
    public static func standings(_ rows: [Candidate], rung: Int, twins: Bool = false) -> [Standing] {
        func loss(_ c: Candidate) -> Double { c.fitness ?? .infinity }
        if rung == 0 {
            return rows.filter { $0.rung == 0 && $0.completion != nil && (twins || $0.reusedFrom == nil) }.map {
                Standing(subject: $0.id!, rung: 0, losses: [loss($0)], bits: $0.bitsPerByte.map { [$0] } ?? [], jobs: [$0.id!])
            }
        }
        let groups = Dictionary(grouping: rows.filter { $0.rung == rung && $0.subject != nil }, by: { $0.subject! })
        return groups.filter { $0.value.allSatisfy { $0.completion != nil } }.sorted { $0.key < $1.key }.map { subject, jobs in
            let jobs = jobs.sorted { $0.id! < $1.id! }
            return Standing(subject: subject, rung: rung, losses: jobs.map(loss), bits: jobs.compactMap(\.bitsPerByte), jobs: jobs.map { $0.id! },
                            isReference: jobs.contains { $0.mutationKind == reference })
        }
    }

    /// The subjects a completion at `rung` sends to the next one, in the order their jobs
    /// are queued (ASHA's rule, asynchronous): of the n subjects finished at `rung` (failures
    /// counted, as the worst), those in the best ⌈fraction × n⌉ by loss that finished with a
    /// finite loss and have no job at the next rung yet. Where any climbs, every seed without
    /// a job there comes first: its reference jobs are what the climbers' gains are measured
    /// against, so a rung's baseline is queued on the first need of it, once per study.
    public static func climbers(_ rows: [Candidate], from rung: Int, fraction: Double) -> [Int64] {
        let ranked = standings(rows, rung: rung).sorted { ($0.loss, $0.subject) < ($1.loss, $1.subject) }
        let top = Int((fraction * Double(ranked.count)).rounded(.up))
        let above = Set(rows.filter { $0.rung == rung + 1 }.compactMap(\.subject))
        let climbing = ranked.prefix(top).filter { $0.loss.isFinite && !above.contains($0.subject) }.map(\.subject)
        guard !climbing.isEmpty else { return [] }
        let seeds = rows.filter(isSeed).map { $0.id! }.filter { !above.contains($0) }
        return seeds + climbing.filter { !seeds.contains($0) }
    }
}

/// What a completion sends up the ladder: `Ladder.climbers` of its rung, each given the jobs
/// `jobs` makes for it, queued in the completion's own transaction (a result and the
/// promotions it causes are written together, or neither is).
public struct Promotion {
    public var fraction: Double
    /// The highest rung: nothing climbs from it.
    public var top: Int
    /// The rows that train `subject` at `rung`: one promoted job, or a seed's reference jobs.
    public var jobs: (_ subject: Candidate, _ rung: Int) -> [Candidate]

    public init(fraction: Double, top: Int, jobs: @escaping (_ subject: Candidate, _ rung: Int) -> [Candidate]) {
        self.fraction = fraction; self.top = top; self.jobs = jobs
    }
}

/// A study's ladder as its rows stand: every subject's standing at every rung it reached,
/// and gains against the seed's (the study's first candidate) at the same rung.
public struct LadderResults: Sendable {
    /// Standings by subject, then rung.
    public let standings: [Int64: [Int: Standing]]
    /// The study's first seed, whose standing at each rung is the reference there.
    public let seed: Int64?
    /// Rungs that hold any row (1: no ladder, or nothing climbed yet).
    public let rungs: Int
    /// The candidate whose result each twin took: a twin climbs with it.
    let twins: [Int64: Int64]
    /// Each row's validation losses by band, where they were read (`Store.ladder(study:curves:)`).
    let evaluations: [Int64: [Evaluation]]

    /// From the study's rung-0 candidates and its rung jobs, and, for compute speedups, their evaluations.
    public init(candidates: [Candidate], jobs: [Candidate], evaluations: [Int64: [Evaluation]] = [:]) {
        self.evaluations = evaluations
        let rows = candidates + jobs
        rungs = (rows.map(\.rung).max() ?? 0) + 1
        var all = [Int64: [Int: Standing]]()
        for rung in 0..<rungs { for s in Ladder.standings(rows, rung: rung, twins: true) { all[s.subject, default: [:]][rung] = s } }
        standings = all
        twins = Dictionary(candidates.compactMap { c in c.reusedFrom.map { (c.id!, $0) } }, uniquingKeysWith: { a, _ in a })
        seed = candidates.filter(Ladder.isSeed).map { $0.id! }.min()
    }

    public func standing(_ subject: Int64, rung: Int) -> Standing? { standings[subject]?[rung] }

    /// The seed's standing at `rung`: its own loss at rung 0, its reference jobs' above.
    public func reference(rung: Int) -> Standing? { seed.flatMap { standing($0, rung: rung) } }

    /// The subject's gain at `rung`: the reference's mean loss minus its own (positive: better).
    public func gain(_ subject: Int64, rung: Int) -> Double? {
        guard let s = standing(subject, rung: rung), let r = reference(rung: rung), s.loss.isFinite, r.loss.isFinite else { return nil }
        return r.loss - s.loss
    }

    /// The subject's compute speedup over the seed at `rung` (`ComputeSpeedup.of`): read off
    /// its jobs' mean validation curve there and the reference's, in training FLOPs. Nil for the
    /// seed, without evaluations, or where either did not train the rung's whole budget with
    /// at least two checkpoints (a candidate a hurdle stopped; a rung job recorded, before
    /// rung jobs kept a curve, at its end only).
    public func speedup(_ subject: Int64, rung: Int) -> Double? {
        guard subject != seed, let s = standing(subject, rung: rung), let r = reference(rung: rung),
              let mine = curve(s), let theirs = curve(r), mine.steps == theirs.steps else { return nil }
        return ComputeSpeedup.of(mine.curve, over: theirs.curve)
    }

    /// A standing's mean validation curve over its jobs (forward FLOPs so far, loss) and the
    /// steps it ends at; nil where its jobs' checkpoints differ or there are fewer than two.
    func curve(_ s: Standing) -> (curve: ComputeSpeedup.Curve, steps: Int)? {
        let runs = s.jobs.map { evaluations[$0] ?? [] }
        guard let last = runs.first?.last, runs.allSatisfy({ $0.count >= 2 && $0.allSatisfy { $0.loss?.isFinite ?? false } }),
              let mean = ComputeSpeedup.mean(runs.map { $0.map { (Double($0.tokens) * Double($0.flopsPerToken), $0.loss!) } })
        else { return nil }
        return (mean, last.steps)
    }

    /// The subject with the largest gain at `rung` (the seed aside; the lower id on a tie), and that gain.
    public func best(rung: Int) -> (subject: Int64, gain: Double)? {
        standings.keys.filter { $0 != seed }.compactMap { s in gain(s, rung: rung).map { (subject: s, gain: $0) } }
            .max { ($0.gain, -$0.subject) < ($1.gain, -$1.subject) }
    }

    /// The highest rung where the subject finished with a finite loss, and that loss. A seed's
    /// reference jobs are the baseline of their rung, not a climb: they do not count.
    /// A twin reaches what the candidate whose result it took reached.
    public func reach(_ subject: Int64) -> (rung: Int, loss: Double)? {
        let above = twins[subject].flatMap { standings[$0]?.values.filter { $0.rung > 0 } } ?? []
        guard let s = ((standings[subject].map { Array($0.values) } ?? []) + above).filter({ $0.loss.isFinite && !$0.isReference })
            .max(by: { $0.rung < $1.rung }) else { return nil }
        return (s.rung, s.loss)
    }
}
