import Primitives
import Testing
@testable import Tensor

@Suite("forward values, extremes and identities")
struct ForwardTests {
    /// The fused kernel equals attention written out in primitives per head:
    /// softmax(mask(q kᵀ / √D)) v.
    @Test func fusedAttentionEqualsPrimitives() {
        let g = Graph<Double>()
        let (b, t, h, d) = (2, 37, 3, 4)   // T past one causal block of 16 rows
        var rng = Xoshiro(seed: 3)
        let qkv = g.input([b, t, 3 * h * d], name: "qkv")
        for i in 0..<qkv.count { qkv[i] = rng.normal() }
        let fused = g.attention(qkv: qkv, heads: h)
        let parts = g.split(qkv, [h * d, h * d, h * d]).map {
            g.transpose(g.reshape($0, [b, t, h, d]), 1, 2)                     // [B, H, T, D]
        }
        let scores = g.unary(.mulConstant(1 / Double(d).squareRoot()), g.batchedMatmul(parts[0], parts[1], transB: true))
        let out = g.batchedMatmul(g.softmax(g.causalMask(scores)), parts[2])  // [B, H, T, D]
        let reference = g.reshape(g.transpose(out, 1, 2), [b, t, h * d])
        g.forward()
        for i in 0..<fused.count { #expect(Swift.abs(fused[i] - reference[i]) < 1e-12) }
    }

    /// Changing position t+1 never changes attention or convolution outputs at ≤ t.
    @Test func causality() {
        let g = Graph<Float>()
        let x = g.input([1, 8, 6], name: "x")
        let w = g.input([3, 6], name: "w")
        var rng = Xoshiro(seed: 5)
        for i in 0..<x.count { x[i] = Float(rng.normal()) }
        for i in 0..<w.count { w[i] = Float(rng.normal()) }
        let a = g.attention(q: ChannelSlice(x), k: ChannelSlice(x), v: ChannelSlice(x), heads: 2)
        let c = g.depthwiseConv(x, w)
        g.forward()
        let (a0, c0) = (a.values, c.values)
        for j in 0..<6 { x[5 * 6 + j] += 10 }     // perturb position 5
        g.forward()
        #expect(Array(a.values[..<(5 * 6)]) == Array(a0[..<(5 * 6)]))
        #expect(Array(c.values[..<(5 * 6)]) == Array(c0[..<(5 * 6)]))
        #expect(a.values[5 * 6] != a0[5 * 6])
    }

    @Test func crossEntropyLargeLogits() {
        let g = Graph<Float>()
        let x = g.input([2, 3], name: "x", requiresGrad: true)
        x.set([1e4, -1e4, 0, -3e4, 3e4, 3e4])
        let t = g.indices([2], name: "t")
        setIndices(t, [1, 0])
        let loss = g.crossEntropy(x, t).loss
        g.forward()
        g.backward(from: loss)
        #expect(Swift.abs(loss[0] - Float(2e4 + 6e4 + 0.6931472) / 2) < 1)
        #expect(x.grads.allSatisfy { $0.isFinite })
    }

    @Test func normOfConstantRow() {
        let g = Graph<Float>()
        let x = g.input([2, 4], name: "x", requiresGrad: true)
        x.set([3, 3, 3, 3, 1, 2, 3, 4])
        let y = g.norm(.layer, x, gain: nil)
        let loss = g.sumAll(g.unary(.square, y))
        g.forward()
        g.backward(from: loss)
        #expect(y.values[..<4].allSatisfy { $0 == 0 })
        #expect(x.grads.allSatisfy { $0.isFinite })
    }

    @Test func softmaxOfMaskedRows() {
        let g = Graph<Double>()
        let x = g.input([2, 3], name: "x", requiresGrad: true)
        x.set([-.infinity, -.infinity, -.infinity, 1, -.infinity, 1])
        let y = g.softmax(x)
        let loss = g.sumAll(g.multiply(y, y))
        g.forward()
        g.backward(from: loss)
        #expect(y.values == [0, 0, 0, 0.5, 0, 0.5])
        #expect(x.grads.allSatisfy { $0.isFinite })
    }

    /// REDUCE_MAX over rows of every width to 20 with NaNs at every place: a NaN loses to
    /// any number, and only a row of NaNs gives NaN (wherever the NaN sits in the lanes).
    @Test func maxLetsNumbersBeatNaN() {
        for c in 1...20 {
            for nanAt in 0..<c {
                let g = Graph<Float>()
                let x = g.input([3, c], name: "x")
                for j in 0..<c {
                    x[j] = j == nanAt ? .nan : Float(j % 5) - 2         // one NaN
                    x[c + j] = j % 2 == 0 || j == nanAt ? .nan : -Float(j) // NaNs at even places and nanAt
                    x[2 * c + j] = .nan                                   // all NaN
                }
                let y = g.reduce(.max, x)
                g.forward()
                let want0 = (0..<c).filter { $0 != nanAt }.map { Float($0 % 5) - 2 }.max()
                let want1 = (0..<c).filter { $0 % 2 == 1 && $0 != nanAt }.map { -Float($0) }.max()
                #expect(want0 == nil ? y[0].isNaN : y[0] == want0!, "width \(c), NaN at \(nanAt): \(y[0])")
                #expect(want1 == nil ? y[1].isNaN : y[1] == want1!, "width \(c), NaN at \(nanAt) and even places: \(y[1])")
                #expect(y[2].isNaN)
            }
        }
    }

    /// Rows of every width from 1 to 40 (SIMD lanes and tails), some with masked entries and
    /// one wholly masked: Float's softmax and its gradient against the formula in Double.
    @Test func softmaxEqualsItsFormula() {
        var rng = Xoshiro(seed: 12)
        for c in 1...40 {
            let rows = 4
            let g = Graph<Float>()
            let x = g.input([rows, c], name: "x", requiresGrad: true), w = g.input([rows, c], name: "w")
            for i in 0..<x.count { x[i] = rng.uniform() < 0.2 ? -.infinity : Float(3 * rng.normal()); w[i] = Float(rng.normal()) }
            for j in 0..<c { x[j] = -.infinity }   // row 0: all masked
            x[c] = 0.5                              // row 1: at least one entry
            let y = g.softmax(x)
            g.forward()
            g.backward(from: g.sumAll(g.multiply(y, w)))
            for r in 0..<rows {
                let xr = (0..<c).map { Double(x[r * c + $0]) }, wr = (0..<c).map { Double(w[r * c + $0]) }
                let m = xr.max()!
                let e = xr.map { m == -.infinity || $0 == -.infinity ? 0 : Double.exp($0 - m) }, sum = e.reduce(0, +)
                let p = e.map { sum == 0 ? 0 : $0 / sum }
                let dot = zip(p, wr).map(*).reduce(0, +)
                for j in 0..<c {
                    #expect(Swift.abs(Double(y[r * c + j]) - p[j]) < 1e-6, "width \(c) row \(r): softmax")
                    #expect(Swift.abs(Double(x.grads[r * c + j]) - p[j] * (wr[j] - dot)) < 1e-5, "width \(c) row \(r): gradient")
                }
            }
        }
    }

    /// Float's vectorised exp and erf against libm in Double.
    @Test func fastMathAccuracy() {
        for i in -8700..<8800 {
            let x = Float(i) / 100
            let exact = Double.exp(Double(x))
            #expect(Swift.abs(Double(fastExp(x)) - exact) <= 3e-7 * exact)
        }
        for i in -600..<600 {
            let x = Float(i) / 100
            #expect(Swift.abs(Double(fastErf(x)) - Double.erf(Double(x))) < 3e-7)
        }
        #expect(fastExp(-Float.infinity) == 0)
    }

    @Test func broadcastPlanMergesAxes() {
        #expect(BroadcastPlan([2, 3, 4], [2, 3, 4])!.dims == [24])
        #expect(BroadcastPlan([2, 3, 4], [3, 4])!.dims == [2, 12])
        #expect(BroadcastPlan([2, 3, 4], [2, 3, 1])!.dims == [6, 4])
        #expect(BroadcastPlan([2, 3], [4, 3]) == nil)
    }

    /// Every binary op over random broadcast shapes (rank 1–4, each axis of either operand
    /// 1 or full, runs with SIMD tails) equals the formula applied element by element with
    /// the broadcast's index arithmetic, bit for bit in Float: value, and the gradient of
    /// both operands, summed over the axes an operand repeats along.
    @Test(arguments: [BinaryOp.add, .subtract, .multiply, .divide, .max, .min])
    func binaryEqualsItsFormula(_ op: BinaryOp) {
        func f(_ a: Float, _ b: Float) -> Float {
            switch op {
            case .add: a + b
            case .subtract: a - b
            case .multiply: a * b
            case .divide: a / b
            case .max: a >= b ? a : b
            case .min: a <= b ? a : b
            }
        }
        func partials(_ a: Float, _ b: Float) -> (Float, Float) {
            switch op {
            case .add: (1, 1)
            case .subtract: (1, -1)
            case .multiply: (b, a)
            case .divide: (1 / b, -a / (b * b))
            case .max: a >= b ? (1, 0) : (0, 1)
            case .min: a <= b ? (1, 0) : (0, 1)
            }
        }
        var rng = Xoshiro(seed: 41)
        for _ in 0..<60 {
            let rank = 1 + Int(rng.uniform() * 4)
            let full = (0..<rank).map { _ in 1 + Int(rng.uniform() * 19) }
            var sa = full.map { rng.uniform() < 0.3 ? 1 : $0 }, sb = full.map { rng.uniform() < 0.3 ? 1 : $0 }
            if rng.uniform() < 0.3 { sb.removeFirst(Int(rng.uniform() * Double(rank))) }   // fewer axes broadcast too
            if rng.uniform() < 0.2 { sa = full }
            let g = Graph<Float>()
            let a = g.input(sa, name: "a", requiresGrad: true), b = g.input(sb, name: "b", requiresGrad: true)
            // Kept away from zero (divide); max and min on halves, so that ties (which send
            // the gradient to a) are common.
            let ties = op == .max || op == .min
            for t in [a, b] {
                for i in 0..<t.count {
                    let x = Float(rng.normal())
                    t[i] = ties ? (2 * x).rounded() / 2 : x < 0 ? x - 0.5 : x + 0.5
                }
            }
            let y = g.binary(op, a, b)
            let w = g.input(y.shape, name: "w")
            for i in 0..<w.count { w[i] = Float(rng.normal()) }
            let loss = g.sumAll(g.multiply(y, w))
            g.forward()
            g.backward(from: loss)
            // The broadcast by hand: y's index → each operand's (its axes aligned to the right).
            let shape = y.shape
            func index(_ i: Int, in s: [Int]) -> Int {
                var rest = i, at = 0, stride = 1
                for axis in (0..<shape.count).reversed() {
                    let coordinate = rest % shape[axis]; rest /= shape[axis]
                    let own = axis - (shape.count - s.count)
                    guard own >= 0 else { continue }
                    if s[own] != 1 { at += coordinate * stride }
                    stride *= s[own]
                }
                return at
            }
            var da = [Float](repeating: 0, count: a.count), db = [Float](repeating: 0, count: b.count)
            var sameValues = true
            for i in 0..<y.count {
                let (ia, ib) = (index(i, in: sa), index(i, in: sb))
                if y[i].bitPattern != f(a[ia], b[ib]).bitPattern { sameValues = false }
                let (pa, pb) = partials(a[ia], b[ib])
                da[ia] += w[i] * pa; db[ib] += w[i] * pb
            }
            #expect(sameValues, "\(op) \(sa) with \(sb): values")
            // Sums over repeated axes may be taken in SIMD lanes: equal to Float rounding.
            for (got, want) in [(a.grads, da), (b.grads, db)] {
                let worst = zip(got, want).map { Swift.abs($0 - $1) / Swift.max(1, Swift.abs($1)) }.max() ?? 0
                #expect(worst < 1e-5, "\(op) \(sa) with \(sb): gradient off by \(worst)")
            }
        }
    }

    /// Float training and Double checking run the same kernels: equal results to Float precision.
    @Test func floatMatchesDouble() {
        func run<S: Scalar>(_: S.Type) -> [Double] {
            let g = Graph<S>()
            var rng = Xoshiro(seed: 9)
            let x = g.input([2, 4, 8], name: "x"), w = g.input([8, 24], name: "w")
            for t in [x, w] { for i in 0..<t.count { t[i] = S(rng.normal()) } }
            let y = g.unary(.gelu, g.attention(qkv: g.matmul(g.norm(.layer, x, gain: nil), w), heads: 2))
            g.forward()
            return y.values.map { Double($0) }
        }
        for (a, b) in zip(run(Float.self), run(Double.self)) { #expect(Swift.abs(a - b) < 1e-5) }
    }

    /// Same seed, same graph: bit-identical results, run after run.
    @Test func deterministic() {
        func run() -> [Float] {
            let g = Graph<Float>()
            var rng = Xoshiro(seed: 11)
            let x = g.input([64, 128], name: "x"), w = g.input([128, 96], name: "w")
            for t in [x, w] { t.fillNormal(std: 1, &rng) }
            let y = g.unary(.gelu, g.matmul(x, w))
            g.forward()
            return y.values
        }
        #expect(run() == run())
    }
}
