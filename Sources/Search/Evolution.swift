import Compiler
import Foundation
import Model
import Primitives
import Program
import Store
import Tensor
import Training

extension Study {
    /// What evolve's engine multiplies a job's products in: the precision recorded when the
    /// study was made, or float32 for a study made before studies recorded it (migration v8).
    /// Every study made before bfloat16 became the default on AMX CPUs was float32; one made
    /// on such a CPU in the day between the two changes trained in bfloat16 and goes on in
    /// float32 (the two differ by less than the seed spread on the recipe).
    public var precision: Precision { products.flatMap(Precision.init(rawValue:)) ?? .float32 }
}

/// Regularized (aging) evolution with hurdles, after Primer, over a store: the population
/// is the last `population` completed candidates; a child's parent is the best of a random
/// tournament among them; its mutation and training seed come from a generator seeded by
/// the study's seed and the child's number. Everything the search knows is in the database,
/// so a killed search resumes where it was: in-flight candidates go back to the queue and
/// are trained again, never completed twice. Several processes may share one database.
public final class Evolution {
    public let space: SearchSpace
    public let store: Store
    public let study: Study
    public let data: Dataset
    public let worker = Worker.current
    public let threads: Int
    /// Who trains this worker's jobs (evolve's engine, or PyTorch's: a GPU host's).
    public var engine: TrainingEngine = .evolve
    /// The rungs whose jobs this worker takes (nil: all); without rung 0 it makes no children
    /// and only trains the jobs promotions queue.
    public var rungs: [Int]?
    /// Called with one line per finished candidate.
    public var report: (String) -> Void = { print($0) }
    /// Called after every training step of the current candidate.
    public var onStep: ((_ candidate: Candidate, _ step: Int, _ of: Int, _ loss: Float) -> Void)?
    /// Polled between steps: true stops the search, handing the current candidate back.
    public var shouldStop: () -> Bool = { false }
    /// Seconds without a heartbeat (by the database's clock) after which a candidate of
    /// another host is re-queued; heartbeats go every sixth of it.
    public var lease: TimeInterval = 300
    /// Seconds between heartbeats (and between looks at a study waiting on other workers).
    var beat: TimeInterval { min(5, lease / 6) }

    public init(space: SearchSpace, store: Store, data: Dataset, threads: Int) throws {
        self.space = space
        self.store = store
        self.data = data
        self.threads = threads
        if let existing = try store.existingStudy(named: space.name) {
            try space.checkResumes(existing, corpus: data)
            if existing.corpusSha256 == nil, let sha = data.sha256 {
                try store.recordCorpus(study: existing.id!, sha256: sha, path: data.path)
            }
        }
        let seeds = space.seeds.map(\.text)
        study = try store.study(named: space.name, space: space.text, seed: Int64(space.seed),
                                corpusSha256: data.sha256, corpusPath: data.path, seeds: seeds,
                                products: space.recipe.products.rawValue)
        if let p = study.products, Precision(rawValue: p) == nil {
            throw SearchError("study \(study.name): its products' precision \(Precision.unknown(p)) (those this build knows); nothing was changed")
        }
        if study.seeds == nil { try store.recordSeeds(study: study.id!, seeds) }
    }

    /// The recipe of the study's jobs: the space's, with evolve's products in the study's
    /// precision (`Study.precision`), whatever this worker's CPU would choose. PyTorch's
    /// trainer keeps its own rule (`Recipe.products(on:)`): float32 unless the space names one.
    public var recipe: Recipe {
        var r = space.recipe
        if case .evolve = engine, r.precision == nil { r.precision = study.precision }
        return r
    }

    /// Why a candidate's training stopped short.
    enum Interruption: Error { case stopped, leaseLost }

