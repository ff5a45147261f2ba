import Foundation
import Primitives
import Testing
import Tensor
@testable import Compiler
@testable import Program

/// Every op, through the whole table: its shape rule, its cost, its lowering and its
/// gradients. An op added to `Op` without an example here fails `everyOpIsComplete`.
@Suite("the op table")
struct OpTableTests {
    /// A small use of each op, as the lines of subprogram 0 on s0 = [B, T, C] (C = 8).
    static let examples: [Op: [String]] = [
        .add: ["SIN s0", "ADD s0 s1"],
        .difference: ["SIN s0", "DIFFERENCE s0 s1"],
        .multiply: ["REDUCE_MEAN s0", "MULTIPLY s0 s1"],        // [B,T,1] broadcasts
        .divide: ["EXP s0", "DIVIDE s0 s1"],
        .max: ["C_MUL s0 c=0.5", "MAX s0 s1"],
        .min: ["C_MUL s0 c=0.5", "MIN s0 s1"],
        .absRoot: ["ABS_ROOT s0"], .square: ["SQUARE s0"], .exp: ["EXP s0"], .log: ["LOG s0"], .abs: ["ABS s0"],
        .recip: ["RECIP s0"], .sign: ["SIGN s0"], .cos: ["COS s0"], .sin: ["SIN s0"], .tanh: ["TANH s0"],
        .sigmoid: ["SIGMOID s0"], .relu: ["RELU s0"], .gelu: ["GELU s0"], .swish: ["SWISH s0"],
        .cMul: ["C_MUL s0 c=-1.7"], .cAdd: ["C_ADD s0 c=0.3"],
        .scale: ["SCALE s0"], .shift: ["SHIFT s0"],
        .reduceSum: ["REDUCE_SUM s0"], .reduceMean: ["REDUCE_MEAN s0"], .reduceMax: ["REDUCE_MAX s0"],
        .dense: ["DENSE s0 dim=4"],
        .conv3: ["CONV_3 s0 dim=4"], .conv7: ["CONV_7 s0 dim=4"], .conv15: ["CONV_15 s0 dim=4"], .conv31: ["CONV_31 s0 dim=4"],
        .dconv3: ["DCONV_3 s0"], .dconv7: ["DCONV_7 s0"], .dconv15: ["DCONV_15 s0"], .dconv31: ["DCONV_31 s0"],
        .tMatMul: ["SIN s0", "T_MAT_MUL s0 s1"],
        .matMul: ["SIN s0", "T_MAT_MUL s0 s1", "SOFTMAX s2", "MAT_MUL s3 s0"],                // per head
        .mask: ["DENSE s0 dim=8", "T_MAT_MUL s0 s1", "MASK s2", "SOFTMAX s3", "MAT_MUL s4 s0"], // fused attention
        .softmax: ["SOFTMAX s0"],
        .cumSum: ["CUM_SUM s0"],
        .call: ["CALL s0 sub=1"],
        .sparseFFN: ["SPARSE_FFN s0 dim=4"],
    ]

    /// The example's program: small genes, a Switch router for SPARSE_FFN, and a callee for CALL.
    static func program(_ op: Op) throws -> Program {
        let lines = examples[op]!.enumerated().map { "  s\($0.offset + 1) = \($0.element)" }.joined(separator: "\n")
        return try Program(text: """
            program \(op.rawValue)
            genes layers=1 d_model=8 heads=2 context=5 router=switch experts=3 topk=1 capacity=3
            subprogram 0
            \(lines)
            subprogram 1
              s1 = TANH s0
              s2 = MULTIPLY s0 s1
            """)
    }

