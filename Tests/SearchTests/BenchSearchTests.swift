import Foundation
import Testing
import TestSupport

@Suite("bench --search")
struct BenchSearchTests {
    /// A throwaway study of the tiny space: its figures printed, its store gone after.
    @Test func printsCandidatesPerHourAndLeavesNothing() throws {
        let tiny = packageRoot.appendingPathComponent("search-spaces/tiny.yaml").path
        let temp = FileManager.default.temporaryDirectory.path
        func benchFolders() -> Set<String> {
            Set(((try? FileManager.default.contentsOfDirectory(atPath: temp)) ?? []).filter { $0.hasPrefix("evolve-bench-") })
        }
        let before = benchFolders()
        let r = try runEvolve(["bench", "--search", tiny, "--candidates", "3", "--corpus", try syntheticCorpusFile(), "--threads", "1"])
        #expect(r.status == 0, "\(r.output)")
        let last = r.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("space=tiny candidates=3 "), "\(last)")
        let figures = Dictionary(last.split(separator: " ").compactMap { pair -> (String, String)? in
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            return kv.count == 2 ? (kv[0], kv[1]) : nil
        }, uniquingKeysWith: { a, _ in a })
        #expect((Double(figures["candidates_per_hour"] ?? "") ?? 0) > 0, "\(last)")
        // The seed is first: nothing to beat at any hurdle, so it trains the full budget.
        #expect((Int(figures["full_budget_candidates"] ?? "") ?? 0) >= 1, "\(last)")
        #expect((Double(figures["full_budget_seconds"] ?? "") ?? 0) > 0, "\(last)")
        #expect(benchFolders().subtracting(before).isEmpty, "the temporary store was left behind")
    }

    @Test func aSpaceFileNeedsSearch() throws {
        let r = try runEvolve(["bench", "search-spaces/tiny.yaml"])
        #expect(r.status != 0 && r.output.contains("only with --search"), "\(r.output)")
    }
}
