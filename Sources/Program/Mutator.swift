import Foundation
import Primitives

/// The ways a child differs from its parent (Primer's list, plus model-level genes).
public enum MutationKind: String, CaseIterable, Codable, Sendable {
    /// A new instruction spliced into the dataflow: it reads a state, and readers of that
    /// state read it instead.
    case insert
    /// An instruction removed; its readers read one of its inputs of the same shape.
    case delete
    case deleteInsert = "delete_insert"
    /// An op replaced by another of its family, or an input by another state of its shape.
    case changeArgument = "change_argument"
    /// Two operands of the same shape trade places.
    case swap
    /// A constant c ← c·10^X + Y (X, Y ~ N(0, 1)), or a dim resampled.
    case changeConstant = "change_constant"
    case layers, width, heads, altup, router, experts

    /// The kinds that edit instructions; the rest edit genes.
    public static let structural: [MutationKind] = [.insert, .delete, .deleteInsert, .changeArgument, .swap, .changeConstant]
}

/// Makes one mutation per child, as Primer's search does: a kind drawn by weight, applied
/// at a random place where it fits (each kind knows from the op table and the parent's
/// shapes which edits keep the program valid); a child that still fails validation, or
/// computes what its parent computes (same canonical hash), is drawn again — first as the
/// same kind elsewhere, then as a fresh draw. Deterministic for a given generator state.
public struct Mutator: Sendable {
    public var ops: [Op]
    public var weights: [MutationKind: Double]
    public var dims: [Int]
    /// Model-level values to draw from.
    public var layerRange = 1...8
    public var widths = [64, 96, 128, 192, 256]
    public var headCounts = [1, 2, 4, 8]
    public var expertCounts = [2, 4, 8, 16, 32]
    /// Fresh draws of a kind before giving up on a parent.
    public var maxTries = 200
    /// Places tried for a drawn kind before drawing another.
    public var placesPerKind = 10

    public init(ops: [Op] = Op.allCases, weights: [MutationKind: Double]? = nil, dims: [Int] = Dims.vocabulary) {
        self.ops = ops
        self.dims = dims
        self.weights = weights ?? Dictionary(uniqueKeysWithValues: MutationKind.allCases.map {
            ($0, MutationKind.structural.contains($0) ? 1.0 : 0.0)
        })
    }

    public struct Child: Sendable {
        public let program: Program
        /// The kind that made it.
        public let kind: MutationKind
        /// The kind first drawn for this child (another, when that one found no place).
        public let drawn: MutationKind
        /// What changed, in words ("insert subprogram 0 s5 = SIN s3").
        public let description: String
    }

    public struct NoChild: Error, CustomStringConvertible {
        public let description: String
    }

    /// Per kind: how often it was drawn, found a valid edit, changed the program, and was
    /// turned down by the caller's test (a size constraint).
    public struct Stats: Sendable {
        public var drawn: [MutationKind: Int] = [:]
        public var applied: [MutationKind: Int] = [:]
        public var changed: [MutationKind: Int] = [:]
        public var rejected: [MutationKind: Int] = [:]
        public init() {}
    }

    /// A valid child with a canonical hash other than the parent's.
    public func mutate<R: RandomNumberGenerator>(_ parent: Program, using rng: inout R) throws -> Child {
        var stats = Stats()
        return try mutate(parent, using: &rng, stats: &stats)
    }