    /// Works until the study has `target` candidates and none is left to claim; returns
    /// false if `shouldStop` ended it first.
    @discardableResult
    public func run(until target: Int) throws -> Bool {
        let began = Date()
        var finished = 0
        var lastWrite = 0.0   // the previous completion's database time, charged to the next candidate
        while !shouldStop() {
            let t0 = Date()
            // Before every claim: a candidate whose holder died goes back to the queue now,
            // not when someone restarts the search.
            try requeueDeadWorkers()
            guard let c = try store.claim(study: study.id!, worker: worker, rungs: rungs) ?? makeChild(limit: target) else {
                // Nothing to start, but candidates of this target may still be training
                // elsewhere: wait for them, since a holder that vanishes lets its lease lapse
                // and its candidate comes back to the queue for someone to finish.
                guard try othersStillWorking(toward: target) else { break }
                let until = Date().addingTimeInterval(beat)
                while Date() < until && !shouldStop() { usleep(100_000) }
                continue
            }
            var outcome: Outcome
            do {
                outcome = try evaluate(c)
            } catch Interruption.stopped {
                try store.requeue(c.id!, lease: c.lease)
                return false
            } catch Interruption.leaseLost {
                report("#\(c.id!): lease lost (silent too long, re-queued by another worker); its result is dropped")
                continue
            }
            outcome.overheadSeconds = Date().timeIntervalSince(t0) - (outcome.trainSeconds ?? 0) + lastWrite
            let w0 = Date()
            guard try store.complete(c.id!, lease: c.lease, outcome, promoting: promotion) else {
                report("#\(c.id!): lease lost before it completed; its result is dropped")
                continue
            }
            lastWrite = Date().timeIntervalSince(w0)
            finished += 1
            report(line(c, outcome, finished: finished, since: began, target: target))
        }
        return !shouldStop()
    }

    /// "[12/100] #14 gen 3 insert …: val_loss 2.0312 · 2 bands · 3.1s (0.4% overhead) · best 1.9876 · 10.2/min";
    /// a rung job says "#31 rung 1 of #14 (promote)" instead of its generation and mutation.
    func line(_ c: Candidate, _ o: Outcome, finished: Int, since began: Date, target: Int) -> String {
        let done = (try? store.counts(study: study.id!)).map { $0.done + $0.failed } ?? 0
        let best = (try? store.best(study: study.id!))?.fitness ?? .nan
        let train = o.trainSeconds ?? 0, over = o.overheadSeconds ?? 0
        let result = o.failure.map { "failed (\($0.kind.rawValue))" } ?? String(format: "val_loss %.4f", o.fitness)
        let how = o.reusedFrom.map { "same as #\($0)" }
            ?? String(format: "%d band%@ · %.1fs (%.1f%% overhead)", o.bands, o.bands == 1 ? "" : "s",
                      train + over, 100 * over / max(train + over, 1e-9))
        let rate = Double(finished) / max(Date().timeIntervalSince(began), 1e-9) * 60
        let what = c.rung == 0 ? "gen \(c.generation) \(c.mutation ?? "seed")" : "rung \(c.rung) of #\(c.subject ?? 0) (\(c.mutationKind ?? "job"))"
        return String(format: "[%d/%d] #%lld %@: %@ · %@ · best %.4f · %.1f/min", done, target, c.id!, what, result, how, best, rate)
    }

    /// Whether candidates or rung jobs still run in other processes (a rung job's completion
    /// may queue more) while the study has no more than `target` candidates (more: someone
    /// works toward a larger target, and this worker is done). A worker of some rungs only
    /// waits while jobs below its highest rung are queued or running, or rung 0 has
    /// candidates still to make: their completions may promote into its rungs.
    func othersStillWorking(toward target: Int) throws -> Bool {
        let counts = try store.countsByRung(study: study.id!), c = counts[0]
        let made = c.queued + c.running + c.done + c.failed
        guard made <= target else { return false }
        guard let rungs, let top = rungs.max() else { return counts.contains { $0.running > 0 } }
        // Only jobs below its highest rung can promote into its rungs (a job climbs one rung).
        let feeding = counts.indices.contains { $0 < top && (counts[$0].running > 0 || counts[$0].queued > 0) }
        return feeding || (!rungs.contains(0) && made < target)
    }

    /// Candidates left running by workers that are gone (dead processes of this host at
    /// once, any other after `lease` seconds of silence) go back to the queue.
    func requeueDeadWorkers() throws {
        for c in try store.running(study: study.id!) {
            if let w = c.worker, w.isCertainlyDead { try store.requeue(c.id!, lease: c.lease) }
        }
        try store.requeueStale(study: study.id!, olderThan: lease)
    }

