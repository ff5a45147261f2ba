import Foundation
import Config
import Program
import Store
import Training

/// What a candidate may spend on training. Every kind resolves to a number of steps (the
/// length of its learning-rate schedule): steps as given; tokens and FLOPs divided by what a
/// step of that program costs; seconds by a timed step, as Primer's fixed-time budget —
/// which rewards faster programs and is not repeatable on a noisy machine.
public enum Budget: Sendable, Equatable, CustomStringConvertible {
    case steps(Int), tokens(Int), flops(Double), seconds(Double)

    /// Steps for a program whose step processes `tokensPerStep` tokens at `flopsPerToken`
    /// (forward; training is about 3x that), taking `secondsPerStep()` when timed.
    public func steps(tokensPerStep: Int, flopsPerToken: Int, secondsPerStep: () -> Double) -> Int {
        switch self {
        case .steps(let n): return n
        case .tokens(let n): return max(1, n / tokensPerStep)
        case .flops(let f): return Budget.steps(f / (3 * Double(flopsPerToken) * Double(tokensPerStep)))
        case .seconds(let s): return Budget.steps(s / max(secondsPerStep(), 1e-9))
        }
    }

    /// A step count from a real number: at least 1, at most a billion.
    static func steps(_ x: Double) -> Int { Int(min(max(x, 1), 1e9)) }

    public var description: String {
        switch self {
        case .steps(let n): return "\(n) steps"
        case .tokens(let n): return "\(n) tokens"
        case .flops(let f): return String(format: "%.3g FLOPs", f)
        case .seconds(let s): return String(format: "%gs", s)
        }
    }
}

/// Bounds on a child's size relative to its seed: FLOPs per token and parameters as
/// fractions of the seed's. A child outside them is drawn again (Primer's question: a
/// better block at the same size, not a smaller model trained longer).
public struct SizeConstraint: Sendable, Equatable {
    public var flopsPerToken: ClosedRange<Double>?
    public var parameters: ClosedRange<Double>?

    /// Whether `child` is inside the bounds around `seed` (nil: it does not validate).
    public func admits(_ child: Program, seed: Program, vocabulary: Int) -> Bool {
        guard let c = try? child.cost(vocabulary: vocabulary), let s = try? seed.cost(vocabulary: vocabulary) else { return false }
        let flops = Double(c.flopsPerToken) / Double(s.flopsPerToken), params = Double(c.parameters) / Double(s.parameters)
        return (flopsPerToken?.contains(flops) ?? true) && (parameters?.contains(params) ?? true)
    }
}

/// A search-space file (YAML): the seeds, what mutations may do, the population and
/// tournament sizes, the hurdles, the size constraint and the training budget of a candidate.
public struct SearchSpace: Sendable {
    public var name: String
    public var seeds: [Program]
    public var mutator: Mutator
    public var population: Int
    public var tournament: Int
    public var hurdles: Int
    /// The training budget of a candidate that passes every hurdle.
    public var budget: Budget
    /// Children must stay within these bounds of the first seed's size (nil: any size).
    public var constraint: SizeConstraint?
    /// What tournaments rank by, and how parents are chosen.
    public var objective = Objective.loss
    public var selection = Selection.tournament
    public var recipe: Recipe
    public var seed: UInt64
    /// The corpus the file names (relative paths from the file's folder); nil: the default.
    public var corpus: String?
    /// The prepared data folder the file names instead (`data:`), relative paths likewise.
    public var data: String?
    /// The file's text, stored with the study.
    public var text: String
    /// The rungs above rung 0 (`SearchSpace+Ladder.swift`); empty: every candidate is judged at one size.
    public var ladder: [Rung] = []
    /// The fraction of a rung's completed subjects that climb to the next one.
    public var promote = 0.25
    /// Training seeds of each seed program's reference jobs at every rung above 0: the
    /// baseline a gain there is measured against, with its spread (`reference_seeds:`).
    public var referenceSeeds = 2
    /// Training seeds of a promoted candidate's jobs at every rung above 0 (`promoted_seeds:`,
    /// default 1): with more, its standing there is their mean and its spread is known, so
    /// one lucky training seed does not decide a climb.
    public var promotedSeeds = 1

