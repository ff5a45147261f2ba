import ArgumentParser
import Compiler
import Config
import Foundation
import Program
import Search
import Store
import Training
import Yams

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a candidate (default: the best) as a config file that `evolve train` retrains to its recorded loss, or a program as a PyTorch module.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case config, pytorch }

    @Argument(help: "A candidate's ID (default: the study's best); with --format pytorch also a checkpoint folder (evolve train --save) or a program file.")
    var target: String?

    @Option(help: "config: a file evolve trains; pytorch: a Python file with class Model(nn.Module) computing the program.")
    var format = Format.config

    @Option(name: .shortAndLong, help: "Where to write it (default: <study>-<id>.yaml, or .py, in the current folder).")
    var output: String?

    @Option(parsing: .unconditional, help: "With --format pytorch, from a study or a program file: the vocabulary size (a checkpoint knows its own).")
    var vocabulary = 65

    @Option(help: "A rung of the study's ladder: the candidate's program at that rung's genes and budget, to retrain it there whether or not it climbed (its job there, where it has one).")
    var rung: Int?

    @OptionGroup var study: StudyOptions

    var id: Int64? { target.flatMap { Int64($0) } }

    func run() throws {
        try reportingErrors {
            if let target, id == nil {
                guard format == .pytorch else { throw CommandError(description: "\(target) is not a candidate ID (a number); a checkpoint or program file exports with --format pytorch") }
                return try exportPyTorch(from: target)
            }
            let (store, s) = try study.open()
            guard let c = try id.map({ try store.candidate($0) }) ?? store.best(study: s.id!), c.studyId == s.id else {
                throw CommandError(description: id.map { "no candidate #\($0) in study \(s.name)" } ?? "study \(s.name) has no completed candidate yet")
            }
            if let rung, format == .config {
                let (path, text) = try Export.file(store, s, c, atRung: rung)
                try write(text, to: output ?? path)
                return print(keyValues(["id": "\(c.id!)", "rung": "\(rung)", "format": format.rawValue, "file": output ?? path]))
            }
            guard rung == nil else { throw CommandError(description: "--rung exports a config (a program file has no budget): leave out --format pytorch") }
            let (path, text) = try Export.file(store, s, c, format, vocabulary: vocabulary)
            try write(text, to: output ?? path)
            print(keyValues(["id": "\(c.id!)", "format": format.rawValue, "val_loss": c.fitness.map { String(format: "%.4f", $0) } ?? "nan",
                             "file": output ?? path]))
        }
    }

    /// A completed candidate as a file: its default name and its text. The config retrains
    /// to the recorded loss; the PyTorch module computes the program. `evolve serve` offers both as downloads.
    static func file(_ store: Store, _ s: Study, _ c: Candidate, _ format: Format, vocabulary: Int = 65) throws -> (name: String, text: String) {
        guard c.status == .done else {
            throw CommandError(description: "#\(c.id!) \(c.failed.map { "failed (\($0))" } ?? "is \(c.status.rawValue)"); only a completed candidate can be exported")
        }
        // A result taken from a twin was measured by training the twin: export what was trained.
        guard let trained = try store.candidate(c.reusedFrom ?? c.id!), trained.completion != nil,
              let schedule = trained.scheduleSteps else {
            throw CommandError(description: "#\(c.id!) has no recorded training (status \(c.status.rawValue)\(c.failed.map { ", \($0)" } ?? ""))")
        }
        var program = try Program(text: trained.program)
        program.name = "\(s.name)-\(c.id!)"
        if format == .pytorch {
            let header = ["Candidate #\(c.id!) of study \(s.name), val_loss \(c.fitness.map { String(format: "%.4f", $0) } ?? "nan")."]
            return ("\(s.name)-\(c.id!).py", try PyTorchExport.source(program, vocabulary: vocabulary, header: header))
        }
        var recipe = try SearchSpace.recipe(text: s.space)
        recipe.seed = UInt64(trained.seed)
        recipe.steps = schedule
        recipe.replicas = trained.replicas
        if let last = try store.evaluations(trained.id!).last, last.steps < schedule { recipe.stopAfter = last.steps }
        let path = "\(s.name)-\(c.id!).yaml"
        let lineage = try store.lineage(c.id!).map { "#\($0.id!)" + ($0.mutation.map { " (\($0))" } ?? " (seed)") }
        var header = [
            "Candidate #\(c.id!) of study \(s.name) in \(store.location), generation \(c.generation).",
            "Recorded val_loss \(c.fitness.map { String(format: "%.4f", $0) } ?? "none") after "
                + "\(recipe.stopAfter ?? schedule) steps of a \(schedule)-step schedule, seed \(trained.seed), "
                + "\(trained.replicas ?? 1) replica(s).",
            "Retrain: evolve train \(path) --corpus …  (the corpus the search used)",
            "Lineage: " + lineage.joined(separator: " → "),
        ]
        if trained.id != c.id { header.insert("Its result was #\(trained.id!)'s (same program); this is #\(trained.id!)'s text and seed.", at: 1) }
        return (path, try configText(program, recipe, study: s, header: header))
    }

    /// A config's text: `header` as comments, the program, and the recipe with the study's
    /// precision where the recipe names none (as the study trained it, on any CPU).
    private static func configText(_ program: Program, _ recipe: Recipe, study s: Study, header: [String]) throws -> String {
        var recipe = recipe
        recipe.precision = recipe.precision ?? s.precision
        return header.map { "# " + $0 }.joined(separator: "\n") + "\n"
            + "program:\n" + indent(program.yaml) + "training:\n" + indent(try YAMLEncoder().encode(recipe))
    }
}

