import Foundation
import Store

/// Everything a study's pages draw, read from the store in a few queries (not one per
/// candidate), so that a page of a study of thousands of candidates is drawn in one pass.
public struct StudySnapshot: Sendable {
    public let study: Study
    public let location: String
    /// Every candidate, by id.
    public let candidates: [Candidate]
    /// Completed candidates, in order of completion.
    public let completed: [Candidate]
    public let evaluations: [Int64: [Evaluation]]
    public let counts: Counts
    /// The population size (the space's P), for the "population now" plot.
    public let population: Int
    /// The ladder of scales as its rows stand; nil where no candidate has a rung job.
    public let ladder: LadderResults?
    /// The rung jobs (rows at rung 1 and above), by id.
    public let jobs: [Candidate]
    private let index: [Int64: Int]

    public init(study: Study, location: String, candidates: [Candidate], evaluations: [Int64: [Evaluation]], population: Int,
                jobs: [Candidate] = []) {
        self.study = study; self.location = location; self.evaluations = evaluations; self.population = population
        self.jobs = jobs.sorted { $0.id! < $1.id! }
        ladder = jobs.isEmpty ? nil : LadderResults(candidates: candidates, jobs: jobs, evaluations: evaluations)
        self.candidates = candidates.sorted { $0.id! < $1.id! }
        completed = candidates.filter { $0.completion != nil }.sorted { $0.completion! < $1.completion! }
        index = Dictionary(uniqueKeysWithValues: self.candidates.enumerated().map { ($0.element.id!, $0.offset) })
        var c = Counts()
        for x in candidates {
            switch x.status { case .queued: c.queued += 1; case .running: c.running += 1; case .done: c.done += 1; case .failed: c.failed += 1 }
        }
        counts = c
    }

    public static func read(_ store: Store, study: Study, population: Int) throws -> StudySnapshot {
        StudySnapshot(study: study, location: store.location, candidates: try store.candidates(study: study.id!),
                      evaluations: try store.evaluations(study: study.id!), population: population,
                      jobs: try store.rungJobs(study: study.id!))
    }

    public func candidate(_ id: Int64) -> Candidate? { index[id].map { candidates[$0] } }

    /// The bands a candidate's result was measured in (its twin's, where it took the twin's).
    public func bands(_ c: Candidate) -> [Evaluation] { evaluations[c.reusedFrom ?? c.id!] ?? [] }

    /// The best completed candidate: the lowest finite loss, the earlier on a tie (as `Store.best`).
    public var best: Candidate? {
        completed.filter { $0.status == .done && $0.fitness != nil }.min { ($0.fitness!, $0.completion!) < ($1.fitness!, $1.completion!) }
    }

    /// The candidate and its ancestors, oldest first.
    public func lineage(_ id: Int64) -> [Candidate] {
        var chain = [Candidate](), next: Int64? = id
        while let i = next, let c = candidate(i), chain.count <= candidates.count {
            chain.append(c)
            next = c.parentId
        }
        return chain.reversed()
    }

    /// A child's change in loss against its parent at equal steps (`Store.changeAgainstParent`, from memory).
    public func changeAgainstParent(_ c: Candidate) -> Double? {
        guard let p = c.parentId.flatMap(candidate), let last = bands(c).last, let loss = last.loss else { return nil }
        return bands(p).first { $0.band == last.band && $0.steps == last.steps }?.loss.map { loss - $0 }
    }

    /// The best loss so far after each completion that lowered it, then at the last completion.
    public var bestSoFar: [(x: Double, y: Double)] {
        var best = Double.infinity, curve = [(x: Double, y: Double)]()
        for (n, c) in completed.enumerated() {
            if let f = c.fitness, f < best { best = f; curve.append((Double(n + 1), f)) }
        }
        if !curve.isEmpty { curve.append((Double(completed.count), best)) }
        return curve
    }
}
