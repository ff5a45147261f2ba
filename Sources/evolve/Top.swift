import ArgumentParser
import Foundation
import Program
import Search
import Store

struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The best candidates of a study, best first.")

    @Option(name: .shortAndLong, parsing: .unconditional, help: "How many to list.")
    var n = 10

    @Flag(help: "List the Pareto front over validation loss and --cost instead: the candidates nothing beats in both.")
    var pareto = false

    @Option(help: "The front's cost: flops_per_token or params.")
    var cost = "flops_per_token"

    @Option(parsing: .unconditional, help: "Rank the candidates by their result at this rung of the ladder (0: as without a ladder).")
    var rung = 0

    @OptionGroup var study: StudyOptions

    func run() throws {
        try reportingErrors {
            let (store, s) = try study.open()
            guard n >= 1 else { throw CommandError(description: "-n must be at least 1") }
            guard let axis = Objective.CostAxis(rawValue: cost) else {
                throw CommandError(description: "--cost is flops_per_token or params, not '\(cost)'")
            }
            guard rung >= 0 else { throw CommandError(description: "--rung must be 0 or more") }
            if rung > 0 {
                guard !pareto else { throw CommandError(description: "--pareto ranks rung 0; leave out --rung") }
                return try printRung(store, s)
            }
            var ranked = try store.candidates(study: s.id!).filter { $0.status == .done && $0.fitness != nil }
                .sorted { ($0.fitness!, $0.completion ?? 0) < ($1.fitness!, $1.completion ?? 0) }
            if pareto {
                // The front, cheapest first (one per program: twins share a result).
                let unique = ranked.filter { $0.reusedFrom == nil }
                let costs = try unique.map { c -> Double in
                    let e = try store.evaluations(c.id!).last
                    return Double((axis == .params ? e?.parameters : e?.flopsPerToken) ?? .max)
                }
                let ranks = paretoRanks(zip(unique, costs).map { ($0.fitness!, $1) })
                ranked = zip(unique, zip(costs, ranks)).filter { $1.1 == 0 }.sorted { $0.1.0 < $1.1.0 }.map(\.0)
                print("the Pareto front over val_loss and \(axis.rawValue): \(ranked.count) candidates")
            }
            // A front is not ranked: its members are listed cheapest first, without a rank.
            print((pareto ? "" : "rank ") + "     id  gen  val_loss  val_bpb      params  flops/token  seconds  mutation")
            for (rank, c) in ranked.prefix(n).enumerated() {
                let e = try store.evaluations(c.reusedFrom ?? c.id!).last
                func right(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
                print((pareto ? "" : String(format: "%4d ", rank + 1)) + String(format: "%7lld %4d  %8.4f ", c.id!, c.generation, c.fitness!)
                      + right(c.bitsPerByte.map { String(format: "%.4f", $0) } ?? "-", 7) + " "
                      + right(e.map { "\($0.parameters)" } ?? "-", 11) + " " + right(e.map { "\($0.flopsPerToken)" } ?? "-", 12) + " "
                      + right(c.trainSeconds.map { String(format: "%.1f", $0) } ?? "-", 8) + "  "
                      + (c.reusedFrom.map { "(same as #\($0)) " } ?? "") + (c.mutation ?? "seed"))
            }
        }
    }

    /// The subjects that finished at `rung`, best first: their mean loss there, bits per byte,
    /// gain over the seed's reference jobs (with their spread), compute speedup over them, and the job's size.
    func printRung(_ store: Store, _ s: Study) throws {
        let ladder = try store.ladder(study: s.id!, curves: true)
        let ranked = ladder.standings.values.compactMap { $0[rung] }.sorted { ($0.loss, $0.subject) < ($1.loss, $1.subject) }
        guard !ranked.isEmpty else {
            print("no candidate has finished at rung \(rung) (the study has \(ladder.rungs) rung(s) with jobs)")
            return
        }
        if let r = ladder.reference(rung: rung) {
            print(String(format: "rung %d: the seed's reference %.4f ± %.4f (%d training seeds); gain = reference − val_loss", rung, r.loss, r.spread, r.losses.count))
        }
        print("rank  subject  gen  val_loss  val_bpb     gain  speedup      params  flops/token  mutation")
        for (rank, st) in ranked.prefix(n).enumerated() {
            let c = try store.candidate(st.subject), e = try store.evaluations(st.jobs[0]).last
            func right(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
            let loss = st.loss.isFinite ? String(format: "%8.4f", st.loss) : "  failed"
            print(String(format: "%4d %8lld %4d  %@ ", rank + 1, st.subject, c?.generation ?? 0, loss)
                  + right(st.bitsPerByte.map { String(format: "%.4f", $0) } ?? "-", 7) + " "
                  + right(ladder.gain(st.subject, rung: rung).map { String(format: "%+.4f", $0) } ?? "-", 8) + " "
                  + right(ladder.speedup(st.subject, rung: rung).map { String(format: "%.2fx", $0) } ?? "-", 8) + " "
                  + right(e.map { "\($0.parameters)" } ?? "-", 11) + " " + right(e.map { "\($0.flopsPerToken)" } ?? "-", 12) + "  "
                  + (st.subject == ladder.seed ? "the seed (reference jobs)" : c?.mutation ?? "seed"))
        }
    }
}
