import Foundation
import Program
import Testing
import TestSupport
@testable import Training

/// PyTorch's engine (`--engine pytorch`): the same run trained by both engines lands in the
/// other's seed-to-seed spread, and its child process answers to the hooks as evolve's loop
/// does — a mark that ends the run, a stop, a step hook that throws.
@Suite("PyTorch engine", .serialized)
struct TorchEngineTests {
    /// A small vanilla block, the recipe at a few hundred steps, on tinyshakespeare.
    func run(_ engine: TrainingEngine, seed: UInt64, steps: Int = 300) throws -> Run {
        var p = try Program.load(path: packageRoot.appendingPathComponent("search-spaces/seeds/vanilla.program").path)
        p.genes.layers = 2; p.genes.dModel = 64; p.genes.context = 32
        var recipe = Recipe()
        recipe.steps = steps; recipe.batchSize = 8; recipe.warmupSteps = 20; recipe.learningRate = 3e-3
        recipe.seed = seed; recipe.validationTokens = 16384
        return try Run(p, recipe: recipe, data: try Dataset(path: try realCorpus()), threads: 1, engine: engine)
    }

    func torch() throws -> TrainingEngine {
        .pytorch(try TorchEngine(python: try requirePythonWithTorch(), device: "cpu", threads: 1))
    }

    @Test(.enabled(if: pythonChecksRun, "needs a Python with torch and numpy (EVOLVE_PYTHON)"))
    func bothEnginesLandInEachOthersSpread() async throws {
        let torch = try torch()
        let (ours, results) = try await onItsOwnThread {
            try ([UInt64](arrayLiteral: 1, 2, 3).map { try run(.evolve, seed: $0).train().valLoss },
                 [UInt64](arrayLiteral: 1, 2, 3).map { try run(torch, seed: $0).train() })
        }
        for r in results { #expect(r.steps == 300 && r.curve.count == 1 && r.valBitsPerByte.isFinite, "\(r.steps) steps, \(r.curve)") }
        let theirs = results.map(\.valLoss)
        let (a, b) = (mean(ours), mean(theirs))
        // Seeds move this run's loss by a few hundredths; a recipe that differs (no weight
        // decay, another schedule, other validation windows) moves it by tenths.
        let spread = max(sd(ours), sd(theirs), 0.01)
        print("evolve \(ours) PyTorch \(theirs): means \(a) \(b), spread \(spread)")
        #expect(abs(a - b) <= 3 * spread, "evolve \(ours) against PyTorch \(theirs)")
        #expect(ours.allSatisfy { $0 < 2.9 } && theirs.allSatisfy { $0 < 2.9 }, "not trained: \(ours) \(theirs)")
    }

    @Test(.enabled(if: pythonChecksRun, "needs a Python with torch and numpy (EVOLVE_PYTHON)"))
    func theChildAnswersToTheHooks() async throws {
        let torch = try torch()
        struct Lost: Error {}
        let (r, seen, stopped, lost, seconds) = try await onItsOwnThread {
            // A mark that says stop ends the run there, after its evaluation.
            var hooks = TrainingHooks(), seen = [Int]()
            hooks.step = { step, _, _, _, _ in seen.append(step) }
            hooks.mark = { step, _ in step < 10 }
            let r = try run(torch, seed: 1, steps: 40).train(marks: [5, 10, 20], hooks: hooks)
            // A stop asked for throws TrainingStopped; a step hook's error comes through as it is.
            var stops = TrainingHooks(), steps = 0
            stops.step = { _, _, _, _, _ in steps += 1 }
            stops.stop = { steps >= 3 }
            let stopped = Result { try run(torch, seed: 1, steps: 1000).train(hooks: stops) }
            var throwing = TrainingHooks()
            throwing.step = { step, _, _, _, _ in if step == 2 { throw Lost() } }
            let t0 = Date()
            let lost = Result { try run(torch, seed: 1, steps: 100_000).train(hooks: throwing) }
            return (r, seen, stopped, lost, Date().timeIntervalSince(t0))
        }
        #expect(r.curve.map(\.step) == [5, 10] && r.steps == 10 && seen == Array(1...10), "\(r.curve) \(seen)")
        #expect(r.valLoss == r.curve.last?.loss)
        #expect(throws: TrainingStopped.self) { try stopped.get() }
        #expect(throws: Lost.self) { try lost.get() }
        #expect(seconds < 120, "the child was not stopped")
    }

    /// Every router, MPO experts and MPO's gradient mask, and AltUp train in PyTorch's engine
    /// from the exported module (a few steps each, two replicas' row groups).
    @Test(.enabled(if: pythonChecksRun, "needs a Python with torch and numpy (EVOLVE_PYTHON)"))
    func routedAndMaskedProgramsTrain() async throws {
        let torch = try torch()
        var programs = try OpExamples.routed()
        var masked = programs.last!
        masked.genes.mpoMask = 0.5
        masked.name += "-masked"
        var altup = try Program.load(path: packageRoot.appendingPathComponent("search-spaces/seeds/altup-recycled-k2.program").path)
        altup.genes.layers = 2; altup.genes.dModel = 64; altup.genes.context = 32
        programs += [masked, altup]
        var recipe = Recipe()
        recipe.steps = 8; recipe.batchSize = 4; recipe.warmupSteps = 2; recipe.replicas = 2; recipe.validationTokens = 1024
        let data = try Dataset(path: try syntheticCorpusFile())
        let (all, r) = (programs, recipe)
        let results = try await onItsOwnThread {
            try all.map { try Run($0, recipe: r, data: data, threads: 2, causality: .allow, engine: torch).train() }
        }
        for (p, r) in zip(programs, results) {
            #expect(r.steps == 8 && r.valLoss.isFinite && r.losses.allSatisfy(\.isFinite), "\(p.name): \(r.losses) \(r.valLoss)")
        }
    }

    /// A trainer that dies: its exit is a one-line error naming the program, even where it
    /// died before reading the answer to its mark (the answer meets a closed pipe: EPIPE, not
    /// a SIGPIPE that would end the worker). `--python` here is a script standing in for it.
    @Test func aDeadTrainerIsAnError() throws {
        let fake = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-fake-python-\(UUID())").path
        try """
            #!/bin/sh
            [ "$1" = "-c" ] && exit 0          # the engine's probe
            exec 0<&-                          # no reader left on its stdin
            echo "step=1 loss=4.0"; sleep 0.2; echo "mark=1 val_loss=3.9"; sleep 0.2
            echo "Traceback: it broke" >&2; exit 3
            """.write(toFile: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake)
        defer { try? FileManager.default.removeItem(atPath: fake) }
        let engine = TrainingEngine.pytorch(try TorchEngine(python: fake, device: "cpu", threads: 1))
        var hooks = TrainingHooks(), marks = 0
        hooks.mark = { _, _ in marks += 1; return true }
        #expect(throws: TorchError.self) { try run(engine, seed: 1, steps: 5).train(marks: [1], hooks: hooks) }
        do { _ = try run(engine, seed: 1, steps: 5).train(marks: [1], hooks: hooks) } catch let e as TorchError {
            #expect(e.description == "vanilla: PyTorch's trainer failed: Traceback: it broke", "\(e)")
        }
        #expect(marks == 2)
    }

    func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
    func sd(_ x: [Double]) -> Double {
        let m = mean(x)
        return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count - 1)).squareRoot()
    }
}
