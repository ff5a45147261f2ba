import Foundation
import Config
import Program
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
        case .flops(let f): return max(1, Int(f / (3 * Double(flopsPerToken) * Double(tokensPerStep))))
        case .seconds(let s): return max(1, Int(s / max(secondsPerStep(), 1e-9)))
        }
    }

    public var description: String {
        switch self {
        case .steps(let n): return "\(n) steps"
        case .tokens(let n): return "\(n) tokens"
        case .flops(let f): return String(format: "%.3g FLOPs", f)
        case .seconds(let s): return String(format: "%gs", s)
        }
    }
}

/// A search-space file (YAML): the seeds, what mutations may do, the population and
/// tournament sizes, the hurdles and the training budget of a candidate.
public struct SearchSpace: Sendable {
    public var name: String
    public var seeds: [Program]
    public var mutator: Mutator
    public var population: Int
    public var tournament: Int
    public var hurdles: Int
    /// The training budget of a candidate that passes every hurdle.
    public var budget: Budget
    public var recipe: Recipe
    public var seed: UInt64
    /// The corpus the file names (relative paths from the file's folder); nil: the default.
    public var corpus: String?
    /// The file's text, stored with the study.
    public var text: String

    public static func load(path: String) throws -> SearchSpace {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SearchError("\(path): cannot read the file")
        }
        func fail(_ why: String) -> SearchError { SearchError("\(path): \(why)") }
        let root: [String: Any]
        do {
            guard let r = try Yams.load(yaml: text) as? [String: Any] else { throw fail("expected a mapping") }
            root = r
        } catch let e as SearchError { throw e } catch {
            throw fail("not valid YAML: \("\(error)".split(separator: "\n").first ?? "")")
        }
        let known = ["name", "seeds", "genes", "ops", "mutations", "choices", "population", "tournament", "hurdles",
                     "budget", "training", "seed", "corpus"]
        for key in root.keys.sorted() where !known.contains(key) {
            throw fail("unknown key '\(key)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        func int(_ key: String, _ fallback: Int, min: Int = 1) throws -> Int {
            guard let v = root[key] else { return fallback }
            guard let i = v as? Int, i >= min else { throw fail("\(key) must be an integer ≥ \(min)") }
            return i
        }
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
        guard let seedPaths = root["seeds"] as? [String], !seedPaths.isEmpty else {
            throw fail("seeds: a list of program files is needed")
        }
        var seeds = try seedPaths.map { try Program.load(path: dir.appendingPathComponent($0).path) }
        if let g = root["genes"] as? [String: Any] {
            let data = try JSONSerialization.data(withJSONObject: g)
            guard let genes = try? JSONDecoder().decode(Genes.self, from: data) else { throw fail("genes: not valid genes") }
            for i in seeds.indices {
                seeds[i].genes = genes
                do { try seeds[i].validate() } catch { throw fail("seed \(seeds[i].name) with these genes: \(error)") }
            }
        }
        var mutator = Mutator()
        if let ops = root["ops"] as? [String] {
            mutator.ops = try ops.map { name in
                guard let op = Op(rawValue: name) else { throw fail("ops: unknown op '\(name)'") }
                return op
            }
        }
        if let weights = root["mutations"] as? [String: Any] {
            for (k, v) in weights {
                guard let kind = MutationKind(rawValue: k) else {
                    throw fail("mutations: unknown kind '\(k)' (known: \(MutationKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard let w = (v as? Double) ?? (v as? Int).map(Double.init), w >= 0 else {
                    throw fail("mutations: \(k) needs a weight ≥ 0")
                }
                mutator.weights[kind] = w
            }
        }
        if let choices = root["choices"] {
            guard let c = choices as? [String: Any] else { throw fail("choices: expected a mapping") }
            let keys = ["dims", "widths", "heads", "experts", "layers"]
            for key in c.keys.sorted() where !keys.contains(key) {
                throw fail("choices: unknown key '\(key)' (known: \(keys.joined(separator: ", ")))")
            }
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
                mutator.dims = d
            }
            if let w = try list("widths") { mutator.widths = w }
            if let h = try list("heads") { mutator.headCounts = h }
            if let e = try list("experts") { mutator.expertCounts = e }
            if let l = try list("layers") {
                guard l.count == 2, l[0] <= l[1] else { throw fail("choices: layers is [fewest, most]") }
                mutator.layerRange = l[0]...l[1]
            }
        }
        var budget = Budget.steps(2000)
        if let b = root["budget"] {
            guard let m = b as? [String: Any], m.count == 1, let (kind, value) = m.first,
                  let x = (value as? Double) ?? (value as? Int).map(Double.init), x > 0 else {
                throw fail("budget: one of {steps: N}, {tokens: N}, {flops: N}, {seconds: N}, with N > 0")
            }
            switch kind {
            case "steps": budget = .steps(Int(x))
            case "tokens": budget = .tokens(Int(x))
            case "flops": budget = .flops(x)
            case "seconds": budget = .seconds(x)
            default: throw fail("budget: unknown kind '\(kind)' (known: flops, seconds, steps, tokens)")
            }
        }
        let recipe: Recipe
        do { recipe = try SearchSpace.recipe(root["training"], file: path) } catch { throw fail("\(error)") }
        let population = try int("population", 100), tournament = try int("tournament", 10)
        guard tournament <= population else { throw fail("tournament \(tournament) is larger than population \(population)") }
        return SearchSpace(
            name: (root["name"] as? String) ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
            seeds: seeds, mutator: mutator, population: population, tournament: tournament,
            hurdles: try int("hurdles", 0, min: 0), budget: budget, recipe: recipe,
            seed: UInt64(try int("seed", 1, min: 0)),
            corpus: try (root["corpus"]).map { c in
                guard let p = c as? String else { throw fail("corpus: a path to a text file") }
                return p.hasPrefix("/") ? p : dir.appendingPathComponent(p).path
            },
            text: text)
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
    public init(_ description: String) { self.description = description }
}
