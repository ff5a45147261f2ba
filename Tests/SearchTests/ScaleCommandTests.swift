import Foundation
import Testing
import TestSupport

/// `evolve scale` goes on from its own CSV: each run reaches the file as it ends, and the same
/// command with `--reuse` of it trains only what is missing, leaving the runs it read as they were.
@Suite("scale command")
struct ScaleCommandTests {
    let vanilla = packageRoot.appendingPathComponent("search-spaces/seeds/vanilla.program").path
    let ez = packageRoot.appendingPathComponent("search-spaces/seeds/primer-ez.program").path

    @Test func goesOnFromItsOwnTable() throws {
        let corpus = try syntheticCorpusFile()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-scale-\(UUID())").path
        let csv = "\(out)/scale-t.csv"
        func arguments(_ seeds: String, reuse: Bool) -> [String] {
            ["scale", vanilla, ez, "--sizes", "32", "--seeds", seeds, "--steps", "200", "--threads", "1", "--corpus", corpus,
             "--name", "t", "--output", out] + (reuse ? ["--reuse", csv] : [])
        }
        // killed (SIGKILL) once its first run has ended
        let (p, pipe) = try startEvolve(arguments("1", reuse: false))
        var heard = ""
        while p.isRunning && !heard.contains("seed 1: val_loss") {
            heard += String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(heard.contains("vanilla d32-L1 seed 1: val_loss"), "\(heard)")
        let killed = try String(contentsOfFile: csv, encoding: .utf8)
        let lines = killed.split(separator: "\n").count
        #expect(lines == 1 + 8 || lines == 1 + 2 * 8, "\(killed)")   // header and every checkpoint of the runs that ended

        let again = try runEvolve(arguments("1,2", reuse: true))
        #expect(again.status == 0, "\(again.output)")
        #expect(!again.output.contains("vanilla d32-L1 seed 1: val_loss"), "\(again.output)")   // read, not trained
        #expect(again.output.contains("vanilla d32-L1 seed 2: val_loss"), "\(again.output)")
        let all = try String(contentsOfFile: csv, encoding: .utf8)
        #expect(all.split(separator: "\n").count == 1 + 4 * 8)
        let rows = { (text: String) in Set(text.split(separator: "\n")) }
        #expect(rows(killed).isSubset(of: rows(all)))
        let md = try String(contentsOfFile: "\(out)/scale-t.md", encoding: .utf8)
        #expect(md.contains("\((lines - 1) / 8) runs read from `\(csv)`"), "\(md)")

        // the table is never overwritten unread, nor rewritten without runs it holds
        let unread = try runEvolve(arguments("1,2", reuse: false))
        #expect(unread.status != 0 && unread.output.contains("scale-t.csv exists: go on from it with --reuse"), "\(unread.output)")
        let narrower = try runEvolve(arguments("2", reuse: true))
        #expect(narrower.status != 0 && narrower.output.contains("it holds 2 runs of other programs, sizes or seeds"), "\(narrower.output)")
        #expect(try String(contentsOfFile: csv, encoding: .utf8) == all)
    }
}