    @Test func everyOpIsComplete() throws {
        for op in Op.allCases {
            guard Self.examples[op] != nil else {
                Issue.record("\(op.rawValue) has no example in OpTableTests: add one, so its shape, cost, lowering and gradients are checked")
                continue
            }
            let p = try Self.program(op)
            #expect(p.subprograms[0].instructions.contains { $0.op == op })
            let shapes = try p.shapes(subprogram: 0, input: .residual)              // the shape rule
            let cost = try p.cost(subprogram: 0, input: .residual)                  // the cost rule
            #expect(cost.flopsPerToken > 0, "\(op.rawValue)")
            let (graph, y) = Self.lower(p)                                          // the lowering
            #expect(y.shape == Self.dims(shapes.last!, p.genes), "\(op.rawValue): lowered \(y.shape), inferred \(shapes.last!)")
            #expect(graph.parameterCount == cost.parameters, "\(op.rawValue): \(graph.parameterCount) parameters, cost says \(cost.parameters)")
            // The mutator's class: an op that may be changed has another of its family to change to.
            if op.family != .structural {
                #expect(Op.allCases.contains { $0 != op && $0.family == op.family }, "\(op.rawValue) is alone in its family")
            }
        }
    }

    /// Backward against central finite differences in Double, for the block's input and
    /// every parameter the op made.
    @Test(arguments: Op.allCases)
    func gradients(_ op: Op) throws {
        guard Self.examples[op] != nil else { return }     // everyOpIsComplete reports it
        let (g, y) = Self.lower(try Self.program(op))
        var rng = Xoshiro(seed: 11)
        let w = g.input(y.shape, name: "w")
        for i in 0..<w.count { w[i] = rng.normal() }
        let loss = g.sumAll(g.multiply(y, w))
        g.forward()
        #expect(y.values.allSatisfy { $0.isFinite }, "\(op.rawValue): forward gave non-finite values")
        g.backward(from: loss)
        let inputs = g.tensors.filter { $0.name == "x" } + g.parameters
        #expect(!inputs.isEmpty)
        let h = 1e-5
        var checked = 0
        for t in inputs {
            let exact = t.grads
            #expect(exact.count == t.count, "\(op.rawValue): \(t.name) has no gradient")
            guard exact.count == t.count else { continue }
            for j in 0..<t.count {
                let v = t[j]
                t[j] = v + h; g.forward(); let up = loss[0]
                t[j] = v - h; g.forward(); let down = loss[0]
                t[j] = v
                let numeric = (up - down) / (2 * h)
                let err = Swift.abs(numeric - exact[j]) / Swift.max(1, Swift.abs(numeric), Swift.abs(exact[j]))
                guard err < 1e-6 else {
                    Issue.record("\(op.rawValue): \(t.name)[\(j)] backward \(exact[j]), finite difference \(numeric)")
                    return
                }
                checked += 1
            }
        }
        #expect(checked > 0)
    }

    /// Lowers subprogram 0 in Double on an input x [2, T, C] whose values keep away from
    /// the kinks and poles of ABS, LOG, RECIP, SIGN and RELU (|x| ≥ 0.5).
    static func lower(_ p: Program) -> (Graph<Double>, Tensor<Double>) {
        let g = Graph<Double>(), t = p.genes.context, c = p.genes.dModel
        var rng = Xoshiro(seed: 5)
        let x = g.input([2, t, c], name: "x", requiresGrad: true)
        for i in 0..<x.count { let v = rng.normal(); x[i] = v < 0 ? v - 0.5 : v + 0.5 }
        let tokens = g.indices([2, t], name: "tokens")
        for i in 0..<tokens.count { tokens[i] = Int32(rng.below(7)) }
        var lowering = Lowering<Double>(program: p, graph: g, rng: Xoshiro(seed: 3), initStd: 0.3, tokens: tokens, vocabulary: 7)
        return (g, lowering.lower(subprogram: 0, input: x))
    }

    /// The tensor shape of a state shape, for a batch of 2.
    static func dims(_ s: StateShape, _ genes: Genes) -> [Int] {
        switch s {
        case .hidden(let e): return [2, genes.context, e * genes.dModel / 8]
        case .perPosition: return [2, genes.context, 1]
        case .scores: return [2, genes.heads, genes.context, genes.context]
        }
    }
}
