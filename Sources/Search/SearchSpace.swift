import Foundation
import Program
import Training
import Yams

/// A search-space file (YAML): the seeds, what mutations may do, the population and
/// tournament sizes, the hurdles and the training budget of a candidate.
public struct SearchSpace: Sendable {
    public var name: String
    public var seeds: [Program]
    public var mutator: Mutator
    public var population: Int
    public var tournament: Int
    public var hurdles: Int
    /// Training steps of a candidate that passes every hurdle.
    public var steps: Int
    public var recipe: Recipe
    public var seed: UInt64
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
        let known = ["name", "seeds", "genes", "ops", "mutations", "population", "tournament", "hurdles", "steps",
                     "training", "seed"]
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
        var recipe = Recipe()
        if let t = root["training"] {
            let yaml = try Yams.dump(object: ["training": t])
            do { recipe = try TrainConfig.parse(yaml, file: path).recipe } catch { throw fail("\(error)") }
        }
        let population = try int("population", 100), tournament = try int("tournament", 10)
        guard tournament <= population else { throw fail("tournament \(tournament) is larger than population \(population)") }
        return SearchSpace(
            name: (root["name"] as? String) ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
            seeds: seeds, mutator: mutator, population: population, tournament: tournament,
            hurdles: try int("hurdles", 0, min: 0), steps: try int("steps", 2000), recipe: recipe,
            seed: UInt64(try int("seed", 1, min: 0)), text: text)
    }

    /// Steps at the end of each band: with H hurdles, band widths double so every band costs
    /// the same; cut points at 1, 3, 7, … of 2^(H+1) − 1 units of the full budget.
    public var bandEnds: [Int] {
        let units = (1 << (hurdles + 1)) - 1
        return (0...hurdles).map { max(1, steps * ((1 << ($0 + 1)) - 1) / units) }
    }
}

public struct SearchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
