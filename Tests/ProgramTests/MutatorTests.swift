import Primitives
import Testing
import TestSupport
import Tensor
@testable import Program

@Suite("mutations")
struct MutatorTests {
    /// Every kind, alone: valid children whose canonical hash differs from the parent's.
    @Test(arguments: MutationKind.allCases)
    func eachKindMakesAValidDifferentChild(_ kind: MutationKind) throws {
        // The vanilla block is one chain: no swap of two of its instructions is both valid
        // and new. A block with independent instructions shows swaps.
        var parent = kind == .swap ? try program("DENSE s0 dim=8\nSIN s0\nADD s1 s2\nMULTIPLY s3 s1\nADD s0 s4")
            : try seed(kind == .router || kind == .experts ? "switch-moe" : "vanilla")
        if kind == .experts { parent.genes.topk = 1 }
        var weights = Dictionary(uniqueKeysWithValues: MutationKind.allCases.map { ($0, 0.0) })
        weights[kind] = 1
        let m = Mutator(weights: weights)
        var rng = Xoshiro(seed: 7)
        for _ in 0..<20 {
            let child = try m.mutate(parent, using: &rng)
            #expect(child.kind == kind)
            #expect(child.description.hasPrefix(kind.rawValue))
            try child.program.validate()
            #expect(child.program.hash != parent.hash)
        }
    }

    /// The same generator state gives the same children.
    @Test func deterministic() throws {
        let parent = try seed("vanilla")
        func lineage(_ s: UInt64) throws -> [String] {
            var rng = Xoshiro(seed: s), p = parent, out = [String]()
            for _ in 0..<30 {
                let c = try Mutator().mutate(p, using: &rng)
                out.append(c.program.hash + " " + c.description)
                p = c.program
            }
            return out
        }
        #expect(try lineage(1) == lineage(1))
        #expect(try lineage(1) != lineage(2))
    }

    @Test func insertAndDeleteKeepReferences() throws {
        let p = try program("DENSE s0 dim=8\nRELU s1\nADD s0 s2")
        // Inserting before s2 keeps every reader on the state it read.
        let ins = inserting(Instruction(.sin, 1), at: 1, into: p.subprograms[0].instructions)
        #expect(ins.map(\.text) == ["DENSE s0 dim=8", "SIN s1", "RELU s1", "ADD s0 s3"])
        // Deleting RELU sends its readers to RELU's input.
        let del = deleting(at: 1, from: p.subprograms[0].instructions)
        #expect(del.map(\.text) == ["DENSE s0 dim=8", "ADD s0 s1"])
    }

    @Test func zeroWeightsAreAnError() throws {
        let m = Mutator(weights: [:])
        var rng = Xoshiro(seed: 1)
        #expect(throws: Mutator.NoChild.self) { try m.mutate(try seed("vanilla"), using: &rng) }
    }
}
