import ArgumentParser
import Config
import Experiments
import Foundation
import Program
import Store
import Training

struct Scale: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train programs at several model sizes and seeds: validation loss against training compute, and each program's compute speedup over the first at every size (Primer's evaluation). Writes results/scale-NAME.md, .csv and .svg.")

    @Argument(help: "Program files; the first is the reference. With --from-study, leave them out.")
    var programs: [String] = []

    @Flag(help: "Compare the study's best candidate against its seed (the study from --db / --study).")
    var fromStudy = false

    @Option(help: "Model widths (d_model); each gets d_model/32 layers and heads, as the baseline's 128 has 4.")
    var sizes = "64,128,192"

    @Option(help: "Training seeds, comma-separated.")
    var seeds = "1,2"

    @Option(parsing: .unconditional, help: "Training steps of every run (default: the recipe's).")
    var steps: Int?

    @Option(help: "A config whose training recipe to use (default: the baseline recipe).")
    var config: String?

    @Option(help: "An earlier table's CSV (results/scale-NAME.csv): its runs of these programs, sizes and seeds are taken as they are, not trained again, so a comparison grows by seeds across sessions or machines. Repeatable.")
    var reuse: [String] = []

    @Option(help: "The name in the output files (default: the programs' names).")
    var name: String?

    @Option(help: "Folder for the tables and the plot.")
    var output = "results"

    @OptionGroup var study: StudyOptions

    @OptionGroup var options: RunOptions

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            try options.check()
            let widths = try list(sizes, "--sizes").compactMap { Int($0) }
            let seedList = try list(seeds, "--seeds").compactMap { UInt64($0) }
            guard widths.allSatisfy({ $0 >= 32 && $0 % 32 == 0 }) else { throw CommandError(description: "--sizes: widths are multiples of 32, e.g. 64,128,192") }
            guard widths.count >= 1, !seedList.isEmpty else { throw CommandError(description: "--sizes and --seeds need at least one value each") }
            let scaling = Scaling(programs: try loadPrograms(), sizes: Scaling.sizes(widths))
            let file = try config.map { try TrainConfig.load(path: $0) }
            var recipe = file?.recipe ?? Recipe()
            recipe.stopAfter = nil   // every run is validated at all its checkpoints
            if let steps { recipe.steps = steps }
            guard recipe.steps >= scaling.checkpoints else { throw CommandError(description: "--steps (or the config's steps) must be at least \(scaling.checkpoints)") }
            let data = try options.dataset(recipe, fallbackData: file?.data)
            for p in scaling.programs.indices { for s in scaling.sizes.indices {
                try data.check(context: scaling.program(p, at: s).genes.context, trainFraction: recipe.trainFraction)
                try scaling.program(p, at: s).validate()
            } }
            let label = name ?? scaling.programs.map(\.name).joined(separator: "-vs-")
            for ext in ["md", "csv", "svg"] { try checkCanWrite("\(output)/scale-\(label).\(ext)") }
            let base = "\(output)/scale-\(label)"
            // The CSV is rewritten as runs end: a table already there must be read first, and
            // not lose a run this comparison would leave out.
            let own = URL(fileURLWithPath: base + ".csv").standardizedFileURL.path
            let isOwn = { (file: String) in URL(fileURLWithPath: file).standardizedFileURL.path == own }
            if FileManager.default.fileExists(atPath: own) && !reuse.contains(where: isOwn) {
                throw CommandError(description: "\(base).csv exists: go on from it with --reuse \(base).csv, or choose another --name")
            }
            var reused = [Scaling.Run](), notes = [String]()
            for file in reuse {
                let text: String
                do { text = try TextFile.read(file) } catch { throw CommandError(description: "--reuse: \(error)") }
                let table: Scaling.Reused
                do { table = try scaling.reused(csv: text, seeds: seedList, recipe: recipe, vocabulary: data.tokenizer.vocabularySize) } catch {
                    throw CommandError(description: "--reuse \(file): \(error)")
                }
                if isOwn(file) && table.others > 0 {
                    throw CommandError(description: "--reuse \(file): it holds \(table.others) runs of other programs, sizes or seeds, "
                                       + "which rewriting it would drop: ask for them too, or choose another --name")
                }
                let new = table.runs.filter { r in !reused.contains { $0.slot == r.slot } }
                reused += new
                let seeds = Set(new.map(\.seed)).sorted().map(String.init).joined(separator: ", ")
                let sizes = Set(new.map(\.size)).sorted().map { "\(scaling.sizes[$0])" }.joined(separator: ", ")
                var note = new.isEmpty ? "no run read from `\(file)`" : "\(new.count) runs read from `\(file)` (seeds \(seeds) at \(sizes)), not trained by this command"
                if !table.recipeRecorded {
                    note += "; an older table, which records no steps, batch or precision: its runs matched this recipe on their checkpoints' training FLOPs alone"
                }
                notes.append(note)
            }
            let commit = gitCommit()
            // Each run's checkpoints reach the CSV as the run ends, so a killed comparison goes
            // on from where it was with --reuse of that file.
            var done = reused
            print("each run is added to \(base).csv as it ends; if this is stopped, the same command with --reuse \(base).csv goes on from there")
            fflush(stdout)
            let runs = try scaling.run(recipe: recipe, seeds: seedList, data: data, threads: options.threads, reused: reused) { run, what in
                done.append(run)
                try write(ScalingTable(scaling: scaling, runs: done, recipe: recipe, seeds: seedList, command: "", commit: "", machine: "").csv,
                           to: base + ".csv")
                print(String(format: "%@: val_loss %.4f after %.3g training FLOPs", what, run.curve.last!.loss, run.curve.last!.flops))
                fflush(stdout)
            }
            let table = ScalingTable(scaling: scaling, runs: runs, recipe: recipe, seeds: seedList,
                                   command: (["evolve"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
                                   commit: commit, machine: machineDescription(threads: options.threads, products: recipe.products),
                                   notes: notes)
            try write(table.markdown(plot: "scale-\(label).svg"), to: base + ".md")
            try write(table.csv, to: base + ".csv")
            try write(table.plot, to: base + ".svg")
            print(keyValues(["table": base + ".md", "plot": base + ".svg"] ) + " " + table.speedups.map { "speedup_\($0.size)=\($0.value.map { String(format: "%.2f", $0) } ?? "nan")" }.joined(separator: " "))
        }
    }

    func list(_ text: String, _ flag: String) throws -> [String] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.isEmpty, parts.allSatisfy({ Int($0) != nil && Int($0)! > 0 }) else {
            throw CommandError(description: "\(flag): a comma-separated list of positive integers")
        }
        return parts
    }

    /// The files given, or a study's seed and best.
    func loadPrograms() throws -> [Program] {
        guard fromStudy else {
            guard programs.count >= 2 else { throw CommandError(description: "give two or more program files (the first is the reference), or --from-study") }
            return try programs.map { try TrainConfig.trainable($0).0 }
        }
        guard programs.isEmpty else { throw CommandError(description: "--from-study takes no program files") }
        let (store, s) = try study.open()
        guard let best = try store.best(study: s.id!), let root = try store.lineage(best.id!).first else {
            throw CommandError(description: "study \(s.name) has no completed candidate yet")
        }
        guard root.id != best.id else { throw CommandError(description: "study \(s.name)'s best is its seed (#\(best.id!)): nothing to compare") }
        return [try Program(text: root.program), try Program(text: best.listing(in: s))]
    }
}