    /// The next candidate, unless the study has `limit` already: a seed while the
    /// population fills, then a mutated tournament winner.
    func makeChild(limit: Int) throws -> Candidate? {
        guard rungs?.contains(0) ?? true else { return nil }
        return try store.makeCandidate(study: study.id!, limit: limit, recent: space.population, worker: worker) { number, completed in
            var rng = Xoshiro(seed: space.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(number))
            let trainSeed = Int64(rng.below(1 << 31))
            if number < space.seeds.count {
                let p = space.seeds[number]
                return Candidate(studyId: study.id!, program: p.text, hash: p.hash, seed: trainSeed)
            }
            let population = completed   // the last `population` completed
            guard !population.isEmpty, space.selection == .tournament else {
                // Random sampling (the control), or the seeds still training elsewhere: a mutation of a seed.
                let seed = space.selection == .random ? rng.below(space.seeds.count) : number % space.seeds.count
                let child = try mutate(space.seeds[seed], &rng)
                // Its parent is that seed's candidate (made first, as number `seed`).
                let parent = try store.candidates(study: study.id!).first { $0.generation == 0 && $0.hash == space.seeds[seed].hash }
                return Candidate(studyId: study.id!, program: child.program.text, hash: child.program.hash, parentId: parent?.id,
                                 mutation: child.description, mutationKind: child.kind.rawValue, drawnKind: child.drawn.rawValue,
                                 generation: 1, seed: trainSeed)
            }
            let contenders = (0..<space.tournament).map { _ in population[rng.below(population.count)] }
            let vocabulary = data.tokenizer.vocabularySize
            let ladder = try space.ladder.isEmpty ? nil : store.ladder(study: study.id!)
            let parent = winner(contenders, population: population, objective: space.objective,
                                reach: { c in ladder?.reach(c.id!) }) { cost($0, $1, vocabulary: vocabulary) }
            let child = try mutate(try Program(text: parent.program), &rng)
            return Candidate(studyId: study.id!, program: child.program.text, hash: child.program.hash,
                             parentId: parent.id, mutation: child.description, mutationKind: child.kind.rawValue,
                             drawnKind: child.drawn.rawValue, generation: parent.generation + 1, seed: trainSeed)
        }
    }

    /// A child of `parent` inside the space's size constraint.
    func mutate(_ parent: Program, _ rng: inout Xoshiro) throws -> Mutator.Child {
        var stats = Mutator.Stats()
        let vocabulary = data.tokenizer.vocabularySize
        return try space.mutator.mutate(parent, using: &rng, stats: &stats) { space.admits($0, vocabulary: vocabulary) }
    }

    /// Trains a candidate (or a rung job, at its rung's size and budget) band by band. Its
    /// fitness is the last band's validation loss; a program computed before at the same rung
    /// — same canonical hash, or same functional fingerprint — takes the earlier result
    /// instead of training again, except a job whose training seed is the point: a reference
    /// job, or a promoted one where promoted candidates train with several seeds.
    func evaluate(_ c: Candidate) throws -> Outcome {
        let reuses = c.mutationKind != Ladder.reference && !(c.rung > 0 && space.promotedSeeds > 1)
        if reuses, let twin = try store.completed(hash: c.hash, rung: c.rung, study: study.id!), twin.id != c.id {
            return reuse(twin, fingerprint: twin.fingerprint)
        }
        var recipe = self.recipe
        recipe.seed = UInt64(c.seed)
        recipe.stopAfter = nil   // the budget and the hurdles decide how far a candidate trains
        let run: Run
        do {
            run = try Run(try Program(text: c.program), recipe: recipe, data: data, threads: threads, causality: .allow, engine: engine)
        } catch {
            return Outcome(fitness: .infinity, failure: Failure(.compile, "\(error)"))
        }
        let fingerprint = run.probe.fingerprint
        guard run.probe.causal else { return Outcome(fitness: .infinity, failure: Failure(.leaksFuture, "an output depends on a later token"),
                                                    fingerprint: fingerprint) }
        if reuses, let twin = try store.completed(fingerprint: fingerprint, rung: c.rung, study: study.id!), twin.id != c.id {
            return reuse(twin, fingerprint: fingerprint)
        }
        let steps = space.budget(rung: c.rung).steps(tokensPerStep: run.tokensPerStep, flopsPerToken: run.cost.flopsPerToken) {
            // A seconds budget: time forward+backward passes (they leave no state behind).
            run.model.forwardBackward()
            let t0 = Date()
            for _ in 0..<3 { run.model.forwardBackward() }
            return Date().timeIntervalSince(t0) / 3
        }
        // Built before the clock starts (a seconds budget has built it already): training time is training.
        var outcome = Outcome(fitness: .infinity, fingerprint: fingerprint, replicas: run.replicas, scheduleSteps: steps)
        let start = Date()
        do {
            try train(c, run, steps: steps, into: &outcome)
        } catch is TrainingStopped {
            throw Interruption.stopped
        } catch let e as TorchError {
            // Recorded as this job's failure: left running, it would take down every worker that claims it next.
            outcome.failure = Failure(.engine, e.description)
        }
        outcome.trainSeconds = Date().timeIntervalSince(start)
        return outcome
    }

