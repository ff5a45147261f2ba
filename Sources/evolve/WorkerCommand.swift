import ArgumentParser
import Foundation
import Search
import Store
import Training

/// Joins a study from any host: everything but the corpus comes from the database (the space
/// file's text and the seed programs, stored when the study began), so a worker needs only
/// the URL and the same text.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Work on a study another host started (search space and seeds from the database); the last line is key=value pairs.")

    @OptionGroup var studyOptions: StudyOptions

    @OptionGroup var worker: WorkerOptions

    @OptionGroup var options: RunOptions

    @Option(help: "Who trains this worker's jobs: evolve (its own engine) or pytorch (the program exported as a module, trained in PyTorch: a GPU host's).")
    var engine: EngineName = .evolve

    @Option(help: "With --engine pytorch: cpu, cuda or cuda:N.")
    var device: String?

    @Option(help: "With --engine pytorch: a Python with torch and numpy (default: $EVOLVE_PYTHON, else ~/.cache/evolve-venv/bin/python).")
    var python: String?

    @Option(help: "Take only the jobs of these rungs of the study's ladder, e.g. 1,2 (default: all; without 0 it makes no new candidates).")
    var rungs: String?

    enum EngineName: String, ExpressibleByArgument, CaseIterable { case evolve, pytorch }

    /// The engine the options name, checked (torch importable, the device there) before anything is claimed.
    func trainingEngine(threads: Int) throws -> TrainingEngine {
        guard engine == .pytorch else {
            if device != nil || python != nil { throw CommandError(description: "--device and --python go with --engine pytorch") }
            return .evolve
        }
        return .pytorch(try TorchEngine(python: python ?? TorchEngine.defaultPython, device: device ?? "cpu", threads: threads))
    }

    /// The rungs `--rungs` names, each a rung of `space`'s ladder; nil without the option.
    func chosenRungs(_ space: SearchSpace) throws -> [Int]? {
        guard let rungs else { return nil }
        let top = space.ladder.count
        let numbers = try rungs.split(separator: ",", omittingEmptySubsequences: false).map { word -> Int in
            guard let r = Int(word.trimmingCharacters(in: .whitespaces)), (0...top).contains(r) else {
                throw CommandError(description: "--rungs \(rungs): '\(word)' is not a rung of study \(space.name) (0 to \(top))")
            }
            return r
        }
        return Array(Set(numbers)).sorted()
    }

    func run() throws {
        warnIfDebugBuild()
        try reportingErrors {
            try options.check()
            try worker.check()
            let display = SearchDisplay()
            let (store, s) = try studyOptions.open(writing: true, reconnection: worker.reconnection(display))
            guard let seeds = s.seeds, let target = s.target else {
                throw CommandError(description: "study \(s.name) was started by an evolve that did not store its seeds; resume it once with `evolve search` first")
            }
            let space = try SearchSpace.parse(s.space, path: "study \(s.name)'s space", seeds: seeds)
            let data = try options.dataset(space.recipe)
            if let needed = s.corpusSha256, needed != data.sha256 {
                throw CommandError(description: "study \(s.name) trains on the text with sha256 \(needed.prefix(12))… (read from \(s.corpusPath ?? "an unknown path") where it began); \(data.path ?? "this text") is other text: pass that one with --corpus or --data")
            }
            try space.checkFits(data)
            let rungs = try chosenRungs(space)
            let trainingEngine = try trainingEngine(threads: options.threads)
            if case .pytorch = trainingEngine, let r = (rungs ?? Array(0...space.ladder.count)).first(where: {
                if case .seconds = space.budget(rung: $0) { return true } else { return false } }) {
                throw CommandError(description: "--engine pytorch: rung \(r)'s budget is in seconds, which times evolve's engine; take other rungs with --rungs")
            }
            let evolution = try Evolution(space: space, store: store, data: data, threads: options.threads)
            evolution.engine = trainingEngine
            evolution.rungs = rungs
            let finished = try work(evolution, until: target, lease: worker.lease, display: display, stop: StopSignal.install())
            try finish(store, s, finished: finished)
        }
    }
}
