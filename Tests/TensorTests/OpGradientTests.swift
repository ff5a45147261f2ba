import Primitives
import Testing
@testable import Tensor

@Suite("every op's backward matches finite differences in Double")
struct OpGradientTests {
    static let smooth: [UnaryOp] = [.negate, .square, .exp, .sin, .cos, .gelu, .swish, .sigmoid, .tanh,
                                    .mulConstant(-1.7), .addConstant(0.3)]
    static let kinked: [UnaryOp] = [.abs, .absRoot, .logAbs, .reciprocal, .relu, .squaredRelu, .sign]

    @Test(arguments: smooth)
    func unarySmooth(_ op: UnaryOp) {
        checkGradients([[3, 5]]) { g, x in g.unary(op, x[0]) }
    }

    /// Kinks and poles kept away from: inputs drawn with |x| ≥ 0.5.
    @Test(arguments: kinked)
    func unaryKinked(_ op: UnaryOp) {
        checkGradients([[3, 5]], input: { $0 < 0 ? $0 - 0.5 : $0 + 0.5 }) { g, x in g.unary(op, x[0]) }
    }

    @Test func sqrtOfPositive() {
        checkGradients([[4, 3]], input: { Swift.abs($0) + 0.5 }) { g, x in g.unary(.sqrt, x[0]) }
    }

    @Test(arguments: [BinaryOp.add, .subtract, .multiply, .max, .min])
    func binarySameShape(_ op: BinaryOp) {
        checkGradients([[2, 3, 4], [2, 3, 4]]) { g, x in g.binary(op, x[0], x[1]) }
    }

    @Test func divide() {
        checkGradients([[3, 4], [3, 4]], input: { $0 < 0 ? $0 - 0.5 : $0 + 0.5 }) { g, x in g.binary(.divide, x[0], x[1]) }
    }

    /// Broadcasting: a learned per-channel scale, a [T, C] position table, a [.., 1] column.
    @Test(arguments: [[4], [3, 4], [2, 1, 4], [2, 3, 1], [1]])
    func binaryBroadcast(_ shape: [Int]) {
        checkGradients([[2, 3, 4], shape]) { g, x in g.binary(.multiply, x[0], x[1]) }
        checkGradients([[2, 3, 4], shape]) { g, x in g.binary(.subtract, x[1], x[0]) }
    }

    /// Every op with either operand repeated along runs of 11 (eight SIMD lanes and a
    /// tail) and across rows; divide's operands kept away from zero.
    @Test(arguments: [BinaryOp.add, .subtract, .multiply, .divide, .max, .min])
    func binaryBroadcastRuns(_ op: BinaryOp) {
        for (a, b) in [([3, 11], [3, 1]), ([3, 1], [3, 11]), ([3, 11], [11]), ([2, 1, 11], [2, 3, 11])] {
            checkGradients([a, b], input: { $0 < 0 ? $0 - 0.5 : $0 + 0.5 }) { g, x in g.binary(op, x[0], x[1]) }
        }
    }

    @Test func sameTensorTwice() {
        checkGradients([[3, 4]]) { g, x in g.multiply(x[0], x[0]) }
        checkGradients([[3, 4]]) { g, x in g.add(x[0], x[0]) }
    }

