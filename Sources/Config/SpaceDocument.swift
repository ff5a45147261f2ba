import Foundation
import Program
import Training

/// A search-space file as written (`search-spaces/*.yaml`), every value typed and in range;
/// `SearchSpace` (in Search) builds the search from it: the seeds' programs, the mutator,
/// the budget, the size constraint, the objective.
public struct SpaceDocument: StrictMapping {
    public var name: String?
    /// Paths of the seed programs, relative to the file.
    public var seeds: [String]
    /// Genes that replace every seed's.
    public var genes: Genes?
    public var ops: [Op]?
    public var mutations: [MutationKind: Double] = [:]
    public var choices: Choices?
    public var population = 100, tournament = 10, hurdles = 0
    /// `{KIND: AMOUNT}`: one kind (Search knows them), a positive amount.
    public var budget: (kind: String, amount: Double)?
    public var constraint: Constraint?
    /// `objective: WORD` or `{WORD: AXIS}` (Search knows the words and axes).
    public var objective: (word: String, axis: String?)?
    public var selection: String?
    public var training: Recipe?
    public var seed: UInt64 = 1
    public var corpus: String?
    /// A prepared data folder (`evolve data prepare`) instead of a corpus.
    public var data: String?
    /// The rungs above rung 0 (the space's own genes and budget), smallest first.
    public var ladder: [Rung] = []
    /// The fraction of a rung's completed subjects that climb to the next: 0 < F ≤ 1.
    public var promote = 0.25
    /// Training seeds of each seed program's reference jobs at every rung above 0.
    public var referenceSeeds = 2
    /// Training seeds of a promoted candidate's jobs at every rung above 0.
    public var promotedSeeds = 1

    public enum Keys: String, CodingKey, CaseIterable {
        case name, seeds, genes, ops, mutations, choices, population, tournament, hurdles
        case budget, constraint, objective, selection, training, seed, corpus, data, ladder, promote
        case referenceSeeds = "reference_seeds", promotedSeeds = "promoted_seeds"
    }

