import ArgumentParser
import Foundation
import Store

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Where a study stands: counts, time spent, the best so far; the last line is key=value pairs.")

    @OptionGroup var study: StudyOptions

    func run() throws {
        try reportingErrors {
            let (store, s) = try study.open()
            let all = try store.candidates(study: s.id!)
            let c = try store.counts(study: s.id!)
            let reused = all.filter { $0.reusedFrom != nil }.count
            // Time is every row's: rung jobs train too (a ladder's upper rungs take most of it).
            let jobs = try store.rungJobs(study: s.id!)
            let train = (all + jobs).compactMap(\.trainSeconds).reduce(0, +), over = (all + jobs).compactMap(\.overheadSeconds).reduce(0, +)
            let inJobs = jobs.compactMap(\.trainSeconds).reduce(0, +)
            print("study \(s.name) in \(store.location), seed \(s.seed), started \(s.created), "
                  + "products in \(s.products ?? "float32 (made before studies recorded it)")")
            print("candidates: \(c.done + c.failed) completed (\(c.failed) failed, \(reused) the same as an earlier one: its result taken, not trained), "
                  + "\(c.running) running, \(c.queued) queued")
            let failures = Dictionary(grouping: all.compactMap(\.failure), by: { $0 }).mapValues(\.count)
            for (kind, n) in failures.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                print("  failed (\(kind.rawValue)): \(n)")
            }
            if train + over > 0 {
                print(String(format: "time: %@ training and evaluating%@, %@ outside training (%.2f%%: mutation, compile, fingerprint, database)",
                             formatSeconds(train), jobs.isEmpty ? "" : " (\(formatSeconds(inJobs)) of it in rung jobs)", formatSeconds(over),
                             100 * over / (train + over)))
            }
            try printMutationKinds(store, all)
            let rungs = try ladderRungs(store, s)
            if rungs > 1 { try printLadder(store, s, rungs: rungs) }
            if let best = try store.best(study: s.id!) {
                print(String(format: "best: #%lld val_loss %.4f%@, generation %d, %@", best.id!, best.fitness!,
                             best.bitsPerByte.map { String(format: " (%.4f bits per byte)", $0) } ?? "", best.generation,
                             best.mutation ?? "a seed"))
            }
            print(try statusLine(store, s))
        }
    }
}

/// Per mutation kind: children it was drawn for, children it made, and the change in loss
/// against the parent at equal steps (mean and best).
func printMutationKinds(_ store: Store, _ all: [Candidate]) throws {
    let children = all.filter { $0.mutationKind != nil }
    guard !children.isEmpty else { return }
    print("mutations (kind: drawn first for N children, made M: a kind that finds no place in the parent is drawn again,")
    print("  so a kind can make more children than it was drawn for first; change in val_loss against the parent at equal steps):")
    let kinds = Set(children.compactMap(\.mutationKind) + children.compactMap(\.drawnKind)).sorted()
    for kind in kinds {
        let made = children.filter { $0.mutationKind == kind }
        let changes = try made.compactMap { try store.changeAgainstParent($0) }
        let mean = changes.isEmpty ? "n/a" : String(format: "%+.4f", changes.reduce(0, +) / Double(changes.count))
        let best = changes.min().map { String(format: "%+.4f", $0) } ?? "n/a"
        print("  \(kind.padding(toLength: 16, withPad: " ", startingAt: 0)) drawn \(children.filter { $0.drawnKind == kind }.count), "
              + "made \(made.count), change \(mean) mean, \(best) best (\(changes.count) measured)")
    }
}

/// The closing line of `search` and `status`: candidates completed and failed (rung 0), jobs
/// running at any rung, the best candidate; with a ladder, each rung's completed jobs.
func statusLine(_ store: Store, _ study: Study) throws -> String {
    let rungs = try store.countsByRung(study: study.id!), c = rungs[0]
    let best = try store.best(study: study.id!)
    let line = keyValues([
        "completed": "\(c.done + c.failed)", "failed": "\(c.failed)", "running": "\(rungs.map(\.running).reduce(0, +))",
        "best_val_loss": best.map { String(format: "%.4f", $0.fitness!) } ?? "nan",
        "best_val_bpb": best?.bitsPerByte.map { String(format: "%.4f", $0) } ?? "nan",
        "best_id": best.map { "\($0.id!)" } ?? "none",
    ])
    let count = try ladderRungs(store, study)
    guard count > 1 else { return line }
    let completed = (0..<count).map { $0 < rungs.count ? rungs[$0].done + rungs[$0].failed : 0 }
    return line + " rung_completed=" + completed.map(String.init).joined(separator: ",")
}

func formatSeconds(_ s: Double) -> String {
    s < 60 ? String(format: "%.1fs", s) : formatDuration(s)
}
