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
            #expect(child.kind == kind && child.drawn == kind)
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

    @Test func spliceAndDeleteKeepReferences() throws {
        let p = try program("DENSE s0 dim=8\nRELU s1\nADD s0 s2")
        // SQUARE spliced after the ReLU: the ADD now reads it; DENSE → RELU → SQUARE → ADD.
        let spliced = splicing(Instruction(.square, 2), after: 2, readers: [2], into: p.subprograms[0].instructions)
        #expect(spliced.map(\.text) == ["DENSE s0 dim=8", "RELU s1", "SQUARE s2", "ADD s0 s3"])
        // After s1, read by RELU only: RELU reads the new state, ADD still reads RELU's.
        let early = splicing(Instruction(.sin, 1), after: 1, readers: [1], into: p.subprograms[0].instructions)
        #expect(early.map(\.text) == ["DENSE s0 dim=8", "SIN s1", "RELU s2", "ADD s0 s3"])
        // Deleting RELU sends its readers to RELU's input.
        let del = deleting(at: 1, from: p.subprograms[0].instructions)
        #expect(del.map(\.text) == ["DENSE s0 dim=8", "ADD s0 s1"])
    }

    /// An insert or a delete-insert is never its parent: the new instruction is read.
    @Test(arguments: ["vanilla", "primer-ez", "switch-moe", "altup-recycled-k2"])
    func insertsAlwaysChangeTheProgram(_ name: String) throws {
        let parent = try seed(name), hash = parent.hash
        var rng = Xoshiro(seed: 3)
        var made = [MutationKind: Int]()
        for kind in [MutationKind.insert, .deleteInsert] {
            for _ in 0..<300 {
                guard let (child, words) = Mutator().apply(kind, to: parent, using: &rng) else { continue }
                #expect(child.hash != hash, "\(kind.rawValue) \(words) left \(name) as it was")
                #expect((try? child.validate()) != nil, "\(kind.rawValue) \(words) is not valid")
                made[kind, default: 0] += 1
            }
        }
        #expect(made[.insert, default: 0] > 250 && made[.deleteInsert, default: 0] > 250, "\(made)")
    }

    /// An op change keeps the op's family and the slot's shapes: it never fails validation.
    @Test func opChangesKeepTheirClass() throws {
        var rng = Xoshiro(seed: 4)
        for name in ["vanilla", "primer-ez", "mdha", "hash-ffn"] {
            let parent = try seed(name)
            for _ in 0..<200 {
                let k = Int.random(in: 0..<parent.subprograms.count, using: &rng)
                guard let site = Site(parent, k), let (body, words) = Mutator().changeOp(site, &rng) else { continue }
                let i = body.indices.first { body[$0] != site.body[$0] }!
                #expect(body[i].op.family == site.body[i].op.family && body[i].op.family != .structural, "\(words)")
                var child = parent
                child.subprograms[k].instructions = body
                #expect((try? child.validate()) != nil, "\(name): \(words)")
            }
        }
    }

    /// 1000 children of the vanilla seed at equal weights: each kind makes its share of
    /// them, within 20% (the mix a space file asks for is the mix it gets).
    @Test func appliedMixFollowsTheWeights() throws {
        let parent = try seed("vanilla")
        var rng = Xoshiro(seed: 5), stats = Mutator.Stats(), applied = [MutationKind: Int]()
        let m = Mutator()
        for _ in 0..<1000 { applied[try m.mutate(parent, using: &rng, stats: &stats).kind, default: 0] += 1 }
        for kind in MutationKind.structural {
            let share = Double(applied[kind, default: 0]) / 1000
            #expect(Swift.abs(share - 1.0 / 6) <= 0.2 / 6, "\(kind.rawValue): \(applied[kind, default: 0]) of 1000")
        }
        #expect(stats.changed.values.reduce(0, +) == 1000)
    }

    @Test func zeroWeightsAreAnError() throws {
        let m = Mutator(weights: [:])
        var rng = Xoshiro(seed: 1)
        #expect(throws: Mutator.NoChild.self) { try m.mutate(try seed("vanilla"), using: &rng) }
    }

    /// The normals evolve draws, pinned bit for bit: initial weights (`Xoshiro.normal`) and
    /// mutated constants (`normal(&rng)`) share one Box–Muller but not their uniforms, and
    /// neither stream may change (seeds' losses and searches' children depend on them).
    @Test func normalDrawsArePinned() {
        func fold(_ xs: [Double]) -> UInt64 { xs.reduce(1_469_598_103_934_665_603) { ($0 ^ $1.bitPattern) &* 1_099_511_628_211 } }
        var weights = Xoshiro(seed: 2026), constants = Xoshiro(seed: 2026)
        #expect((0..<3).map { _ in weights.normal().bitPattern } == [0xbfcc_5715_682a_c900, 0x3fe0_301a_230a_4620, 0x3fc3_edeb_f02c_c9e6])
        #expect((0..<3).map { _ in normal(&constants).bitPattern } == [0x400b_be32_249e_7479, 0x3fb3_7f5d_27d1_a958, 0xc001_b621_669e_0d21])
        var long = Xoshiro(seed: 7), longConstants = Xoshiro(seed: 7)
        #expect(fold((0..<100_000).map { _ in long.normal() }) == 0x24e1_a9c4_9fa4_0add)
        #expect(fold((0..<100_000).map { _ in normal(&longConstants) }) == 0x180e_79fc_3589_a778)
    }
}
