import Foundation

/// One checkable statement of a seed paper about two of a reproduction's variants, and its
/// verdict on measured runs. A loss difference counts only when it exceeds the seed-to-seed
/// spread (the larger of the two variants' standard deviations), the rule the tables use.
public struct Claim: Sendable {
    public enum Relation: Sendable {
        /// `a`'s validation loss is lower than `b`'s.
        case lower
        /// `a` is not worse than `b` (lower, or within the spread).
        case notWorse
        /// `a` holds fewer parameters than `b`.
        case fewerParameters
    }
    public enum Budget: String, Sendable { case equalSteps = "equal steps", equalTime = "equal time" }

    public let a: String, relation: Relation, b: String, budget: Budget

    public static func lower(_ a: String, than b: String, at budget: Budget = .equalSteps) -> Claim {
        Claim(a: a, relation: .lower, b: b, budget: budget)
    }
    public static func notWorse(_ a: String, than b: String, at budget: Budget = .equalSteps) -> Claim {
        Claim(a: a, relation: .notWorse, b: b, budget: budget)
    }
    public static func fewerParameters(_ a: String, than b: String) -> Claim {
        Claim(a: a, relation: .fewerParameters, b: b, budget: .equalSteps)
    }

    public var statement: String {
        switch relation {
        case .lower: "\(a) reaches a lower loss than \(b) (\(budget.rawValue))"
        case .notWorse: "\(a) is no worse than \(b) (\(budget.rawValue))"
        case .fewerParameters: "\(a) has fewer parameters than \(b)"
        }
    }

    public enum Outcome: String, Sendable {
        case reproduces = "reproduces"
        case unresolved = "not resolved (within spread)"
        case contradicted = "does not reproduce"
    }

    public struct Verdict: Sendable {
        public let outcome: Outcome
        /// The numbers behind it: "−0.0312 (spread 0.0104)" or "41% of the parameters".
        public let evidence: String
    }

    /// The verdict on `runs` of one budget, variants named by `labels`; nil when a label is
    /// not among them.
    public func verdict(labels: [String], runs: [Reproduction.Run]) -> Verdict? {
        guard let i = labels.firstIndex(of: a), let j = labels.firstIndex(of: b) else { return nil }
        let mine = runs.filter { $0.variant == i }, theirs = runs.filter { $0.variant == j }
        guard let p = mine.first?.parameters, let q = theirs.first?.parameters else { return nil }
        if relation == .fewerParameters {
            return Verdict(outcome: p < q ? .reproduces : .contradicted,
                           evidence: String(format: "%d vs %d (%.0f%%)", p, q, 100 * Double(p) / Double(q)))
        }
        let (d, spread, beyond) = Claim.pairedDifference(mine, theirs)
        let evidence = mine.count > 1 ? String(format: "%+.4f (spread %.4f)", d, spread) : String(format: "%+.4f (one seed: no spread)", d)
        let outcome: Outcome
        switch relation {
        case .lower: outcome = !beyond ? .unresolved : d < 0 ? .reproduces : .contradicted
        default: outcome = beyond && d > 0 ? .contradicted : .reproduces
        }
        return Verdict(outcome: outcome, evidence: evidence)
    }

    /// The mean over shared seeds of `a`'s loss minus `b`'s, the larger of the two variants'
    /// seed-to-seed standard deviations, and whether the difference exceeds it (never with
    /// one seed, which has no spread).
    public static func pairedDifference(_ a: [Reproduction.Run], _ b: [Reproduction.Run])
        -> (difference: Double, spread: Double, beyondSpread: Bool) {
        let diffs = a.compactMap { r in b.first { $0.seed == r.seed }.map { r.valLoss - $0.valLoss } }
        let d = Statistics.mean(diffs)
        let spread = max(Statistics.std(a.map(\.valLoss)), Statistics.std(b.map(\.valLoss)))
        return (d, spread, abs(d) > spread && a.count > 1)
    }
}
