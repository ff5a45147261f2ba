import ArgumentParser
import Config
import Experiments
import Foundation
import Tensor
import Training

struct Reproduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a seed paper's matched comparison over several seeds, at equal steps and equal wall-clock; write results/reproduce-NAME.md and .csv.")

    @Argument(help: "primer, sffn, mpoe or altup.")
    var name: String

    @Option(help: "Comma-separated training seeds (at least 3 for a spread).")
    var seeds = "1,2,3"

    @Option(parsing: .unconditional, help: "Steps of the equal-steps comparison (the equal-time one follows from its times).")
    var steps = 2000

    @Option(help: "A config whose training recipe to use (default: the baseline recipe).")
    var config: String?

    @Option(help: "Folder for the tables.")
    var output = "results"

    @OptionGroup var options: RunOptions

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            try options.check()
            let seedList = seeds.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
            guard !seedList.isEmpty, seedList.count == seeds.split(separator: ",").count else {
                throw CommandError(description: "--seeds: a comma-separated list of integers, e.g. 1,2,3")
            }
            guard steps > 0 else { throw CommandError(description: "--steps must be positive") }
            let folder = try seedsFolder(for: "reproduce")
            let commit = gitCommit()   // at the start: the tree may change while it trains
            let reproduction = try Reproduction.named(name, seeds: folder)
            let file = try config.map { try TrainConfig.load(path: $0) }
            var recipe = file?.recipe ?? Recipe()
            recipe.steps = steps
            let data = try options.dataset(recipe, fallbackData: file?.data)
            print("reproduce \(name): \(reproduction.variants.count) variants × \(seedList.count) seeds, \(steps) steps, then equal wall-clock")
            let (equalSteps, equalTime) = try reproduction.run(recipe: recipe, seeds: seedList, data: data, threads: options.threads) {
                print("  " + $0)
                fflush(stdout)
            }
            let command = "evolve " + CommandLine.arguments.dropFirst().joined(separator: " ")
            let table = ReproductionTable(reproduction, equalSteps: equalSteps, equalTime: equalTime, command: command,
                                          commit: commit, machine: machineDescription(threads: options.threads, products: recipe.products))
            let md = "\(output)/reproduce-\(name).md", csv = "\(output)/reproduce-\(name).csv"
            try write(table.markdown, to: md)
            try write(table.csv, to: csv)
            print(table.markdown)
            print(keyValues(["reproduction": name, "markdown": md, "csv": csv]))
        }
    }
}

/// The seed programs the comparisons are built from, read relative to the repository's root.
func seedsFolder(for command: String) throws -> String {
    let folder = "search-spaces/seeds"
    guard FileManager.default.fileExists(atPath: folder) else {
        throw CommandError(description: "\(folder) not found: run evolve \(command) from the repository's root")
    }
    return folder
}

/// The checked-out commit, marked -dirty when the tree has changes; "unknown" outside git.
func gitCommit() -> String {
    func git(_ args: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }
    guard let head = git(["rev-parse", "--short", "HEAD"]) else { return "unknown" }
    return head + ((git(["status", "--porcelain", "--untracked-files=no"]) ?? "").isEmpty ? "" : "-dirty")
}

/// What a figure ran on: the CPU, BLAS kernel, GEMM, threads and what the products multiply in
/// ("Intel(R) Xeon(R) Processor (2 cores), OpenBLAS Prescott kernel, GEMM evolve-avx512, 2 threads,
/// products in bfloat16-amx").
func machineDescription(threads: Int, products: Precision) -> String {
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }
        .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    return "\(cpu) (\(ProcessInfo.processInfo.activeProcessorCount) cores), OpenBLAS \(BLAS.coreName) kernel, GEMM \(Gemm.name), \(threads) thread\(threads == 1 ? "" : "s"), products in \(products.label)"
}
