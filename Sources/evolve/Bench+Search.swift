import Foundation
import Search
import Store
import Tensor
import Training

extension Bench {
    /// The search's reach: a throwaway study of the space's first `candidates` candidates
    /// (its own seed, one worker, this process) in a temporary SQLite store, deleted after;
    /// prints candidates per hour and the seconds of a candidate that passed every hurdle.
    func benchSearch() throws {
        guard candidates >= 1 else { throw CommandError(description: "--candidates must be at least 1") }
        let path = space ?? "search-spaces/primer.yaml"
        guard FileManager.default.fileExists(atPath: path) else { throw CommandError(description: "\(path): no such search-space file") }
        let s = try SearchSpace.load(path: path)
        guard data == nil || corpus == nil else { throw CommandError(description: "--corpus and --data name two texts; give one") }
        let data = try self.data.map { try Dataset(folder: $0) } ?? (corpus == nil ? s.data : nil).map { try Dataset(folder: $0) }
            ?? Dataset(path: try Corpus.locate(corpus ?? s.corpus), tokenizer: s.recipe.tokenizer, trainFraction: s.recipe.trainFraction)
        for seed in s.seeds { try data.check(context: seed.genes.context, trainFraction: s.recipe.trainFraction) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try openStore(folder.appendingPathComponent("bench.db").path)
        let evolution = try Evolution(space: s, store: store, data: data, threads: threads)
        evolution.report = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }
        try store.setTarget(study: evolution.study.id!, candidates)
        let start = Date()
        try evolution.run(until: candidates)
        let wall = Date().timeIntervalSince(start)
        let all = try store.candidates(study: evolution.study.id!).filter { $0.outcome != nil }
        // A full-budget candidate trained every band itself (its evaluations say: bands are
        // not kept in the outcome), neither reused nor failed.
        var full = [Double]()
        for c in all where c.outcome!.reusedFrom == nil && c.failed == nil {
            if try store.evaluations(c.id!).count == s.hurdles + 1 {
                full.append((c.outcome!.trainSeconds ?? 0) + (c.outcome!.overheadSeconds ?? 0))
            }
        }
        full.sort()
        print(keyValues([
            "space": s.name, "candidates": "\(all.count)", "seed": "\(s.seed)", "gemm": Gemm.name, "threads": "\(threads)",
            "precision": evolution.recipe.products.label,
            "seconds": String(format: "%.1f", wall),
            "candidates_per_hour": String(format: "%.1f", Double(all.count) / wall * 3600),
            "full_budget_candidates": "\(full.count)",
            "full_budget_seconds": full.isEmpty ? "nan" : String(format: "%.2f", full[full.count / 2]),
        ]))
    }
}
