import Config
import Foundation
import Store

/// How many rungs a study's space has, rung 0 included (1: no ladder), read from the space
/// text it keeps; or more, where its rows hold higher rungs.
func ladderRungs(_ store: Store, _ study: Study) throws -> Int {
    let document = try? YAMLFile.decode(SpaceDocument.self, from: study.space, file: "study \(study.name)'s space")
    return max((document?.ladder.count ?? 0) + 1, try store.countsByRung(study: study.id!).count)
}

/// A gain with the reference's spread beside it: "+0.0123 (seed 1.9876 ± 0.0040)".
func gainText(_ ladder: LadderResults, _ subject: Int64, rung: Int) -> String {
    guard let g = ladder.gain(subject, rung: rung) else { return "gain n/a" }
    let r = ladder.reference(rung: rung)!
    let spread = r.losses.count > 1 ? String(format: " ± %.4f", r.spread) : ""
    return String(format: "gain %+.4f (seed %.4f%@)", g, r.loss, spread)
}

/// `evolve status`'s ladder: per rung, jobs completed, subjects promoted from it, the best gain.
func printLadder(_ store: Store, _ study: Study, rungs: Int) throws {
    let ladder = try store.ladder(study: study.id!)
    let counts = try store.countsByRung(study: study.id!), jobs = try store.rungJobs(study: study.id!)
    print("ladder (\(rungs) rungs; gain: the seed's mean loss at the rung minus the candidate's; hurdles at rung 0 only):")
    for rung in 0..<rungs {
        let c = rung < counts.count ? counts[rung] : Counts.zero
        let promoted = Set(jobs.filter { $0.rung == rung + 1 && $0.mutationKind == Ladder.promote }.compactMap(\.subject)).count
        print("  rung \(rung): \(c.done + c.failed) completed (\(c.failed) failed), \(c.running) running, \(c.queued) queued, "
              + "\(promoted) promoted" + (ladder.best(rung: rung).map { ", best #\($0.subject) \(gainText(ladder, $0.subject, rung: rung))" } ?? ""))
    }
}

/// `evolve show`'s rungs: every rung the subject reached, with its loss, bits per byte, gain
/// and compute speedup over the seed there.
func printRungs(_ store: Store, _ study: Study, subject: Int64) throws {
    let ladder = try store.ladder(study: study.id!, curves: true)
    guard ladder.rungs > 1 else { return }
    let reached = ladder.standings[subject] ?? [:]
    let pending = try store.rungJobs(study: study.id!).filter { $0.subject == subject && reached[$0.rung] == nil }
    print("rungs (gain against the seed's loss at the same rung; compute speedup: the seed's training FLOPs to reach the worse final loss ÷ its own):")
    for rung in Set(reached.keys).union(pending.map(\.rung)).sorted() {
        guard let s = reached[rung] else {
            let jobs = pending.filter { $0.rung == rung }
            print("  rung \(rung): \(jobs.map { "#\($0.id!) \($0.status.rawValue)" }.joined(separator: ", "))")
            continue
        }
        let loss = !s.loss.isFinite ? "failed"
            : String(format: "val_loss %.4f", s.loss) + (s.losses.count > 1 ? String(format: " ± %.4f over %d seeds", s.spread, s.losses.count) : "")
        print("  rung \(rung): \(loss)" + (s.bitsPerByte.map { String(format: ", val_bpb %.4f", $0) } ?? "")
              + ", \(gainText(ladder, subject, rung: rung))"
              + (ladder.speedup(subject, rung: rung).map { String(format: ", compute speedup %.2fx", $0) } ?? "")
              + " (\(s.jobs.map { "#\($0)" }.joined(separator: ", ")))")
    }
}