extension Export {
    /// A rung-0 candidate as a config that trains it at `rung` of the study's ladder: its job
    /// there where one finished (the recorded run, as `file` writes it), else its program with the
    /// rung's genes and the study's recipe over the rung's budget, for retraining a candidate
    /// at a rung it did not reach (a budget in steps; others resolve only when trained).
    static func file(_ store: Store, _ s: Study, _ c: Candidate, atRung rung: Int) throws -> (name: String, text: String) {
        guard let seeds = s.seeds else { throw CommandError(description: "study \(s.name) does not store its seeds; resume it once with `evolve search` first") }
        let space = try SearchSpace.parse(s.space, path: "study \(s.name)'s space", seeds: seeds)
        guard (1..<space.rungs).contains(rung) else {
            throw CommandError(description: "--rung \(rung): study \(s.name) has \(space.ladder.isEmpty ? "no ladder" : "rungs 1 to \(space.ladder.count) above rung 0")")
        }
        guard c.rung == 0 else { throw CommandError(description: "#\(c.id!) is a job at rung \(c.rung) (of #\(c.subject ?? 0)); name its rung-0 candidate with --rung") }
        if let job = try store.rungJobs(study: s.id!).filter({ $0.subject == c.id && $0.rung == rung && $0.status == .done }).min(by: { $0.id! < $1.id! }) {
            return try file(store, s, job, .config)
        }
        guard case .steps(let steps) = space.budget(rung: rung) else {
            throw CommandError(description: "--rung \(rung): the rung's budget is \(space.budget(rung: rung)), which resolves to steps only when trained; export a job that reached the rung")
        }
        var program = space.program(try Program(text: c.program), rung: rung)
        program.name = "\(s.name)-\(c.id!)-rung\(rung)"
        var recipe = space.recipe
        recipe.seed = UInt64(c.seed)
        recipe.steps = steps
        let path = "\(program.name).yaml"
        let header = [
            "Candidate #\(c.id!) of study \(s.name) in \(store.location) at rung \(rung) of its ladder, where it has no job: "
                + "its program with the rung's genes, \(steps) steps of the study's recipe, seed \(c.seed).",
            "Retrain: evolve train \(path) --corpus …  (the corpus the search used)",
        ]
        return (path, try configText(program, recipe, study: s, header: header))
    }

    /// A checkpoint folder (its program and vocabulary) or a program file, as PyTorch.
    func exportPyTorch(from path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw CommandError(description: "\(path): no such file or folder") }
        let program: Program, vocab: Int, origin: String
        if isDir.boolValue {
            let dir = try Checkpoint.complete(path)
            guard let text = try Checkpoint.file("program.program", in: dir) else { throw CommandError(description: "\(dir): a checkpoint without program.program") }
            program = try Program(text: text)
            guard let wte = try Safetensors.read(dir + "/model.safetensors").tensors["wte"], wte.shape.count == 2 else {
                throw CommandError(description: "\(dir)/model.safetensors has no token embedding wte")
            }
            (vocab, origin) = (wte.shape[0], "the checkpoint in \(path)")
        } else {
            program = try TrainConfig.trainable(path).0
            (vocab, origin) = (vocabulary, path)
        }
        let file = output ?? "\(program.name).py"
        try write(try PyTorchExport.source(program, vocabulary: vocab, header: ["From \(origin)."]), to: file)
        print(keyValues(["program": program.name, "format": "pytorch", "vocabulary": "\(vocab)", "file": file]))
    }
}

private func indent(_ yaml: String) -> String {
    yaml.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }
        .joined(separator: "\n")
}
