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
            let evolution = try Evolution(space: space, store: store, data: data, threads: options.threads)
            let finished = try work(evolution, until: target, lease: worker.lease, display: display, stop: StopSignal.install())
            try finish(store, s, finished: finished)
        }
    }
}
