import ArgumentParser
import Foundation
import Primitives
import Program
import Search

struct Mutations: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw children of a space's seeds, training nothing: per mutation kind, how often it was drawn, applied and changed the program; the last line is key=value pairs.")

    @Argument(help: "A search-space file (see search-spaces/).")
    var space: String

    @Option(parsing: .unconditional, help: "Children to draw (round robin over the seeds).")
    var children = 1000

    @Option(parsing: .unconditional, help: "Vocabulary size for the size constraint's parameter counts (65: tinyshakespeare's characters).")
    var vocabulary = 65

    func run() throws {
        try reportingErrors {
            guard children >= 1 else { throw CommandError(description: "--children must be at least 1") }
            guard vocabulary >= 1 else { throw CommandError(description: "--vocabulary must be at least 1") }
            let s = try SearchSpace.load(path: space)
            var rng = Xoshiro(seed: s.seed)
            var stats = Mutator.Stats(), made = [MutationKind: Int]()
            for n in 0..<children {
                let child = try s.mutator.mutate(s.seeds[n % s.seeds.count], using: &rng, stats: &stats) {
                    s.admits($0, vocabulary: vocabulary)
                }
                made[child.kind, default: 0] += 1
            }
            let kinds = MutationKind.allCases.filter { (s.mutator.weights[$0] ?? 0) > 0 }
            print("\(children) children of \(s.seeds.map(\.name).joined(separator: ", ")) (\(s.name)):")
            print("kind              weight   drawn  applied  changed  outside constraint  children")
            let total = kinds.reduce(0) { $0 + s.mutator.weights[$1]! }
            for k in kinds {
                print(k.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: " %7.3f %7d %8d %8d %19d %9d", s.mutator.weights[k]! / total,
                             stats.drawn[k, default: 0], stats.applied[k, default: 0], stats.changed[k, default: 0],
                             stats.rejected[k, default: 0], made[k, default: 0]))
            }
            print("children=\(children) " + kinds.map { "\($0.rawValue)=\(made[$0, default: 0])" }.joined(separator: " "))
        }
    }
}