    @Test func matmul() {
        checkGradients([[2, 3, 4], [4, 5]]) { g, x in g.matmul(x[0], x[1]) }
        checkGradients([[6, 4], [5, 4]]) { g, x in g.matmul(x[0], x[1], transposeW: true) }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func batchedMatmul(_ t: (Bool, Bool)) {
        let a = t.0 ? [2, 3, 4, 5] : [2, 3, 5, 4], b = t.1 ? [2, 3, 6, 4] : [2, 3, 4, 6]
        checkGradients([a, b]) { g, x in g.batchedMatmul(x[0], x[1], transA: t.0, transB: t.1) }
    }

    @Test(arguments: [NormKind.layer, .rms])
    func norm(_ kind: NormKind) {
        checkGradients([[3, 6], [6], [6]]) { g, x in g.norm(kind, x[0], gain: x[1], bias: x[2]) }
        checkGradients([[2, 2, 5]]) { g, x in g.norm(kind, x[0], gain: nil) }
    }

    @Test func softmaxAndMask() {
        checkGradients([[2, 5]]) { g, x in g.softmax(x[0]) }
        checkGradients([[2, 4, 4]]) { g, x in g.softmax(g.causalMask(x[0])) }
    }

    @Test func fusedAttention() {
        checkGradients([[2, 5, 6], [2, 5, 6], [2, 5, 6]]) { g, x in
            g.attention(q: ChannelSlice(x[0]), k: ChannelSlice(x[1]), v: ChannelSlice(x[2]), heads: 2)
        }
        checkGradients([[2, 4, 12]]) { g, x in g.attention(qkv: x[0], heads: 2) }
        // Sequences longer than one causal block (16 rows), the last block partial.
        checkGradients([[1, 37, 4], [1, 37, 4], [1, 37, 2]]) { g, x in
            g.attention(q: ChannelSlice(x[0]), k: ChannelSlice(x[1]), v: ChannelSlice(x[2]), heads: 2)
        }
        // Values narrower than queries and keys.
        checkGradients([[2, 5, 6], [2, 5, 6], [2, 5, 4]]) { g, x in
            g.attention(q: ChannelSlice(x[0]), k: ChannelSlice(x[1]), v: ChannelSlice(x[2]), heads: 2)
        }
    }

    @Test(arguments: [1, 3, 7])
    func depthwiseConv(_ width: Int) {
        checkGradients([[2, 6, 3], [width, 3]]) { g, x in g.depthwiseConv(x[0], x[1]) }
    }

    @Test(arguments: [1, 3, 7])
    func causalConv(_ width: Int) {
        checkGradients([[2, 6, 3], [width, 3, 4]]) { g, x in g.causalConv(x[0], x[1]) }
    }

    @Test func cumSum() {
        checkGradients([[2, 5, 3]]) { g, x in g.cumSum(x[0]) }
    }

    @Test func embedding() {
        checkGradients([[5, 3]]) { g, x in
            let ids = g.indices([2, 3], name: "ids")
            setIndices(ids, [0, 4, 4, 2, 0, 1])
            return g.embedding(ids, x[0])
        }
    }

    @Test func crossEntropy() {
        checkGradients([[2, 3, 5]]) { g, x in
            let t = g.indices([2, 3], name: "t")
            setIndices(t, [0, 4, 4, 2, 3, 1])
            return g.crossEntropy(x[0], t).loss
        }
    }

    @Test(arguments: [ReduceOp.sum, .mean, .max])
    func reduce(_ op: ReduceOp) {
        checkGradients([[3, 11]]) { g, x in g.reduce(op, x[0]) }   // eight SIMD lanes and a tail
    }

    @Test func shapes() {
        checkGradients([[2, 7]]) { g, x in
            let p = g.split(x[0], [3, 4])
            return g.concat([g.unary(.square, p[1]), p[0], p[0]])
        }
        checkGradients([[2, 3, 4]]) { g, x in g.transpose(x[0], 0, 2) }
        // Outer axes exchanged: copied in runs of the inner axes; read twice, so the
        // second gradient accumulates.
        checkGradients([[3, 2, 2, 5]]) { g, x in
            g.concat([g.transpose(x[0], 1, 2), g.unary(.sin, g.transpose(x[0], 1, 2)), g.transpose(g.transpose(x[0], 0, 1), 0, 1)])
        }
        checkGradients([[2, 3, 4]]) { g, x in g.permute(x[0], source: (0..<24).map { ($0 % 4) + 4 * ((($0 / 4) * 5) % 6) }, shape: [4, 6]) }
        // Several tensors permuted into one stack, one of them twice.
        checkGradients([[2, 3, 4], [4, 6]]) { g, x in
            let source = (0..<24).map { ($0 % 4) + 4 * ((($0 / 4) * 5) % 6) }
            return g.reshape(g.stackPermuted([x[0], g.unary(.sin, x[1]), x[0]], source: source, shape: [4, 6]), [12, 6])
        }
        checkGradients([[2, 6]]) { g, x in g.reshape(g.unary(.sin, x[0]), [3, 4]) }
    }

    /// Four residual layers: their activations' gradients share buffers (each layer's are
    /// dead before the next layer down needs its own), and every gradient stays exact.
    @Test func sharedGradientBuffers() {
        func layers(_ g: Graph<Double>, _ x: [Tensor<Double>]) -> Tensor<Double> {
            var h = x[0]
            for l in 0..<4 { h = g.add(h, g.unary(.tanh, g.matmul(g.unary(.sin, h), x[1 + l]))) }
            return h
        }
        checkGradients([[3, 4], [4, 4], [4, 4], [4, 4], [4, 4]], layers)
        let g = Graph<Double>()
        let x = (0..<5).map { g.input($0 == 0 ? [64, 32] : [32, 32], name: "x\($0)", requiresGrad: true) }
        let loss = g.sumAll(layers(g, x))
        g.forward()
        let before = g.allocatedBytes
        g.backward(from: loss)
        // Unshared, the 16 activations of 64×32 would add 16 gradient buffers; shared, 3.
        let added = (g.allocatedBytes - before) / (64 * 32 * MemoryLayout<Double>.size)
        #expect(added < 8, "\(added) activation gradient buffers of 64×32")
    }

    /// Weighted sums with learned scalars, one input used twice and one term subtracted.
    @Test func combine() {
        checkGradients([[2, 5], [2, 5], [1], [1]]) { g, x in
            g.combine([(x[0], x[2], false), (x[1], nil, true), (x[0], x[3], true), (g.unary(.sin, x[1]), x[2], false)])
        }
    }

    @Test func routing() {
        checkGradients([[6, 4], [6, 3]]) { g, x in
            let choice = g.topK(x[1], 2)
            let gates = g.take(g.softmax(x[1]), choice)                       // [6, 2]
            let (slots, _) = g.dispatch(choice, experts: 3, capacity: 3)
            let rows = g.gatherRows(x[0], slots)               // [9, 4]
            let back = g.scatterRows(g.unary(.tanh, rows), slots, into: 6)
            return g.concat([back, gates])
        }
    }

    /// A sparse layer's expert FFN as grouped GEMMs over the filled slots (7 tokens into
    /// 3 experts of capacity 4: some slots stay empty), through both products and a gate.
    @Test func groupedExpertGemms() {
        for k in [1, 2] {
            checkGradients([[7, 4], [7, 3], [3, 4, 5], [3, 5, 4]]) { g, x in
                let probs = g.softmax(x[1])
                let choice = g.topK(probs, k)
                let gates = g.take(probs, choice)                                     // [7, k]
                let (slots, slotChoice) = g.dispatch(choice, experts: 3, capacity: 4)
                let xin = g.reshape(g.gatherRows(x[0], slots), [3, 4, 4])             // [E, cap, C]
                let h = g.unary(.tanh, g.batchedMatmul(xin, x[2], slots: slots), slots: slots)   // [E, cap, g]
                let y = g.reshape(g.batchedMatmul(h, x[3], slots: slots), [12, 4])   // [E·cap, C]
                // Ungated and gated (each slot × its choice's probability), both differentiated.
                return g.concat([g.scatterRows(y, slots, into: 7),
                                 g.scatterRows(y, slots, into: 7, gates: (gates, g.reshapeIndices(slotChoice, [12])))])
            }
        }
    }

    /// The grouped product equals the full one (values and every gradient) when the
    /// unused rows are zero, as a dispatch leaves them.
    @Test func groupedGemmEqualsFullProduct() {
        func run(grouped: Bool) -> [[Double]] {
            let g = Graph<Double>()
            var rng = Xoshiro(seed: 5)
            let x = g.input([9, 6], name: "x", requiresGrad: true), s = g.input([9, 4], name: "s")
            let w = g.input([4, 6, 8], name: "w", requiresGrad: true)
            for t in [x, s, w] { for i in 0..<t.count { t[i] = rng.normal() } }
            let (slots, _) = g.dispatch(g.topK(s, 2), experts: 4, capacity: 7)
            let xin = g.reshape(g.gatherRows(x, slots), [4, 7, 6])
            let y = g.unary(.gelu, g.batchedMatmul(xin, w, slots: grouped ? slots : nil), slots: grouped ? slots : nil)
            let r = g.input(y.shape, name: "r")
            for i in 0..<r.count { r[i] = rng.normal() }
            let loss = g.sumAll(g.multiply(g.unary(.square, y), r))
            g.forward(); g.backward(from: loss)
            return [y.values, x.grads, w.grads]
        }
        let (full, grouped) = (run(grouped: false), run(grouped: true))
        for (a, b) in zip(full, grouped) {
            #expect(a.count == b.count)
            #expect(zip(a, b).allSatisfy { Swift.abs($0 - $1) <= 1e-12 * Swift.max(1, Swift.abs($0)) })
        }
    }

    /// An expert chain whose gather leaves the empty capacity unwritten, and whose scatter
    /// leaves its gradient unwritten, gives the zeroing chain's loss and gradients exactly,
    /// with NaN planted in every unused row: no kernel between them reads those rows.
    @Test func unusedRowsAreNeverRead() {
        func run(_ unused: UnusedRows) -> [[Double]] {
            let g = Graph<Double>()
            var rng = Xoshiro(seed: 9)
            let x = g.input([9, 6], name: "x", requiresGrad: true), s = g.input([9, 4], name: "s", requiresGrad: true)
            let w1 = g.input([4, 6, 8], name: "w1", requiresGrad: true), w2 = g.input([4, 8, 6], name: "w2", requiresGrad: true)
            let r = g.input([9, 6], name: "r")
            for t in [x, s, w1, w2, r] { for i in 0..<t.count { t[i] = rng.normal() } }
            let probs = g.softmax(s), choice = g.topK(probs, 2)
            let (slots, slotChoice) = g.dispatch(choice, experts: 4, capacity: 7)   // 18 of 28 slots used
            let xin = g.reshape(g.gatherRows(x, slots, unused: unused), [4, 7, 6])
            let h = g.unary(.gelu, g.batchedMatmul(xin, w1, slots: slots), slots: slots)
            let y = g.reshape(g.batchedMatmul(h, w2, slots: slots), [28, 6])
            let out = g.scatterRows(y, slots, into: 9, gates: (g.take(probs, choice), g.reshapeIndices(slotChoice, [28])),
                                    unused: unused)
            let loss = g.sumAll(g.multiply(g.unary(.square, out), r))
            g.forward(); g.backward(from: loss)
            // Poison the chain's rows and their gradients, then run again.
            for t in [xin, h, y] {
                for i in 0..<t.count { t[i] = .nan }
                if let d = t.grad { d.update(repeating: .nan, count: t.count) }
            }
            for t in [x, s, w1, w2] { t.grad?.update(repeating: 0, count: t.count) }
            g.forward(); g.backward(from: loss)
            return [loss.values, x.grads, s.grads, w1.grads, w2.grads]
        }
        let unwritten = run(.unwritten)
        let finite = unwritten.joined().allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(unwritten == run(.zero))
    }

    /// Top-k against a plain reference: best first, ties to the lower column.
    @Test func topKMatchesReference() {
        let g = Graph<Double>()
        var rng = Xoshiro(seed: 3)
        let scores = g.input([50, 9], name: "scores")
        for i in 0..<scores.count { scores[i] = Double(rng.below(4)) }   // many ties
        let choices = (1...9).map { g.topK(scores, $0) }
        g.forward()
        for (k, choice) in zip(1..., choices) {
            for r in 0..<50 {
                let row = (0..<9).map { scores[r * 9 + $0] }
                let expected = (0..<9).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(k)
                #expect(Array(choice.values[(r * k)..<(r * k + k)]) == expected.map(Int32.init), "k=\(k) row \(r)")
            }
        }
    }
}