    public static func load(path: String) throws -> SearchSpace {
        let text: String
        do { text = try TextFile.read(path) } catch { throw SearchError("\(error)") }
        return try parse(text, path: path)
    }

    /// A space file's text; `path` names it in errors and anchors its relative paths.
    /// `seeds`, if given, are the seed programs' texts (a study's), read instead of the files.
    public static func parse(_ text: String, path: String, seeds given: [String]? = nil) throws -> SearchSpace {
        let file = try SpaceFile(document: YAMLFile.decode(SpaceDocument.self, from: text, file: path), path: path)
        let d = file.document
        guard d.tournament <= d.population else { throw file.fail("tournament \(d.tournament) is larger than population \(d.population)") }
        let recipe = d.training ?? Recipe()
        try recipe.check(file: path)
        let name = d.name ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        guard SearchSpace.isName(name) else { throw file.fail("name '\(name)' must be one word of letters, digits, '.', '-' and '_'") }
        var space = SearchSpace(
            name: name, seeds: try file.seeds(given), mutator: file.mutator(), population: d.population, tournament: d.tournament,
            hurdles: d.hurdles, budget: try file.budget(),
            constraint: d.constraint.map { SizeConstraint(flopsPerToken: $0.flopsPerToken, parameters: $0.parameters) },
            recipe: recipe, seed: d.seed, corpus: d.corpus.map { $0.hasPrefix("/") ? $0 : file.dir.appendingPathComponent($0).path },
            text: text)
        space.data = d.data.map { $0.hasPrefix("/") ? $0 : file.dir.appendingPathComponent($0).path }
        space.objective = try file.objective()
        space.selection = try file.selection()
        space.ladder = try file.ladder(seeds: space.seeds)
        space.promote = d.promote
        space.referenceSeeds = d.referenceSeeds
        space.promotedSeeds = d.promotedSeeds
        return space
    }

    /// Whether a child is inside the space's size constraint (always, without one).
    public func admits(_ child: Program, vocabulary: Int) -> Bool {
        constraint?.admits(child, seed: seeds[0], vocabulary: vocabulary) ?? true
    }

    /// Whether a study name is one word (it names files and programs).
    public static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 100 && s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
    }

    /// Refuses to resume `study` from this space on `corpus` unless both are what it started
    /// with: the space file's keys and values (comments and layout may differ), and the
    /// corpus's sha256. The error says what differs and how to start another study instead.
    public func checkResumes(_ study: Study, corpus: Dataset) throws {
        let how = "resume with what it started with, or start another with --force-new-study NAME or a new --db"
        let differing = YAMLFile.differingKeys(study.space, text)
        guard differing.isEmpty else {
            throw SearchError("study \(study.name) was started from another version of its space file (\(differing.joined(separator: ", ")) differ); \(how)")
        }
        if let started = study.corpusSha256, let now = corpus.sha256, started != now {
            throw SearchError("study \(study.name) trains on the corpus with sha256 \(started.prefix(12))… (\(study.corpusPath ?? "path unknown")); "
                              + "\(corpus.path ?? "this corpus") has \(now.prefix(12))…; \(how)")
        }
    }

    /// The training recipe of a space file's text (as a study stores it).
    public static func recipe(text: String) throws -> Recipe {
        let file = "the study's space"
        let recipe = try YAMLFile.decode(SpaceDocument.self, from: text, file: file).training ?? Recipe()
        try recipe.check(file: file)
        return recipe
    }

    /// Steps at the end of each band of a `steps`-step schedule: with H hurdles, band widths
    /// double, cut points at 1, 3, 7, … of 2^(H+1) − 1 units of the full budget.
    public func bandEnds(steps: Int) -> [Int] {
        let units = (1 << (hurdles + 1)) - 1
        return (0...hurdles).map { max(1, steps * ((1 << ($0 + 1)) - 1) / units) }
    }
}

