import ArgumentParser
import Experiments
import Foundation

struct Claims: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the seed papers' claims against the reproduction tables (results/reproduce-NAME.csv); write results/claims.md.")

    @Option(help: "Folder holding the tables, and where claims.md goes.")
    var results = "results"

    func run() throws {
        try reportingErrors {
            let folder = try seedsFolder(for: "claims")
            var md = "# The seed papers' claims, checked\n\n"
            md += "- command: `evolve \(CommandLine.arguments.dropFirst().joined(separator: " "))`\n- commit: `\(gitCommit())`\n"
            md += "- each section reads `reproduce-NAME.csv`; the command, commit and machine that measured it are in `reproduce-NAME.md`.\n"
            var found = 0
            for name in Reproduction.names {
                let csv = "\(results)/reproduce-\(name).csv"
                guard let text = try? String(contentsOfFile: csv, encoding: .utf8) else { continue }
                let reproduction = try Reproduction.named(name, seeds: folder)
                let table: ReproductionTable
                do { table = try ReproductionTable(reproduction, csv: text, command: "", commit: "", machine: "") } catch {
                    throw CommandError(description: "\(csv): \(error)")
                }
                let steps = table.equalSteps.first?.steps ?? 0
                md += "\n## \(name): [reproduce-\(name).md](reproduce-\(name).md), \(steps) steps\n\n\(reproduction.summary).\n\n"
                md += table.claimsMarkdown
                found += 1
            }
            guard found > 0 else { throw CommandError(description: "\(results): no reproduce-NAME.csv (run evolve reproduce NAME first)") }
            let path = "\(results)/claims.md"
            try write(md, to: path)
            print(md)
            print(keyValues(["tables": "\(found)", "claims": path]))
        }
    }
}
