import Compiler
import Config
import Foundation
import Program
import Training

/// A rung of a ladder of scales above rung 0 (Genesys's "ladder"): the genes a job at it
/// trains with, and its budget. Rung 0 is the space's own evaluation (its genes, budget and
/// hurdles); a candidate that ranks in the top `promote` of a rung is trained again at the
/// next, larger one.
public struct Rung: Sendable, Equatable {
    /// The genes set at this rung (those of the rungs below it included); nil: the candidate's own.
    public var dModel, layers, heads, context: Int?
    public var budget: Budget

    /// Validation losses a job above rung 0 records, at points halving back from its end: a
    /// speedup is read off curves by interpolation, so one spanning 16x in compute reads
    /// speedups up to 16x (a program that reaches the loss before the first point counts as
    /// reaching it there). Each costs one validation pass, ~1% of a rung job's training.
    public static let checkpoints = 5

    /// `genes` with this rung's values.
    public func apply(to genes: inout Genes) {
        if let d = dModel { genes.dModel = d }
        if let l = layers { genes.layers = l }
        if let h = heads { genes.heads = h }
        if let t = context { genes.context = t }
    }
}

extension SearchSpace {
    /// How many rungs the ladder has, rung 0 included (1: no ladder).
    public var rungs: Int { ladder.count + 1 }

    /// The training budget of a job at `rung`.
    public func budget(rung: Int) -> Budget { rung == 0 ? budget : ladder[rung - 1].budget }

    /// A candidate's program as a job at `rung` trains it: its block, the rung's genes.
    public func program(_ p: Program, rung: Int) -> Program {
        guard rung > 0 else { return p }
        var q = p
        ladder[rung - 1].apply(to: &q.genes)
        return q
    }

    /// Steps at the end of each band of a job at `rung`: hurdles hold at rung 0 only; a job
    /// above it trains its whole budget, its validation loss recorded at `Rung.checkpoints`
    /// points that halve back from the end (1/16, 1/8, 1/4, 1/2 and all of it) — the curve its
    /// compute speedup over the seed's reference jobs there is read from, in log-FLOPs.
    public func bandEnds(steps: Int, rung: Int) -> [Int] {
        guard rung > 0 else { return bandEnds(steps: steps) }
        let n = max(1, steps)
        return Array(Set((0..<Rung.checkpoints).map { max(1, n >> (Rung.checkpoints - 1 - $0)) })).sorted()
    }

    /// Refuses, before anything is written, a seed at any rung that the data or this
    /// machine's memory cannot train: a context longer than the splits, or a model whose
    /// training at the space's batch would not fit (the compiler's estimate).
    public func checkFits(_ data: Dataset) throws {
        for rung in 0..<rungs {
            for seed in seeds {
                let p = program(seed, rung: rung)
                do {
                    try data.check(context: p.genes.context, trainFraction: recipe.trainFraction)
                    try Compiler(p, vocabulary: data.tokenizer.vocabularySize).checkMemory(batch: recipe.batchSize)
                } catch where rung > 0 {
                    throw SearchError("\(name): ladder: rung \(rung): \(error)")
                }
            }
        }
    }
}

extension SpaceFile {
    /// The vocabulary rungs' FLOPs are compared at (a rung's order does not depend on it:
    /// FLOPs per token grow with d_model, layers and context whatever the vocabulary).
    static let comparisonVocabulary = 256

    /// `ladder:` as rungs, each with the genes of those below it, refused unless every seed
    /// validates at every rung and every rung is larger than the one below: no gene of
    /// d_model, layers and context smaller, and more FLOPs per token.
    func ladder(seeds: [Program]) throws -> [Rung] {
        var rungs = [Rung](), below = Rung(budget: .steps(1))
        for (i, r) in document.ladder.enumerated() {
            let rung = Rung(dModel: r.dModel ?? below.dModel, layers: r.layers ?? below.layers, heads: r.heads ?? below.heads,
                            context: r.context ?? below.context, budget: try budget(r.budget, key: "ladder: rung \(i + 1): budget"))
            defer { below = rung }
            for seed in seeds {
                var lower = seed, upper = seed
                below.apply(to: &lower.genes)
                rung.apply(to: &upper.genes)
                try check(upper, above: lower, rung: i + 1)
            }
            rungs.append(rung)
        }
        return rungs
    }

    /// One seed at `rung` (`upper`) against itself at the rung below.
    func check(_ upper: Program, above lower: Program, rung: Int) throws {
        let at = "ladder: rung \(rung)"
        do { try upper.validate() } catch { throw fail("\(at): seed \(upper.name) with its genes: \(error)") }
        let (u, l) = (upper.genes, lower.genes)
        for (gene, a, b) in [("d_model", u.dModel, l.dModel), ("layers", u.layers, l.layers), ("context", u.context, l.context)] where a < b {
            throw fail("\(at): \(gene) \(a) is smaller than the rung below's \(b) (a rung is a larger model)")
        }
        let v = SpaceFile.comparisonVocabulary
        guard let fu = try? upper.cost(vocabulary: v).flopsPerToken, let fl = try? lower.cost(vocabulary: v).flopsPerToken else {
            throw fail("\(at): seed \(upper.name)'s cost cannot be counted at these genes")
        }
        guard fu > fl else {
            throw fail("\(at): seed \(upper.name) has \(fu) FLOPs per token, not more than the rung below's \(fl) (a rung is a larger model)")
        }
    }
}
