import Program
import Tensor

/// Subgraphs the compiler recognises and lowers to one fused kernel instead of their
/// primitives. A pattern is itself a program, compared by canonical form, so any
/// numbering or order of the same instructions matches.
enum Pattern {
    /// Layer norm without bias, ε = 1e-5, as the vanilla seed writes it.
    static let layerNorm = body("""
        REDUCE_MEAN s0
        DIFFERENCE s0 s1
        SQUARE s2
        REDUCE_MEAN s3
        C_ADD s4 c=1e-05
        ABS_ROOT s5
        RECIP s6
        MULTIPLY s2 s7
        SCALE s8
        """)

    /// RMS norm: x / sqrt(mean(x²) + ε) · gain.
    static let rmsNorm = body("""
        SQUARE s0
        REDUCE_MEAN s1
        C_ADD s2 c=1e-05
        ABS_ROOT s3
        RECIP s4
        MULTIPLY s0 s5
        SCALE s6
        """)

    /// The canonical body of a one-subprogram program written as instruction lines.
    static func body(_ lines: String) -> Subprogram {
        let text = "program pattern\nsubprogram 0\n" + lines.split(separator: "\n").enumerated()
            .map { "  s\($0.offset + 1) = \($0.element.trimmingCharacters(in: .whitespaces))" }.joined(separator: "\n")
        return try! Program(text: text).canonical.subprograms[0]
    }

    /// The fused norm subprogram k of p is, if it is exactly one.
    static func norm(_ p: Program, _ k: Int) -> NormKind? {
        guard let body = canonicalBody(p, k) else { return nil }
        if body == layerNorm { return .layer }
        if body == rmsNorm { return .rms }
        return nil
    }

    /// Subprogram k of p, canonical and on its own (its calls are not followed).
    static func canonicalBody(_ p: Program, _ k: Int) -> Subprogram? {
        guard !p.subprograms[k].instructions.contains(where: { $0.op == .call }) else { return nil }
        return Program(name: "", genes: p.genes, subprograms: [p.subprograms[k]]).canonical.subprograms[0]
    }
}

/// What the compiler plans for one subprogram before lowering it.
struct SubprogramPlan {
    /// MAT_MUL index → the q, k, v states of a T_MAT_MUL → MASK → SOFTMAX → MAT_MUL chain
    /// whose intermediate states nothing else reads: lowered to fused attention.
    var attention: [Int: (q: Int, k: Int, v: Int)] = [:]
    /// Instructions absorbed into a fused kernel: they produce no tensor of their own.
    var absorbed: Set<Int> = []
    /// DENSE groups on one input whose outputs only feed fused attention: one GEMM with the
    /// weights side by side (q, k, v as in one fused projection). First index → members.
    var denseGroups: [Int: [Int]] = [:]
    var groupOf: [Int: Int] = [:]
    /// DENSEs (and sparse FFNs) whose output is added straight into the residual stream:
    /// their output weights start scaled down by 1/√(2·layers).
    var residualProjections: Set<Int> = []

    init(_ sub: Subprogram, isBlock: Bool) {
        let ins = sub.instructions
        var uses = [Int](repeating: 0, count: ins.count + 1)
        var users = [[Int]](repeating: [], count: ins.count + 1)
        for (i, x) in ins.enumerated() { for s in x.inputs { uses[s] += 1; users[s].append(i) } }
        // s(i+1) is written by instruction i.
        func writer(_ s: Int) -> Int? { s > 0 ? s - 1 : nil }
        for (i, x) in ins.enumerated() where x.op == .matMul {
            guard let sm = writer(x.input1), ins[sm].op == .softmax, uses[sm + 1] == 1,
                  let mk = writer(ins[sm].input1), ins[mk].op == .mask, uses[mk + 1] == 1,
                  let tm = writer(ins[mk].input1), ins[tm].op == .tMatMul, uses[tm + 1] == 1 else { continue }
            attention[i] = (ins[tm].input1, ins[tm].input2, x.input2)
            absorbed.formUnion([sm, mk, tm])
        }
        // DENSE outputs read only as q / k / v of fused attention, grouped by input and width.
        let qkvReaders = Set(attention.values.flatMap { [$0.q, $0.k, $0.v] })
        var byInput = [[Int]: [Int]]()
        for (i, x) in ins.enumerated() where x.op == .dense && qkvReaders.contains(i + 1)
            && users[i + 1].allSatisfy({ attention[$0] != nil || absorbed.contains($0) }) {
            byInput[[x.input1, x.dim], default: []].append(i)
        }
        for members in byInput.values where members.count > 1 {
            denseGroups[members[0]] = members
            for m in members { groupOf[m] = members[0] }
        }
        // Residual stream: s0 of the block, and every ADD that takes it further.
        guard isBlock else { return }
        var residual: Set<Int> = [0]
        for (i, x) in ins.enumerated() where x.op == .add && (residual.contains(x.input1) || residual.contains(x.input2)) {
            residual.insert(i + 1)
            for s in [x.input1, x.input2] where !residual.contains(s) {
                if let w = writer(s), [.dense, .sparseFFN].contains(ins[w].op) { residualProjections.insert(w) }
            }
        }
    }
}