    /// The bands of one candidate's training, each ending in a validation loss recorded in
    /// the store; stops early at a hurdle it does not pass, or when the loss is not finite.
    /// Heartbeats keep its lease while it trains.
    func train(_ c: Candidate, _ run: Run, steps: Int, into outcome: inout Outcome) throws {
        let ends = space.bandEnds(steps: steps, rung: c.rung)
        var lastBeat = Date(), result = outcome
        var hooks = TrainingHooks()
        hooks.stop = shouldStop
        hooks.step = { [self] step, of, loss, _, _ in
            onStep?(c, step, of, loss)
            if Date().timeIntervalSince(lastBeat) > beat, let token = c.lease {
                guard try store.heartbeat(c.id!, lease: token) else { throw Interruption.leaseLost }
                lastBeat = Date()
            }
        }
        let start = Date()
        hooks.mark = { [self] step, val in
            // Every band that ends at this step (a tiny budget ends several at one step).
            for band in ends.indices where ends[band] == step {
                result.bands = band + 1
                let bpb = run.validation.bitsPerByte(val)
                guard try store.record(Evaluation(candidateId: c.id!, band: band, loss: val, steps: step, tokens: step * run.tokensPerStep,
                                                  seconds: Date().timeIntervalSince(start), parameters: run.cost.parameters,
                                                  flopsPerToken: run.cost.flopsPerToken, bitsPerByte: bpb), lease: c.lease)
                else { throw Interruption.leaseLost }
                result.fitness = val
                result.bitsPerByte = bpb.isFinite ? bpb : nil
                guard val.isFinite else { result.failure = Failure(.diverged, "validation loss \(val) after step \(step)"); return false }
                // A hurdle: go on only while better than the median of those that reached this band.
                guard c.rung == 0, band < space.hurdles else { continue }
                let others = try store.bandLosses(study: study.id!, band: band, excluding: c.id!).sorted()
                if !others.isEmpty && val > others[others.count / 2] { return false }
            }
            return true
        }
        let trained = try run.train(schedule: steps, marks: ends, hooks: hooks)
        if let step = trained.divergedAt {
            result.bands = ends.firstIndex { $0 >= step }.map { $0 + 1 } ?? ends.count
            result.fitness = Double(trained.losses.last!)
            result.failure = Failure(.diverged, "training loss \(trained.losses.last!) at step \(step)")
        }
        outcome = result
    }

    func reuse(_ twin: Candidate, fingerprint: String?) -> Outcome {
        var o = Outcome(fitness: twin.fitness ?? .infinity, failure: twin.failed, fingerprint: fingerprint,
                              replicas: twin.replicas, scheduleSteps: twin.scheduleSteps, trainSeconds: 0)
        o.reusedFrom = twin.id
        o.bitsPerByte = twin.bitsPerByte
        return o
    }
}
