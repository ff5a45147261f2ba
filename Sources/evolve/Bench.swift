import ArgumentParser
import Foundation
import Config
import Model
import Primitives
import Program
import Tensor
import Training

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Training throughput of the baseline (or a program) with its recipe, and the machine's sgemm speed for scale; or, with --search, a search's candidates per hour.")

    @Option(help: "A config file (default: the built-in baseline recipe).")
    var config: String?

    @Option(help: "A program file to benchmark instead of the hand-built baseline (with the config's recipe).")
    var program: String?

    @Option(help: "A prepared data folder to read batches from (default: synthetic ids in memory; throughput does not depend on the text).")
    var data: String?

    @Option(parsing: .unconditional, help: "Timed steps, after 10 warm-up steps.")
    var steps = 100

    @Flag(help: "Print the time spent in each kind of kernel.")
    var profile = false

    @Option(parsing: .unconditional, help: "Threads for BLAS and the engine.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Measure every program in --seeds-folder in one run, alternating between them each round, and write the table to --output.")
    var seeds = false

    @Option(help: "With --seeds: the programs (vanilla.program first, the dense reference).")
    var seedsFolder = "search-spaces/seeds"

    @Option(parsing: .unconditional, help: "With --seeds: rounds; each times --steps steps of every program in turn.")
    var rounds = 3

    @Option(help: "With --seeds: the table's file.")
    var output = "results/seeds.md"

    @Flag(help: "Run a throwaway study of the search-space file SPACE (default: search-spaces/primer.yaml) in a temporary store, and print candidates per hour and the seconds of a full-budget candidate.")
    var search = false

    @Argument(help: "With --search: the search-space file.")
    var space: String?

    @Option(parsing: .unconditional, help: "With --search: how many candidates the study makes.")
    var candidates = 10

    @Option(help: "With --search: the corpus text file (default: the space's corpus:, else $EVOLVE_CORPUS, else tinyshakespeare).")
    var corpus: String?

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            guard threads >= 1 else { throw CommandError(description: "--threads must be at least 1") }
            guard steps >= 1 else { throw CommandError(description: "--steps must be at least 1") }
            let cfg = try config.map { try TrainConfig.load(path: $0) } ?? TrainConfig()
            if seeds { return try benchSeeds(cfg) }
            guard search || space == nil else { throw CommandError(description: "\(space!): a search-space file is read only with --search") }
            if search { return try benchSearch() }
            let data = try self.data.map { try Dataset(folder: $0) } ?? syntheticData()

            Threads.prepare()
            let gflops1 = sgemmGFLOPs()

            let run = try Run(try program.map { try Program.load(path: $0) } ?? cfg.resolvedProgram(file: config ?? "config"),
                              recipe: cfg.recipe, data: data, threads: threads)
            let (model, trainer) = (run.model, run.trainer)
            var times = [Double]()
            for it in 0..<(steps + 10) {
                let dt = seconds { trainer.step(it, total: cfg.recipe.steps, data: data.train) }
                if it >= 10 { times.append(dt) }
            }
            if profile { printProfile(model, trainer, cfg, data, sgemm: gflops1) }
            times.sort()
            let median = times[times.count / 2]
            let tokens = Double(run.tokensPerStep)
            print(keyValues([
                "model": run.program.name, "blas_core": BLAS.coreName, "gemm": Gemm.name, "threads": "\(threads)",
                "precision": run.recipe.products.label,
                "sgemm_gflops_1thread": String(format: "%.1f", gflops1),
                "params": "\(model.parameterCount)",
                "graph_mb": String(format: "%.1f", Double(model.replicas.reduce(0) { $0 + $1.graph.allocatedBytes }) / 1e6),
                "step_ms": String(format: "%.2f", median * 1e3),
                "tokens_per_s": String(format: "%.0f", tokens / median),
            ]))
        }
    }
}

