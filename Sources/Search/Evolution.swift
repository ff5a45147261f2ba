import Compiler
import Foundation
import Program
import Store
import Tensor
import Training

/// Regularized (aging) evolution with hurdles, after Primer, over a store: the population
/// is the last `population` completed candidates; a child's parent is the best of a random
/// tournament among them; its mutation and training seed come from a generator seeded by
/// the study's seed and the child's number. Everything the search knows is in the database,
/// so a killed search resumes where it was: in-flight candidates go back to the queue and
/// are trained again, never made twice.
public final class Evolution {
    public let space: SearchSpace
    public let store: Store
    public let study: Study
    public let data: Dataset
    public let worker: String
    public let threads: Int
    /// Called with one line per finished candidate.
    public var report: (String) -> Void = { print($0) }

    public init(space: SearchSpace, store: Store, data: Dataset, threads: Int) throws {
        self.space = space
        self.store = store
        self.data = data
        self.threads = threads
        worker = "\(ProcessInfo.processInfo.hostName):\(getpid())"
        study = try store.study(named: space.name, space: space.text, seed: Int64(space.seed))
    }

    /// Runs until the study has `target` completed candidates.
    public func run(until target: Int) throws {
        try requeueDeadWorkers()
        var completed = try store.completed(study: study.id!)
        while completed.count < target {
            let c = try store.claim(study: study.id!, worker: worker) ?? makeChild()
            let started = Date()
            let (fitness, failure, bands) = try evaluate(c)
            try store.complete(c.id!, fitness: fitness, failure: failure)
            completed = try store.completed(study: study.id!)
            let best = completed.compactMap(\.fitness).min() ?? .nan
            let n = completed.count
            report(String(format: "[%d/%d] #%d gen %d %@: %@ after %d band%@ in %.1fs · best %.4f", n, target, c.id!,
                          c.generation, c.mutation ?? "seed", failure.map { "failed (\($0))" } ?? String(format: "val_loss %.4f", fitness),
                          bands, bands == 1 ? "" : "s", Date().timeIntervalSince(started), best))
        }
    }

    /// Candidates left running by a process of this host that no longer exists.
    func requeueDeadWorkers() throws {
        let host = ProcessInfo.processInfo.hostName
        for c in try store.running(study: study.id!) {
            guard let w = c.worker, w.hasPrefix(host + ":"), let pid = Int32(w.dropFirst(host.count + 1)) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try store.requeue(c.id!) }
        }
        try store.requeueStale(study: study.id!, olderThan: 600)
    }

    /// The next candidate: a seed while the population fills, then a mutated tournament winner.
    func makeChild() throws -> Candidate {
        let number = try store.candidateCount(study: study.id!)
        var rng = Xoshiro(seed: space.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(number))
        let trainSeed = Int64(rng.below(1 << 31))
        if number < space.seeds.count {
            let p = space.seeds[number]
            return try store.addRunning(Candidate(studyId: study.id!, program: p.text, hash: p.hash, seed: trainSeed), worker: worker)
        }
        let completed = try store.completed(study: study.id!)
        let population = Array(completed.suffix(space.population))
        guard !population.isEmpty else {
            // The seeds are still training elsewhere: train another copy's mutation meanwhile.
            let child = try space.mutator.mutate(space.seeds[number % space.seeds.count], using: &rng)
            return try store.addRunning(Candidate(studyId: study.id!, program: child.program.text, hash: child.program.hash,
                                                  mutation: child.description, generation: 1, seed: trainSeed), worker: worker)
        }
        let contenders = (0..<min(space.tournament, population.count)).map { _ in population[rng.below(population.count)] }
        let parent = contenders.min { ($0.fitness ?? .infinity) < ($1.fitness ?? .infinity) }!
        let child = try space.mutator.mutate(try Program(text: parent.program), using: &rng)
        return try store.addRunning(Candidate(studyId: study.id!, program: child.program.text, hash: child.program.hash,
                                              parentId: parent.id, mutation: child.description,
                                              generation: parent.generation + 1, seed: trainSeed), worker: worker)
    }

    /// Trains a candidate band by band; returns its fitness (the last band's validation
    /// loss), a failure kind if it failed, and how many bands it ran.
    func evaluate(_ c: Candidate) throws -> (Double, String?, Int) {
        // The same program completed before: its result stands.
        if let twin = try store.completed(hash: c.hash, study: study.id!), twin.id != c.id {
            return (twin.fitness ?? .infinity, twin.failure, 0)
        }
        let program: Program, compiler: Compiler
        do {
            program = try Program(text: c.program)
            compiler = try Compiler(program, vocabulary: data.tokenizer.vocabularySize)
        } catch {
            return (.infinity, "compile", 0)
        }
        var recipe = space.recipe
        recipe.steps = space.steps
        recipe.seed = UInt64(c.seed)
        let model = compiler.replicated(recipe: recipe, threads: threads)
        let trainer = Trainer(model: model, recipe: recipe)
        let cost = try program.cost(vocabulary: data.tokenizer.vocabularySize)
        var step = 0, lastBeat = Date(), start = Date()
        for (band, end) in space.bandEnds.enumerated() {
            while step < end {
                let loss = trainer.step(step, total: space.steps, data: data.train)
                step += 1
                guard loss.isFinite else { return (Double(loss), "diverged", band + 1) }
                if Date().timeIntervalSince(lastBeat) > 5 {
                    try store.heartbeat(c.id!, worker: worker)
                    lastBeat = Date()
                }
            }
            let val = Training.evaluate(model, on: data.validation)
            try store.record(Evaluation(candidateId: c.id!, band: band, loss: val, steps: step,
                                        tokens: step * recipe.batchSize * program.genes.context,
                                        seconds: Date().timeIntervalSince(start), parameters: cost.parameters,
                                        flopsPerToken: cost.flopsPerToken))
            guard val.isFinite else { return (val, "diverged", band + 1) }
            // A hurdle: go on only while better than the median of those that reached this band.
            if band < space.hurdles {
                let others = try store.bandLosses(study: study.id!, band: band, excluding: c.id!).sorted()
                if !others.isEmpty && val > others[others.count / 2] { return (val, nil, band + 1) }
            }
            if band == space.hurdles { return (val, nil, band + 1) }
        }
        return (.infinity, "budget", space.hurdles + 1)
    }
}
