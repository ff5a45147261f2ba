import Foundation
import Primitives
import Testing
import TestSupport
import Tensor
@testable import Compiler
@testable import Program

/// Every op, through the whole table: its shape rule, its cost, its lowering and its
/// gradients. An op added to `Op` without an example here fails `everyOpIsComplete`.
@Suite("the op table")
struct OpTableTests {
    static var examples: [Op: [String]] { OpExamples.lines }
    static func program(_ op: Op) throws -> Program { try OpExamples.program(op) }

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