    /// The forms `objective:` takes, for the refusal of any other.
    public static let objectives = "objective: loss, pareto, or {pareto: flops_per_token | params}"

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        seeds = try c.value([String].self, .seeds, else: "seeds: a list of program files is needed") ?? []
        guard !seeds.isEmpty else { throw FileProblem(c.codingPath, "seeds: a list of program files is needed") }
        genes = try c.value(Strict<Genes>.self, .genes, else: "genes: not valid genes")?.value
        ops = try c.decodeIfPresent([String].self, forKey: .ops)?.map { name in
            guard let op = Op(rawValue: name) else { throw FileProblem(c.codingPath, "ops: unknown op '\(name)'") }
            return op
        }
        mutations = try Self.weights(c)
        choices = try c.mapping(Choices.self, .choices)
        population = try c.integer(.population, 100, in: 1...1_000_000)
        tournament = try c.integer(.tournament, 10, in: 1...1_000_000)
        hurdles = try c.integer(.hurdles, 0, in: 0...16)
        seed = UInt64(try c.integer(.seed, 1, in: 0...Int.max))
        budget = try Self.budget(c)
        constraint = try c.value(Strict<Constraint>.self, .constraint, else: Constraint.form)?.value
        objective = try Self.objective(c)
        selection = try c.decodeIfPresent(String.self, forKey: .selection)
        training = try c.mapping(Recipe.self, .training)
        corpus = try c.value(String.self, .corpus, else: "corpus: a path to a text file")
        data = try c.value(String.self, .data, else: "data: a path to a prepared data folder")
        if corpus != nil && data != nil { throw FileProblem(c.codingPath, "corpus: and data: name two texts; give one") }
        ladder = try c.value([Strict<Rung>].self, .ladder, else: Rung.form)?.map(\.value) ?? []
        let why = "promote must be a number F with 0 < F ≤ 1 (the fraction of a rung that climbs)"
        if let f = try c.value(Double.self, .promote, else: why) {
            guard f > 0, f <= 1 else { throw FileProblem(c.codingPath, why) }
            promote = f
        }
        if c.contains(.promote) && ladder.isEmpty { throw FileProblem(c.codingPath, "promote: needs a ladder: to climb") }
        referenceSeeds = try c.integer(.referenceSeeds, 2, in: 1...16)
        if c.contains(.referenceSeeds) && ladder.isEmpty { throw FileProblem(c.codingPath, "reference_seeds: needs a ladder: (the seeds' jobs at its rungs)") }
        promotedSeeds = try c.integer(.promotedSeeds, 1, in: 1...16)
        if c.contains(.promotedSeeds) && ladder.isEmpty { throw FileProblem(c.codingPath, "promoted_seeds: needs a ladder: (a promoted candidate's jobs at its rungs)") }
    }

    /// `mutations: {KIND: WEIGHT}`, each kind a mutation's, each weight in [0, 1e6].
    static func weights(_ c: KeyedDecodingContainer<Keys>) throws -> [MutationKind: Double] {
        guard c.contains(.mutations), !(try c.decodeNil(forKey: .mutations)) else { return [:] }
        let m = try c.nestedContainer(keyedBy: AnyKey.self, forKey: .mutations)
        var weights = [MutationKind: Double]()
        for key in m.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            guard let kind = MutationKind(rawValue: key.stringValue) else {
                let known = MutationKind.allCases.map(\.rawValue).joined(separator: ", ")
                throw FileProblem(c.codingPath, "mutations: unknown kind '\(key.stringValue)' (known: \(known))")
            }
            let why = "mutations: \(key.stringValue) needs a weight from 0 to 1e6"
            guard let w = try? m.decode(Double.self, forKey: key), w >= 0, w <= 1e6 else { throw FileProblem(c.codingPath, why) }
            weights[kind] = w
        }
        return weights
    }

    /// `budget: {KIND: AMOUNT}`: one kind, a positive amount.
    static func budget<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> (kind: String, amount: Double)? {
        let why = "budget: one of {steps: N}, {tokens: N}, {flops: N}, {seconds: N}, with N > 0"
        guard let b = try c.value([String: Double].self, key, else: why) else { return nil }
        guard b.count == 1, let (kind, amount) = b.first, amount > 0 else { throw FileProblem(c.codingPath, why) }
        return (kind, amount)
    }

    static func budget(_ c: KeyedDecodingContainer<Keys>) throws -> (kind: String, amount: Double)? { try budget(c, .budget) }

    /// `objective: WORD` or `{WORD: AXIS}`.
    static func objective(_ c: KeyedDecodingContainer<Keys>) throws -> (word: String, axis: String?)? {
        guard c.contains(.objective) else { return nil }
        if let word = try? c.decode(String.self, forKey: .objective) { return (word, nil) }
        guard let m = try? c.decode([String: String].self, forKey: .objective), m.count == 1, let (word, axis) = m.first else {
            throw FileProblem(c.codingPath, objectives)
        }
        return (word, axis)
    }

    /// One rung of `ladder:`: the genes it sets (over those of the rung below) and the budget
    /// of a job at it; Search checks that it is larger than the rung below.
    public struct Rung: StrictMapping {
        public var dModel, layers, heads, context: Int?
        public var budget: (kind: String, amount: Double)

        public enum Keys: String, CodingKey, CaseIterable {
            case dModel = "d_model", layers, heads, context, budget
        }

        static let form = "ladder: a list of rungs, each {d_model, layers, heads, context (those it changes), budget: {KIND: N}}"

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            func gene(_ key: Keys) throws -> Int? {
                let why = "\(key.stringValue) must be a positive integer"
                guard let n = try c.value(Int.self, key, else: why) else { return nil }
                guard n >= 1 else { throw FileProblem(c.codingPath, why) }
                return n
            }
            (dModel, layers, heads, context) = (try gene(.dModel), try gene(.layers), try gene(.heads), try gene(.context))
            guard let b = try SpaceDocument.budget(c, .budget) else {
                throw FileProblem(c.codingPath, "budget: every rung needs its own, e.g. {steps: 400}")
            }
            budget = b
        }
    }

    /// `choices:`: the values model-level mutations draw from.
    public struct Choices: StrictMapping {
        public var dims, widths, heads, experts: [Int]?
        /// `[fewest, most]`.
        public var layers: ClosedRange<Int>?

        public enum Keys: String, CodingKey, CaseIterable { case dims, widths, heads, experts, layers }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            func list(_ key: Keys) throws -> [Int]? {
                let why = "\(key.stringValue) must be a list of positive integers"
                guard let l = try c.value([Int].self, key, else: why) else { return nil }
                guard !l.isEmpty, l.allSatisfy({ $0 >= 1 }) else { throw FileProblem(c.codingPath, why) }
                return l
            }
            dims = try list(.dims)
            for x in dims ?? [] where !Dims.vocabulary.contains(x) {
                throw FileProblem(c.codingPath, "dim \(x) is not one of \(Dims.vocabulary.map(String.init).joined(separator: ", "))")
            }
            (widths, heads, experts) = (try list(.widths), try list(.heads), try list(.experts))
            if let l = try list(.layers) {
                guard l.count == 2, l[0] <= l[1] else { throw FileProblem(c.codingPath, "layers is [fewest, most]") }
                layers = l[0]...l[1]
            }
        }
    }

    /// `constraint: {flops_per_token: [LOW, HIGH], params: [LOW, HIGH]}`: fractions of the
    /// first seed's FLOPs per token and parameters, with 0 < LOW ≤ 1 ≤ HIGH.
    public struct Constraint: StrictMapping {
        public var flopsPerToken, parameters: ClosedRange<Double>?

        public enum Keys: String, CodingKey, CaseIterable {
            case flopsPerToken = "flops_per_token", params
        }

        static let form = "constraint: expected {flops_per_token: [LOW, HIGH], params: [LOW, HIGH]}"

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            guard !c.allKeys.isEmpty else { throw FileProblem(decoder.codingPath.dropLast(), Constraint.form) }
            func range(_ key: Keys) throws -> ClosedRange<Double>? {
                let why = "\(key.stringValue) is [LOW, HIGH] with 0 < LOW ≤ 1 ≤ HIGH (fractions of the seed's)"
                guard let l = try c.value([Double].self, key, else: why) else { return nil }
                guard l.count == 2, l[0] > 0, l[0] <= 1, l[1] >= 1 else { throw FileProblem(c.codingPath, why) }
                return l[0]...l[1]
            }
            (flopsPerToken, parameters) = (try range(.flopsPerToken), try range(.params))
        }
    }
}