    /// A valid child, other than the parent, that `accept` takes; `stats` counts the draws.
    public func mutate<R: RandomNumberGenerator>(_ parent: Program, using rng: inout R, stats: inout Stats,
                                                 accept: (Program) -> Bool = { _ in true }) throws -> Child {
        let parentHash = parent.hash
        let kinds = MutationKind.allCases.filter { (weights[$0] ?? 0) > 0 }
        guard !kinds.isEmpty else { throw NoChild(description: "mutator: every mutation weight is zero") }
        let total = kinds.reduce(0) { $0 + weights[$1]! }
        var first: MutationKind?
        for _ in 0..<maxTries {
            var pick = Double.random(in: 0..<total, using: &rng), kind = kinds.last!
            for k in kinds { pick -= weights[k]!; if pick < 0 { kind = k; break } }
            first = first ?? kind
            stats.drawn[kind, default: 0] += 1
            for _ in 0..<placesPerKind {
                guard let (child, words) = apply(kind, to: parent, using: &rng), (try? child.validate()) != nil else { continue }
                stats.applied[kind, default: 0] += 1
                guard child.hash != parentHash else { continue }
                stats.changed[kind, default: 0] += 1
                guard accept(child) else { stats.rejected[kind, default: 0] += 1; continue }
                return Child(program: child, kind: kind, drawn: first!, description: "\(kind.rawValue) \(words)")
            }
        }
        throw NoChild(description: "mutator: no valid child of \(parent.name) in \(maxTries) draws")
    }

    /// One mutation of `kind`, or nil where it finds no place (deleting from an empty block).
    func apply<R: RandomNumberGenerator>(_ kind: MutationKind, to p: Program, using rng: inout R) -> (Program, String)? {
        if let edit = geneEdit(kind, p, &rng) { return edit }
        let k = Int.random(in: 0..<p.subprograms.count, using: &rng)
        guard let site = Site(p, k) else { return nil }
        let edit: ([Instruction], String)?
        switch kind {
        case .insert: edit = insert(site, &rng)
        case .delete: edit = delete(site, &rng)
        case .deleteInsert: edit = deleteInsert(site, p, &rng)
        case .changeArgument: edit = changeArgument(site, &rng)
        case .swap: edit = swap(site, &rng)
        case .changeConstant: edit = changeConstant(site, &rng)
        case .layers, .width, .heads, .altup, .router, .experts: edit = nil
        }
        guard let (body, words) = edit else { return nil }
        var child = p
        child.subprograms[k].instructions = body
        return (child, "subprogram \(k) \(words)")
    }

    /// The model-level kinds; nil for the kinds that edit instructions.
    func geneEdit<R: RandomNumberGenerator>(_ kind: MutationKind, _ p: Program, _ rng: inout R) -> (Program, String)? {
        var c = p
        switch kind {
        case .layers:
            c.genes.layers = Int.random(in: layerRange, using: &rng)
            return (c, "layers \(p.genes.layers) → \(c.genes.layers)")
        case .width:
            c.genes.dModel = widths.randomElement(using: &rng)!
            return (c, "d_model \(p.genes.dModel) → \(c.genes.dModel)")
        case .heads:
            c.genes.heads = headCounts.randomElement(using: &rng)!
            return (c, "heads \(p.genes.heads) → \(c.genes.heads)")
        case .altup:
            c.genes.altup = Int.random(in: 1...3, using: &rng)
            c.genes.altupMode = AltUpMode.allCases.randomElement(using: &rng)!
            return (c, "altup \(p.genes.altup) \(p.genes.altupMode.rawValue) → \(c.genes.altup) \(c.genes.altupMode.rawValue)")
        case .router:
            c.genes.router = Router.allCases.randomElement(using: &rng)!
            return (c, "router \(p.genes.router.rawValue) → \(c.genes.router.rawValue)")
        case .experts:
            c.genes.experts = expertCounts.randomElement(using: &rng)!
            c.genes.topk = min(c.genes.topk, c.genes.experts)
            return (c, "experts \(p.genes.experts) → \(c.genes.experts)")
        case .insert, .delete, .deleteInsert, .changeArgument, .swap, .changeConstant:
            return nil
        }
    }
}

/// A standard normal draw from any generator: the standard library's uniforms (the low 53
/// bits of a word, where `Xoshiro.uniform` takes the high ones) through Xoshiro's Box–Muller.
func normal<R: RandomNumberGenerator>(_ rng: inout R) -> Double {
    let u1 = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &rng)
    return Xoshiro.boxMuller(u1, Double.random(in: 0..<1, using: &rng))
}
