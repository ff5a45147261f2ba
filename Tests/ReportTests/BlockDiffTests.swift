import Primitives
import Program
import Testing
@testable import Report
import TestSupport

/// The structural diff: instructions matched by what they compute, so a block against its
/// seed shows the edits made and nothing else.
@Suite("the structural diff")
struct BlockDiffTests {
    /// Three known edits to vanilla's block (Primer's depthwise convolution after the queries
    /// and squared activation after the MLP's GELU, and the attention's softmax deleted) and
    /// one to its norm (ε changed): the diff marks exactly those four, though almost every
    /// state number moved.
    @Test func marksExactlyTheKnownEdits() throws {
        let seed = try TestSupport.seed("vanilla")
        var found = seed
        var block = seed.subprograms[0].instructions
        block = inserting(Instruction(.square, 13), as: 14, replacing: 13, in: block)      // after the GELU (s13)
        block = deleting(7, in: block)                                                      // SOFTMAX s6: MAT_MUL reads s6
        block = inserting(Instruction(.dconv3, 2), as: 3, replacing: 2, in: block)          // after the queries (s2)
        found.subprograms[0].instructions = block
        found.subprograms[1].instructions[4].constant = 1e-3                                // C_ADD's ε
        try found.validate()

        let (new0, old0) = BlockDiff.marks(new: found.subprograms[0].instructions, old: seed.subprograms[0].instructions)
        let addedOps = new0.filter { $0.value == .added }.map { block[$0.key - 1].op }
        #expect(Set(addedOps) == [.square, .dconv3] && addedOps.count == 2, "\(new0)")
        #expect(!new0.values.contains(.changed) && !new0.values.contains(.removed), "\(new0)")
        #expect(old0.filter { $0.value != .same }.map(\.key) == [7] && old0[7] == .removed, "\(old0)")

        let (new1, old1) = BlockDiff.marks(new: found.subprograms[1].instructions, old: seed.subprograms[1].instructions)
        #expect(new1.filter { $0.value != .same } == [5: .changed] && old1.filter { $0.value != .same } == [5: .changed])
    }

    /// The same block with its three projections of s1 in another order (values first):
    /// every state number of the attention moved, nothing it computes did.
    @Test func renumberingIsNoChange() throws {
        let seed = try TestSupport.seed("vanilla")
        var body = seed.subprograms[0].instructions
        body[4] = Instruction(.tMatMul, 3, 4)                // s5 = T_MAT_MUL queries keys, now s3 s4
        body[7] = Instruction(.matMul, 7, 2)                 // s8 = MAT_MUL s7 values, now s2
        let (new, old) = BlockDiff.marks(new: body, old: seed.subprograms[0].instructions)
        #expect(new.values.allSatisfy { $0 == .same } && old.values.allSatisfy { $0 == .same }, "\(new) \(old)")
        #expect(new.count == 16 && old.count == 16)
    }

    /// Every one of many random single mutations of vanilla marks at most two nodes of the
    /// child (a delete-insert: one added and a reader changed; a swap: two changed) and two of
    /// vanilla's besides those the edit left dead — never the cascade that numbering by state
    /// would show.
    @Test func oneMutationMarksAFewNodes() throws {
        let seed = try TestSupport.seed("vanilla")
        let mutator = Mutator(weights: Dictionary(uniqueKeysWithValues: MutationKind.structural.map { ($0, 1.0) }))
        var rng = Xoshiro(seed: 7)
        var kinds = Set<MutationKind>()
        for _ in 0..<200 {
            let child = try mutator.mutate(seed, using: &rng)
            kinds.insert(child.kind)
            for k in seed.subprograms.indices where k < child.program.subprograms.count {
                let (new, old) = BlockDiff.marks(new: child.program.subprograms[k].instructions, old: seed.subprograms[k].instructions)
                let marked = (new.values.filter { $0 != .same }.count, old.values.filter { $0 != .same }.count)
                // States the edit left dead (a path no longer read) are removed too.
                let died = max(0, old.count - new.count + marked.0)
                #expect(marked.0 <= 2 && marked.1 <= 2 + died,
                        "\(child.kind): \(child.description) marks \(new.filter { $0.value != .same }) \(old.filter { $0.value != .same })\n\(child.program.text)")
            }
        }
        #expect(kinds.count >= 4, "\(kinds)")
    }

    /// `body` with `ins` as state s; the readers of `old` after it read s instead.
    func inserting(_ ins: Instruction, as s: Int, replacing old: Int, in body: [Instruction]) -> [Instruction] {
        var out = body
        for j in (s - 1)..<out.count {
            func moved(_ x: Int) -> Int { x == old ? s : (x >= s ? x + 1 : x) }
            out[j].input1 = moved(out[j].input1)
            if out[j].op.arity == 2 { out[j].input2 = moved(out[j].input2) }
        }
        out.insert(ins, at: s - 1)
        return out
    }

    /// `body` without state d; its readers read its first input.
    func deleting(_ d: Int, in body: [Instruction]) -> [Instruction] {
        var out = body
        let stand = out[d - 1].input1
        for j in d..<out.count {
            func moved(_ x: Int) -> Int { x == d ? stand : (x > d ? x - 1 : x) }
            out[j].input1 = moved(out[j].input1)
            if out[j].op.arity == 2 { out[j].input2 = moved(out[j].input2) }
        }
        out.remove(at: d - 1)
        return out
    }
}