extension Bench {
    /// Every seed program's training throughput, measured in one process, alternating
    /// between them; a program's figure is the median of all its timed steps.
    func benchSeeds(_ cfg: TrainConfig) throws {
        guard rounds >= 1 else { throw CommandError(description: "--rounds must be at least 1") }
        let folder = URL(fileURLWithPath: seedsFolder)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: seedsFolder) else {
            throw CommandError(description: "--seeds-folder \(seedsFolder): no such folder")
        }
        let files = entries.filter { $0.hasSuffix(".program") }.sorted()
        guard files.contains("vanilla.program") else {
            throw CommandError(description: "\(seedsFolder): no vanilla.program, the dense reference of the table")
        }
        try checkCanWrite(output)
        let ordered = ["vanilla.program"] + files.filter { $0 != "vanilla.program" }
        let programs = try ordered.map { try Program.load(path: folder.appendingPathComponent($0).path) }
        let data = try self.data.map { try Dataset(folder: $0) } ?? syntheticData()
        let r = cfg.recipe
        Threads.prepare()
        let gflops1 = sgemmGFLOPs()
        // Each turn builds one program's model, warms it and times `steps` steps, then frees
        // it: one model resident at a time (eleven at once slowed each other by a third), and
        // every program met in every round, so a slow stretch of a shared machine (they last
        // seconds) falls on all of them alike.
        let costs = try programs.map { try $0.cost(vocabulary: data.tokenizer.vocabularySize) }
        var parameters = Array(repeating: 0, count: programs.count)
        var times = Array(repeating: [Double](), count: programs.count)
        for round in 0..<rounds {
            for (i, p) in programs.enumerated() {
                let trainer = try Run(p, recipe: r, data: data, threads: threads).trainer
                parameters[i] = trainer.model.parameterCount
                for it in 0..<3 { trainer.step(it, total: r.steps, data: data.train) }
                for it in 0..<steps { times[i].append(seconds { trainer.step(3 + it, total: r.steps, data: data.train) }) }
            }
            FileHandle.standardError.write("round \(round + 1) of \(rounds) done\n".data(using: .utf8)!)
        }
        let tokens = Double(r.batchSize * programs[0].genes.context)
        let rates = times.map { ts in tokens / ts.sorted()[ts.count / 2] }
        var md = "# Training throughput of the seed programs\n\n"
        md += "- command: `\((["evolve"] + CommandLine.arguments.dropFirst()).joined(separator: " "))`\n"
        md += "- commit: `\(gitCommit())`, \(ISO8601DateFormatter().string(from: Date()).prefix(10))\n"
        md += "- machine: \(machineDescription(threads: threads, products: r.products)); single-thread sgemm \(String(format: "%.1f", gflops1)) GFLOP/s\n"
        md += "- method: one process; \(rounds) rounds, each building every program's model in turn and timing \(steps) steps after 3 warm-up steps; "
        md += "tokens/s from the median step (batch \(r.batchSize) × context \(programs[0].genes.context)); share of dense = tokens/s ÷ vanilla's\n\n"
        md += "Validation losses of the seeds: [seed-losses.md](seed-losses.md).\n\n"
        md += "| program | params | FLOPs / token | tokens/s | share of dense | FLOPs / token vs dense |\n|---|---|---|---|---|---|\n"
        let denseFlops = Double(costs[0].flopsPerToken)
        for (i, p) in programs.enumerated() {
            let flops = costs[i].flopsPerToken
            let share = rates[i] / rates[0], extra = 100 * (Double(flops) / denseFlops - 1)
            md += "| \(p.name) | \(parameters[i]) | \(flops) | " + String(format: "%.0f", rates[i])
            md += String(format: " | %.2f | %+.1f%% |\n", share, extra)
        }
        try write(md, to: output)
        print(md, terminator: "")
        print(keyValues(["table": output, "blas_core": BLAS.coreName, "gemm": Gemm.name, "threads": "\(threads)"]) + " "
              + zip(programs, rates).map { "\($0.name)=\(String(format: "%.0f", $1))" }.joined(separator: " "))
    }

    /// Throughput does not depend on the text: a synthetic corpus of 65 symbols keeps the
    /// benchmark free of any download.
    func syntheticData() -> Dataset {
        var rng = Xoshiro(seed: 7)
        let vocabulary = 65
        return Dataset(ids: (0..<200_000).map { _ in Int32(rng.below(vocabulary)) }, vocabularySize: vocabulary)
    }
}

