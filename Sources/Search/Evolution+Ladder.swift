import Foundation
import Primitives
import Program
import Store

extension Evolution {
    /// What a completion sends up the space's ladder; nil without one.
    var promotion: Promotion? {
        guard !space.ladder.isEmpty else { return nil }
        return Promotion(fraction: space.promote, top: space.ladder.count) { [self] subject, rung in jobs(for: subject, rung: rung) }
    }

    /// The rows that train `subject` at `rung`: its program with the rung's genes, once per
    /// promoted training seed (a promotion) or, for a seed, once per reference training seed. Each job's training seed
    /// comes from the study's seed, the subject and the rung, so any worker queues the same jobs.
    func jobs(for subject: Candidate, rung: Int) -> [Candidate] {
        // A subject's text parsed when it was made; one that no longer does (a damaged row) does not climb.
        guard let program = try? Program(text: subject.program) else { return [] }
        let p = space.program(program, rung: rung)
        let seed = Ladder.isSeed(subject)
        let count = seed ? space.referenceSeeds : space.promotedSeeds
        return (0..<count).map { k in
            var rng = Xoshiro(seed: space.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(bitPattern: subject.id!) &* 0xBF58_476D_1CE4_E5B9
                              &+ UInt64(rung << 8 + k))
            let mutation = seed ? "reference at rung \(rung) (training seed \(k + 1) of \(count))"
                : "promoted to rung \(rung)" + (count > 1 ? " (training seed \(k + 1) of \(count))" : "")
            var job = Candidate(studyId: study.id!, program: p.text, hash: p.hash, parentId: subject.id, mutation: mutation,
                                mutationKind: seed ? Ladder.reference : Ladder.promote, generation: subject.generation,
                                seed: Int64(rng.below(1 << 31)))
            job.rung = rung
            job.subject = subject.id
            return job
        }
    }
}