public struct SearchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = oneLine(description) }
}

/// A space file's document being turned into a search, and a one-line error naming the file.
struct SpaceFile {
    let document: SpaceDocument
    let path: String
    var dir: URL { URL(fileURLWithPath: path).deletingLastPathComponent() }

    func fail(_ why: String) -> SearchError { SearchError("\(path): \(why)") }

    /// The seed programs (paths relative to the file, or the texts a study keeps), with the
    /// file's `genes:` if any.
    func seeds(_ given: [String]?) throws -> [Program] {
        let paths = document.seeds
        var seeds: [Program]
        if let given {
            guard given.count == paths.count else { throw fail("the study keeps \(given.count) seed(s); its space names \(paths.count)") }
            seeds = try given.map { try Program(text: $0) }
        } else {
            seeds = try paths.map { try Program.load(path: $0.hasPrefix("/") ? $0 : dir.appendingPathComponent($0).path) }
        }
        guard let genes = document.genes else { return seeds }
        for i in seeds.indices {
            seeds[i].genes = genes
            do { try seeds[i].validate() } catch { throw fail("seed \(seeds[i].name) with these genes: \(error)") }
        }
        return seeds
    }

    /// `ops`, `mutations` (kind: weight) and `choices` (dims, widths, heads, experts, layers).
    func mutator() -> Mutator {
        var m = Mutator()
        if let ops = document.ops { m.ops = ops }
        for (kind, weight) in document.mutations { m.weights[kind] = weight }
        guard let c = document.choices else { return m }
        m.dims = c.dims ?? m.dims
        m.widths = c.widths ?? m.widths
        m.headCounts = c.heads ?? m.headCounts
        m.expertCounts = c.experts ?? m.expertCounts
        m.layerRange = c.layers ?? m.layerRange
        return m
    }

    func budget() throws -> Budget {
        guard let b = document.budget else { return .steps(2000) }
        return try budget(b, key: "budget")
    }

    /// A budget as the file writes it (`key` names it in errors).
    func budget(_ b: (kind: String, amount: Double), key: String) throws -> Budget {
        let (kind, x) = b
        // The largest budget of each kind: far beyond any search, and an Int either way.
        let most: [String: Double] = ["steps": 1e9, "tokens": 1e15, "flops": 1e24, "seconds": 1e7]
        guard let top = most[kind] else { throw fail("\(key): unknown kind '\(kind)' (known: flops, seconds, steps, tokens)") }
        guard x <= top else { throw fail("\(key): \(kind) \(x) is above the most evolve accepts (\(top))") }
        if kind == "steps" || kind == "tokens" {
            guard x == x.rounded(), x >= 1 else { throw fail("\(key): \(kind) must be a whole number ≥ 1, found \(x)") }
        }
        switch kind {
        case "steps": return .steps(Int(x))
        case "tokens": return .tokens(Int(x))
        case "flops": return .flops(x)
        default: return .seconds(x)
        }
    }

    /// `objective: loss` (the default), `pareto` (loss and FLOPs per token), or
    /// `{pareto: flops_per_token}` / `{pareto: params}`.
    func objective() throws -> Objective {
        let axis = document.objective?.axis.map(Objective.CostAxis.init(rawValue:))
        switch (document.objective?.word, axis) {
        case (nil, _), ("loss"?, nil): return .loss
        case ("pareto"?, nil): return .pareto(.flopsPerToken)
        case ("pareto"?, let named??): return .pareto(named)
        default: throw fail(SpaceDocument.objectives)
        }
    }

    /// `selection: tournament` (the default) or `random` (children of the seeds, no selection).
    func selection() throws -> Selection {
        guard let name = document.selection else { return .tournament }
        guard let s = Selection(rawValue: name) else { throw fail("selection: tournament or random") }
        return s
    }
}