/// sgemm GFLOP/s at the baseline's largest shape (768×128 · 128×512), best of 50 runs.
func sgemmGFLOPs(m: Int = 768, n: Int = 512, k: Int = 128) -> Double {
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    return 2 * Double(m * n * k) / bestSeconds(50) { Float.gemm(false, false, m, n, k, 1, a, k, b, n, 0, &c, n) } / 1e9
}

/// Single-thread memory bandwidth: copying 64 MB (read + write), best of 10, in GB/s moved.
func copyGBs(bytes: Int = 64 << 20) -> Double {
    let n = bytes / MemoryLayout<Float>.size
    let src = UnsafeMutablePointer<Float>.allocate(capacity: n), dst = UnsafeMutablePointer<Float>.allocate(capacity: n)
    defer { src.deallocate(); dst.deallocate() }
    src.initialize(repeating: 1, count: n); dst.initialize(repeating: 0, count: n)
    return 2 * Double(bytes) / bestSeconds(10) { dst.update(from: src, count: n) } / 1e9
}

/// Per kernel type: forward and backward milliseconds per step, and what it achieved
/// against the machine's own single-thread rates (replica 1 runs on one thread): GFLOP/s
/// of the products against sgemm's, GB/s of the rest against a memory copy's. Largest first.
func printProfile(_ model: ReplicatedModel, _ trainer: Trainer, _ cfg: TrainConfig, _ data: Dataset, sgemm: Double) {
    let steps = 20
    let graph = model.primary.graph
    graph.profiling = true
    let before = (trainer.phases, model.mergeSeconds)
    let wall = seconds { for it in 0..<steps { trainer.step(it, total: cfg.recipe.steps, data: data.train) } } / Double(steps)
    graph.profiling = false
    func ms(_ s: Double) -> Double { s * 1e3 / Double(steps) }
    let merge = ms(model.mergeSeconds - before.1), pass = ms(trainer.phases.pass - before.0.pass)
    let copy = copyGBs()
    let total = graph.profile.values.reduce(0) { $0 + $1.seconds }
    print(String(format: "replica 1 of %d, per step (machine, 1 thread: sgemm %.1f GFLOP/s, copy %.1f GB/s):", model.replicas.count, sgemm, copy))
    print("kernel                              forward ms  backward ms  share   achieved")
    for (name, p) in graph.profile.sorted(by: { $0.value.seconds > $1.value.seconds }) {
        var rate = ""
        if p.work.flops > 0 {
            let g = p.work.flops / p.seconds / 1e9
            rate = String(format: "%6.1f GFLOP/s  %3.0f%% of sgemm", g, 100 * g / sgemm)
        } else if p.work.bytes > 0 {
            let g = p.work.bytes / p.seconds / 1e9
            rate = String(format: "%6.1f GB/s     %3.0f%% of copy", g, 100 * g / copy)
        }
        print(name.padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: " %9.3f   %9.3f   %5.1f%%   ",
              p.forward * 1e3 / Double(steps), p.backward * 1e3 / Double(steps), 100 * p.seconds / total) + rate)
    }
    // The rest of a step: waiting for the other replicas, gathering gradients, the optimizer.
    print(String(format: "kernels %.2f ms of a %.2f ms step (profiled): forward and backward %.2f ms (all replicas, "
                 + "waiting for the slowest), gradient merge %.2f, clipping and AdamW %.2f, batches %.2f",
                 total * 1e3 / Double(steps), wall * 1e3, pass - merge, merge,
                 ms(trainer.phases.update - before.0.update), ms(trainer.phases.batches - before.0.batches)))
}
