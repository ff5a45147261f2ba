import Foundation
import Testing
@testable import Experiments
import Program
import TestSupport
import Training

/// The tables' CSV: labels are free text, and every one must read back as the same field,
/// both here and in Python's csv module (the reader a user is likeliest to reach for).
@Suite("CSV")
struct CSVTests {
    static let awkward = ["plain", "", " spaced ", "a,b", "say \"hi\"", "\"", "\"\"", "\"quoted\"", "line\nbreak", "cr\rhere",
                          "crlf\r\nend", ",\"\n", "trailing,", "naïve café", "日本語", "emoji 🧪,🚀", "quote, then a combining mark \"\u{301}",
                          "עברית, RTL"]

    /// Fields compared scalar by scalar (String's == would let a composed é equal a decomposed one).
    static func scalars(_ records: [[String]]) -> [[[Unicode.Scalar]]] {
        records.map { $0.map { Array($0.unicodeScalars) } }
    }

    /// The records Python's csv module reads from `text`; nil (and a note) where there is no checking Python.
    static func pythonRecords(_ text: String) throws -> [[String]]? {
        guard let python = checkingPython() else {
            #expect(!runningInCI, "CI has no Python to read the CSV back")
            print("CSV: no Python to read the tables back with; set EVOLVE_PYTHON")
            return nil
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-csv-\(UUID().uuidString).csv").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = "import csv, json, sys\nwith open(sys.argv[1], newline='', encoding='utf-8') as f:\n    print(json.dumps(list(csv.reader(f))))"
        let (status, output) = try runPython(python, script, [path])
        try #require(status == 0, "\(output)")
        return try JSONDecoder().decode([[String]].self, from: Data(output.utf8))
    }

    @Test func awkwardFieldsReadBack() throws {
        let records = Self.awkward.map { [$0, "1", $0] } + [Self.awkward]
        let text = records.map(CSV.line).joined()
        #expect(Self.scalars(try CSV.records(text)) == Self.scalars(records))
        if let python = try Self.pythonRecords(text) { #expect(Self.scalars(python) == Self.scalars(records)) }
        // Only fields that need it are quoted.
        #expect(CSV.line(["plain", "d64-L2", "2.5", ""]) == "plain,d64-L2,2.5,\n")
        #expect(CSV.line(["say \"hi\"", "a,b"]) == "\"say \"\"hi\"\"\",\"a,b\"\n")
    }

    @Test func malformedQuotesAreRefused() throws {
        for text in ["a,\"b\n", "a,b\"c\n", "\"a\"b,c\n"] {
            #expect(throws: CSVError.self, "\(text.debugDescription)") { try CSV.records(text) }
        }
        // CRLF line ends and blank lines, as a spreadsheet may save them.
        #expect(try CSV.records("a,b\r\n\r\n\"c\",d\r\n") == [["a", "b"], ["c", "d"]])
    }

    /// A reproduction whose variants carry the awkward labels: its CSV reads back into the
    /// same runs, and a table written before quoting was by need (every label quoted) still reads.
    @Test func reproductionTableReadsBackAwkwardLabels() throws {
        let seeds = packageRoot.appendingPathComponent("search-spaces/seeds").path
        let program = try Reproduction.named("primer", seeds: seeds).variants[0].program
        let r = Reproduction(name: "labels", summary: "", variants: Self.awkward.map { .init(label: $0, program: program) })
        let runs = Self.awkward.indices.map {
            Reproduction.Run(variant: $0, seed: 1, steps: 10, valLoss: 2 + Double($0) / 8, seconds: 1.5, tokensPerSecond: 100,
                             parameters: 5, flopsPerToken: 9)
        }
        let table = ReproductionTable(r, equalSteps: runs, equalTime: runs, command: "", commit: "", machine: "")
        let again = try ReproductionTable(r, csv: table.csv, command: "", commit: "", machine: "")
        #expect(again.equalSteps.map(\.variant) == runs.map(\.variant) && again.equalTime.map(\.valLoss) == runs.map(\.valLoss))
        if let python = try Self.pythonRecords(table.csv) { #expect(Self.scalars(python) == Self.scalars(try CSV.records(table.csv))) }

        let primer = try Reproduction.named("primer", seeds: seeds)
        // The first lines of results/reproduce-primer.csv as the writer of 2026-11-24 wrote them.
        let old = """
            comparison,variant,seed,steps,val_loss,seconds,tokens_per_s,params,flops_per_token
            equal_steps,"vanilla (GELU)",1,2000,1.90436,152.86,10049,804096,1731864
            equal_steps,"ReLU",1,2000,1.83148,184.76,8313,804096,1731864
            equal_time,"vanilla (GELU)",1,2000,1.90436,152.86,10049,804096,1731864
            equal_time,"vanilla (GELU)",2,2000,1.89048,171.20,8972,804096,1731864

            """
        let read = try ReproductionTable(primer, csv: old, command: "", commit: "", machine: "")
        #expect(read.equalSteps.count + read.equalTime.count == old.split(separator: "\n").count - 1)
        #expect(read.csv.split(separator: "\n").count == old.split(separator: "\n").count)
    }

    /// A scaling table's CSV names programs by free text too.
    @Test func scalingTableQuotesProgramNames() throws {
        let seeds = packageRoot.appendingPathComponent("search-spaces/seeds").path
        let base = try Reproduction.named("primer", seeds: seeds).variants[0].program
        let programs = Self.awkward.map { name -> Program in
            var p = base
            p.name = name
            return p
        }
        let scaling = Scaling(programs: programs, sizes: Scaling.sizes([64]))
        let runs = programs.indices.map {
            Scaling.Run(program: $0, size: 0, seed: 1, parameters: 106880, flopsPerToken: 240524,
                        curve: [(69270912000.0, 2.6961486477032732), (138541824000.0, 2.5)])
        }
        let table = ScalingTable(scaling: scaling, runs: runs, recipe: .init(), seeds: [1], command: "", commit: "", machine: "")
        let records = try CSV.records(table.csv)
        #expect(Self.scalars(records.dropFirst().map { $0[0] }.map { [$0] }) == Self.scalars(Self.awkward.flatMap { [[$0], [$0]] }))
        #expect(table.csv.contains("\nplain,d64-L2,64,2,1,106880,240524,69270912000.0,2.6961486477032732,\(Recipe().steps),\(Recipe().batchSize),\(Recipe().products.rawValue)\n"))
        if let python = try Self.pythonRecords(table.csv) { #expect(Self.scalars(python) == Self.scalars(records)) }
    }
}
