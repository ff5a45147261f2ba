import ArgumentParser
import Foundation
import Store

/// Moves a study between databases (a laptop's SQLite file and a cluster's PostgreSQL, either
/// way): ids, completion order and evaluations kept, so the copy resumes where it stood.
struct Copy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a study (candidates, evaluations, lineage) from one database to another; the last line is key=value pairs.")

    @Argument(help: "The database to copy from: a file or a postgres:// URL.")
    var from: String

    @Argument(help: "The database to copy into (made if it is a new file; a PostgreSQL database must exist).")
    var to: String

    @Option(help: "The study to copy (default: every study in FROM).")
    var study: String?

    func run() throws {
        try reportingErrors {
            guard let source = try openExistingStore(from) else { throw CommandError(description: "\(from): no such database, or no study in it") }
            let all = try source.studies()
            let chosen = study.map { name in all.filter { $0.name == name } } ?? all
            guard !chosen.isEmpty else {
                throw CommandError(description: study.map { "\(from) has no study '\($0)' (it has: \(all.map(\.name).joined(separator: ", ")))" }
                                   ?? "\(from) holds no study")
            }
            let target = try openStore(to)
            var total = CopySummary()
            for s in chosen {
                let done = try target.copy(s, from: source)
                print("\(s.name): \(done.candidates) candidates, \(done.evaluations) evaluations"
                      + (done.requeued > 0 ? "; \(done.requeued) that were running are queued again" : ""))
                total.candidates += done.candidates; total.evaluations += done.evaluations; total.requeued += done.requeued
            }
            print(keyValues(["studies": "\(chosen.count)", "candidates": "\(total.candidates)",
                             "evaluations": "\(total.evaluations)", "requeued": "\(total.requeued)"]))
        }
    }
}
