import Foundation
import Config
import Program
import Store
import Training
import Yams

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
    /// The file's text, stored with the study.
    public var text: String

    static let keys = ["name", "seeds", "genes", "ops", "mutations", "choices", "population", "tournament", "hurdles",
                       "budget", "constraint", "objective", "selection", "training", "seed", "corpus"]

    public static func load(path: String) throws -> SearchSpace {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw SearchError("\(path): cannot read the file") }
        return try parse(text, path: path)
    }

    /// A space file's text; `path` names it in errors and anchors its relative paths.
    /// `seeds`, if given, are the seed programs' texts (a study's), read instead of the files.
    public static func parse(_ text: String, path: String, seeds given: [String]? = nil) throws -> SearchSpace {
        var file = try SpaceFile(text: text, path: path)
        file.givenSeeds = given
        try file.checkKeys(file.root, keys, "")
        let population = try file.int("population", 100), tournament = try file.int("tournament", 10)
        guard tournament <= population else { throw file.fail("tournament \(tournament) is larger than population \(population)") }
        let recipe: Recipe
        do { recipe = try SearchSpace.recipe(file.root["training"], file: path) } catch { throw file.fail("\(error)") }
        let name = (file.root["name"] as? String) ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        guard SearchSpace.isName(name) else { throw file.fail("name '\(name)' must be one word of letters, digits, '.', '-' and '_'") }
        var space = SearchSpace(
            name: name,
            seeds: try file.seeds(), mutator: try file.mutator(), population: population, tournament: tournament,
            hurdles: try file.int("hurdles", 0, min: 0, max: 16), budget: try file.budget(), constraint: try file.constraint(),
            recipe: recipe, seed: UInt64(try file.int("seed", 1, min: 0, max: Int.max)), corpus: try file.corpus(), text: file.text)
        space.objective = try file.objective()
        space.selection = try file.selection()
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
        let differing = SpaceFile.differingKeys(study.space, text)
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
        try recipe((try Yams.load(yaml: text) as? [String: Any])?["training"], file: "the study's space")
    }

    static func recipe(_ training: Any?, file: String) throws -> Recipe {
        guard let training else { return Recipe() }
        return try TrainConfig.parse(try Yams.dump(object: ["training": training]), file: file).recipe
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

/// A space file being read: its YAML root, and a one-line error naming the file.
struct SpaceFile {
    let path: String
    let text: String
    let root: [String: Any]
    /// The seeds' texts, where they come from a study rather than from files.
    var givenSeeds: [String]?
    var dir: URL { URL(fileURLWithPath: path).deletingLastPathComponent() }

    init(text: String, path: String) throws {
        self.path = path
        self.text = text
        let node: Any?
        do { node = try Yams.load(yaml: text) } catch {
            throw SearchError("\(path): not valid YAML: \("\(error)".split(separator: "\n").first ?? "")")
        }
        guard let root = node as? [String: Any] else { throw SearchError("\(path): expected a mapping") }
        self.root = root
    }

    func fail(_ why: String) -> SearchError { SearchError("\(path): \(why)") }

    func checkKeys(_ map: [String: Any], _ known: [String], _ place: String) throws {
        for key in map.keys.sorted() where !known.contains(key) {
            throw fail("\(place)unknown key '\(key)' (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    func int(_ key: String, _ fallback: Int, min: Int = 1, max: Int = 1_000_000) throws -> Int {
        guard let v = root[key] else { return fallback }
        guard let i = v as? Int, (min...max).contains(i) else { throw fail("\(key) must be an integer from \(min) to \(max)") }
        return i
    }

    /// The seed programs (paths relative to the file), with the file's `genes:` if any.
    func seeds() throws -> [Program] {
        guard let paths = root["seeds"] as? [String], !paths.isEmpty else { throw fail("seeds: a list of program files is needed") }
        var seeds: [Program]
        if let given = givenSeeds {
            guard given.count == paths.count else { throw fail("the study keeps \(given.count) seed(s); its space names \(paths.count)") }
            seeds = try given.map { try Program(text: $0) }
        } else {
            seeds = try paths.map { try Program.load(path: $0.hasPrefix("/") ? $0 : dir.appendingPathComponent($0).path) }
        }
        guard let g = root["genes"] as? [String: Any] else { return seeds }
        let data = try JSONSerialization.data(withJSONObject: g)
        guard let genes = try? JSONDecoder().decode(Genes.self, from: data) else { throw fail("genes: not valid genes") }
        for i in seeds.indices {
            seeds[i].genes = genes
            do { try seeds[i].validate() } catch { throw fail("seed \(seeds[i].name) with these genes: \(error)") }
        }
        return seeds
    }

    /// `ops`, `mutations` (kind: weight) and `choices` (dims, widths, heads, experts, layers).
    func mutator() throws -> Mutator {
        var m = Mutator()
        if let ops = root["ops"] as? [String] {
            m.ops = try ops.map { name in
                guard let op = Op(rawValue: name) else { throw fail("ops: unknown op '\(name)'") }
                return op
            }
        }
        if let weights = root["mutations"] as? [String: Any] {
            for (k, v) in weights {
                guard let kind = MutationKind(rawValue: k) else {
                    throw fail("mutations: unknown kind '\(k)' (known: \(MutationKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard let w = number(v), w >= 0, w <= 1e6 else { throw fail("mutations: \(k) needs a weight from 0 to 1e6") }
                m.weights[kind] = w
            }
        }
        if let choices = root["choices"] { try readChoices(choices, into: &m) }
        return m
    }

    private func readChoices(_ node: Any, into m: inout Mutator) throws {
        guard let c = node as? [String: Any] else { throw fail("choices: expected a mapping") }
        try checkKeys(c, ["dims", "widths", "heads", "experts", "layers"], "choices: ")
        func list(_ key: String) throws -> [Int]? {
            guard let v = c[key] else { return nil }
            guard let l = v as? [Int], !l.isEmpty, l.allSatisfy({ $0 >= 1 }) else {
                throw fail("choices: \(key) must be a list of positive integers")
            }
            return l
        }
        if let d = try list("dims") {
            for x in d where !Dims.vocabulary.contains(x) {
                throw fail("choices: dim \(x) is not one of \(Dims.vocabulary.map(String.init).joined(separator: ", "))")
            }
            m.dims = d
        }
        if let w = try list("widths") { m.widths = w }
        if let h = try list("heads") { m.headCounts = h }
        if let e = try list("experts") { m.expertCounts = e }
        if let l = try list("layers") {
            guard l.count == 2, l[0] <= l[1] else { throw fail("choices: layers is [fewest, most]") }
            m.layerRange = l[0]...l[1]
        }
    }

    func budget() throws -> Budget {
        guard let b = root["budget"] else { return .steps(2000) }
        guard let m = b as? [String: Any], m.count == 1, let (kind, value) = m.first, let x = number(value), x > 0 else {
            throw fail("budget: one of {steps: N}, {tokens: N}, {flops: N}, {seconds: N}, with N > 0")
        }
        // The largest budget of each kind: far beyond any search, and an Int either way.
        let most: [String: Double] = ["steps": 1e9, "tokens": 1e15, "flops": 1e24, "seconds": 1e7]
        guard let top = most[kind] else { throw fail("budget: unknown kind '\(kind)' (known: flops, seconds, steps, tokens)") }
        guard x <= top else { throw fail("budget: \(kind) \(x) is above the most evolve accepts (\(top))") }
        if kind == "steps" || kind == "tokens" {
            guard x == x.rounded(), x >= 1 else { throw fail("budget: \(kind) must be a whole number ≥ 1, found \(x)") }
        }
        switch kind {
        case "steps": return .steps(Int(x))
        case "tokens": return .tokens(Int(x))
        case "flops": return .flops(x)
        default: return .seconds(x)
        }
    }

    /// `constraint: {flops_per_token: [LOW, HIGH], params: [LOW, HIGH]}`, fractions of the seed's.
    func constraint() throws -> SizeConstraint? {
        guard let node = root["constraint"] else { return nil }
        guard let c = node as? [String: Any], !c.isEmpty else { throw fail("constraint: expected {flops_per_token: [LOW, HIGH], params: [LOW, HIGH]}") }
        try checkKeys(c, ["flops_per_token", "params"], "constraint: ")
        func range(_ key: String) throws -> ClosedRange<Double>? {
            guard let v = c[key] else { return nil }
            guard let l = v as? [Any], l.count == 2, let lo = number(l[0]), let hi = number(l[1]), lo > 0, lo <= 1, hi >= 1 else {
                throw fail("constraint: \(key) is [LOW, HIGH] with 0 < LOW ≤ 1 ≤ HIGH (fractions of the seed's)")
            }
            return lo...hi
        }
        return SizeConstraint(flopsPerToken: try range("flops_per_token"), parameters: try range("params"))
    }

    /// `objective: loss` (the default), `pareto` (loss and FLOPs per token), or
    /// `{pareto: flops_per_token}` / `{pareto: params}`.
    func objective() throws -> Objective {
        switch root["objective"] {
        case nil, "loss" as String: return .loss
        case "pareto" as String: return .pareto(.flopsPerToken)
        case let m as [String: Any] where m.count == 1:
            if let axis = (m["pareto"] as? String).flatMap(Objective.CostAxis.init) { return .pareto(axis) }
            fallthrough
        default:
            throw fail("objective: loss, pareto, or {pareto: flops_per_token | params}")
        }
    }

    /// `selection: tournament` (the default) or `random` (children of the seeds, no selection).
    func selection() throws -> Selection {
        guard let node = root["selection"] else { return .tournament }
        guard let name = node as? String, let s = Selection(rawValue: name) else { throw fail("selection: tournament or random") }
        return s
    }

    func corpus() throws -> String? {
        guard let c = root["corpus"] else { return nil }
        guard let p = c as? String else { throw fail("corpus: a path to a text file") }
        return p.hasPrefix("/") ? p : dir.appendingPathComponent(p).path
    }
}

extension SpaceFile {
    /// The top-level keys whose values differ between two space files' texts.
    static func differingKeys(_ a: String, _ b: String) -> [String] {
        func root(_ t: String) -> [String: Any] { ((try? Yams.load(yaml: t)) as? [String: Any]) ?? [:] }
        func canonical(_ v: Any?) -> String {
            guard let v else { return "" }
            if let data = try? JSONSerialization.data(withJSONObject: ["v": v], options: [.sortedKeys]) {
                return String(decoding: data, as: UTF8.self)
            }
            return "\(v)"
        }
        let ra = root(a), rb = root(b)
        return Set(ra.keys).union(rb.keys).sorted().filter { canonical(ra[$0]) != canonical(rb[$0]) }
    }
}

/// A YAML number, integer or not.
private func number(_ v: Any) -> Double? { (v as? Double) ?? (v as? Int).map(Double.init) }
