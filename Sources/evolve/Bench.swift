import ArgumentParser
import Foundation
import Compiler
import Config
import Model
import Primitives
import Program
import Tensor
import Training

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Training throughput of the baseline (or a program) with its recipe, and the machine's sgemm speed for scale.")

    @Option(help: "A config file (default: the built-in baseline recipe).")
    var config: String?

    @Option(help: "A program file to benchmark instead of the hand-built baseline (with the config's recipe).")
    var program: String?

    @Option(help: "Timed steps, after 10 warm-up steps.")
    var steps = 100

    @Flag(help: "Print the time spent in each kind of kernel.")
    var profile = false

    @Option(help: "Threads for BLAS and the engine.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            guard threads >= 1 else { throw CommandError(description: "--threads must be at least 1") }
            guard steps >= 1 else { throw CommandError(description: "--steps must be at least 1") }
            let cfg = try config.map { try TrainConfig.load(path: $0) } ?? TrainConfig()
            // Throughput does not depend on the text: a synthetic corpus of 65 symbols
            // keeps the benchmark free of any download.
            var rng = Xoshiro(seed: 7)
            let vocabulary = 65
            let text = (0..<200_000).map { _ in Int32(rng.below(vocabulary)) }
            let data = Dataset(ids: text, vocabularySize: vocabulary)

            Threads.set(1)
            let gflops1 = sgemmGFLOPs()

            let compiled = try Compiler(try program.map { try Program.load(path: $0) } ?? cfg.resolvedProgram(file: config ?? "config"),
                                        vocabulary: vocabulary)
            let r = cfg.recipe
            let model = compiled.replicated(batch: r.batchSize, initStd: r.initStd, seed: r.seed, threads: threads, replicas: r.replicas)
            let context = compiled.program.genes.context
            let trainer = Trainer(model: model, recipe: cfg.recipe)
            var times = [Double]()
            for it in 0..<(steps + 10) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                trainer.step(it, total: cfg.recipe.steps, data: data.train)
                if it >= 10 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
            }
            if profile { printProfile(model, trainer, cfg, data) }
            times.sort()
            let median = times[times.count / 2]
            let tokens = Double(cfg.recipe.batchSize * context)
            print(keyValues([
                "model": compiled.program.name, "blas_core": BLAS.coreName, "threads": "\(threads)",
                "sgemm_gflops_1thread": String(format: "%.1f", gflops1),
                "params": "\(model.parameterCount)",
                "step_ms": String(format: "%.2f", median * 1e3),
                "tokens_per_s": String(format: "%.0f", tokens / median),
            ]))
        }
    }
}

/// sgemm GFLOP/s at the baseline's largest shape (768×128 · 128×512), best of 50 runs.
func sgemmGFLOPs(m: Int = 768, n: Int = 512, k: Int = 128) -> Double {
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    var best = Double.infinity
    for _ in 0..<50 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        Float.gemm(false, false, m, n, k, 1, a, k, b, n, 0, &c, n)
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return 2 * Double(m * n * k) / best / 1e9
}

/// Per-kernel-type forward and backward milliseconds per step, largest first.
func printProfile(_ model: ReplicatedModel, _ trainer: Trainer, _ cfg: TrainConfig, _ data: Dataset) {
    let steps = 20
    let graph = model.primary.graph
    graph.profiling = true
    for it in 0..<steps { trainer.step(it, total: cfg.recipe.steps, data: data.train) }
    graph.profiling = false
    print("replica 1 of \(model.replicas.count), per step:")
    for (name, t) in graph.profile.sorted(by: { $0.value.forward + $0.value.backward > $1.value.forward + $1.value.backward }) {
        print(String(format: "%-24@ forward %7.3f ms  backward %7.3f ms", name, t.forward * 1e3 / Double(steps),
                     t.backward * 1e3 / Double(steps)))
    }
}
