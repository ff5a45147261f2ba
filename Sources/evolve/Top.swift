import ArgumentParser
import Foundation
import Program
import Store

struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The best candidates of a study, best first.")

    @Option(name: .shortAndLong, help: "How many to list.")
    var n = 10

    @OptionGroup var study: StudyOptions

    func run() throws {
        try reportingErrors {
            let (store, s) = try study.open()
            let ranked = try store.candidates(study: s.id!).filter { $0.status == .done && $0.fitness != nil }
                .sorted { ($0.fitness!, $0.completion ?? 0) < ($1.fitness!, $1.completion ?? 0) }
            print("rank      id  gen  val_loss      params  flops/token  seconds  mutation")
            for (rank, c) in ranked.prefix(n).enumerated() {
                let e = try store.evaluations(c.reusedFrom ?? c.id!).last
                func right(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
                print(String(format: "%4d %7lld %4d  %8.4f ", rank + 1, c.id!, c.generation, c.fitness!)
                      + right(e.map { "\($0.parameters)" } ?? "-", 11) + " " + right(e.map { "\($0.flopsPerToken)" } ?? "-", 12) + " "
                      + right(c.trainSeconds.map { String(format: "%.1f", $0) } ?? "-", 8) + "  "
                      + (c.reusedFrom.map { "(as #\($0)) " } ?? "") + (c.mutation ?? "seed"))
            }
        }
    }
}
