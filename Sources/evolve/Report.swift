import ArgumentParser
import Config
import Foundation
import Report
import Store

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML page about a study: fitness over time, best so far, population, hurdle bands, the best program's listing and lineage.")

    @Option(name: .shortAndLong, help: "Where to write it (default: beside the database, DB.html, or DB-STUDY.html when it holds several studies; results/STUDY.html for PostgreSQL).")
    var output: String?

    @OptionGroup var study: StudyOptions

    func run() throws {
        try reportingErrors {
            let (store, s) = try study.open()
            let space = try? YAMLFile.decode(SpaceDocument.self, from: s.space, file: "the study's space")
            let page = try StudyReport(store: store, study: s, population: space?.population ?? 100).html()
            // Beside the database, under its name: never over a file of the repository.
            let several = try store.studies().count > 1
            let path = output ?? ((isPostgresURL(store.location) ? "results/\(s.name)" : store.location + (several ? "-\(s.name)" : "")) + ".html")
            try write(page, to: path)
            print(keyValues(["study": s.name, "file": path]))
        }
    }
}
