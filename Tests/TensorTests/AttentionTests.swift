import Primitives
import Testing
@testable import Tensor

/// A shape attention is tried at: batch, context, heads, head widths of q/k and of v.
/// `layout` says how q, k and v are read: slices of one tensor (a fused projection, with an
/// extra channel so that no width equals the row stride), three tensors of which v needs no
/// gradient, or one tensor read as all three (q = k = v, as `T_MAT_MUL s1 s1` gives).
struct AttentionShape: Sendable, CustomStringConvertible {
    enum Layout: Sendable { case fused, separate, shared }
    let b: Int, t: Int, h: Int, d: Int, dv: Int
    var layout = Layout.fused
    var description: String { "b\(b) t\(t) h\(h) d\(d) dv\(dv) \(layout)" }
}

/// Builds attention at `shape` with random inputs, runs forward and backward from
/// Σ out ⊙ w (+ Σ x ⊙ w2, so that attention's gradients add to an earlier contribution)
/// and returns the output and every input's gradient.
func attentionRun<S: Scalar>(_ s: AttentionShape, _: S.Type, seed: UInt64) -> (out: [S], grads: [[S]]) {
    let g = Graph<S>()
    var rng = Xoshiro(seed: seed)
    let (qw, vw) = (s.h * s.d, s.h * s.dv)
    var inputs = [Tensor<S>](), slices: (ChannelSlice<S>, ChannelSlice<S>, ChannelSlice<S>)
    switch s.layout {
    case .fused:
        let x = g.input([s.b, s.t, 2 * qw + vw + 1], name: "qkv", requiresGrad: true)
        inputs = [x]
        slices = (ChannelSlice(x, offset: 0, width: qw), ChannelSlice(x, offset: qw, width: qw), ChannelSlice(x, offset: 2 * qw, width: vw))
    case .separate:
        inputs = [g.input([s.b, s.t, qw], name: "q", requiresGrad: true), g.input([s.b, s.t, qw], name: "k", requiresGrad: true),
                  g.input([s.b, s.t, vw], name: "v")]
        slices = (ChannelSlice(inputs[0]), ChannelSlice(inputs[1]), ChannelSlice(inputs[2]))
    case .shared:
        inputs = [g.input([s.b, s.t, qw], name: "x", requiresGrad: true)]
        slices = (ChannelSlice(inputs[0]), ChannelSlice(inputs[0]), ChannelSlice(inputs[0]))
    }
    for x in inputs { for i in 0..<x.count { x[i] = S(rng.normal() * 1.5) } }
    let y = g.attention(q: slices.0, k: slices.1, v: slices.2, heads: s.h)
    let w = g.input(y.shape, name: "w"), w2 = g.input(inputs[0].shape, name: "w2")
    for i in 0..<w.count { w[i] = S(rng.normal()) }
    for i in 0..<w2.count { w2[i] = S(rng.normal()) }
    let loss = g.add(g.sumAll(g.multiply(y, w)), g.sumAll(g.multiply(inputs[0], w2)))
    g.forward()
    g.backward(from: loss)
    return (y.values, inputs.map(\.grads))
}

/// The largest difference between a and b relative to the largest magnitude in either.
func relativeDifference<S: Scalar>(_ a: [S], _ b: [S]) -> Double {
    let scale = Swift.max(1, (a + b).map { Double(Swift.abs($0)) }.max() ?? 0)
    return zip(a, b).map { Double(Swift.abs($0 - $1)) }.max().map { $0 / scale } ?? 0
}

@Suite("fused attention")
struct AttentionTests {
    static let shapes: [AttentionShape] = [
        .init(b: 1, t: 1, h: 1, d: 4, dv: 4), .init(b: 2, t: 7, h: 3, d: 8, dv: 8),
        .init(b: 1, t: 33, h: 2, d: 16, dv: 8), .init(b: 2, t: 65, h: 4, d: 32, dv: 32),
        .init(b: 1, t: 129, h: 2, d: 32, dv: 16), .init(b: 1, t: 16, h: 1, d: 3, dv: 5),
        .init(b: 2, t: 64, h: 4, d: 32, dv: 32, layout: .separate), .init(b: 1, t: 33, h: 2, d: 4, dv: 4, layout: .shared),
        .init(b: 1, t: 48, h: 1, d: 64, dv: 24, layout: .separate), .init(b: 3, t: 7, h: 2, d: 4, dv: 4, layout: .shared),
    ]

    /// Output and gradients equal the kernel it replaced, in Float within rounding and in
    /// Double to ~1e-12.
    @Test(arguments: shapes)
    func equalsReferenceKernel(_ shape: AttentionShape) {
        let fused = AttentionReference.$enabled.withValue(false) { attentionRun(shape, Float.self, seed: 7) }
        let reference = AttentionReference.$enabled.withValue(true) { attentionRun(shape, Float.self, seed: 7) }
        #expect(relativeDifference(fused.out, reference.out) < 2e-6, "output")
        for (i, (a, b)) in zip(fused.grads, reference.grads).enumerated() {
            #expect(a.count == b.count)
            #expect(relativeDifference(a, b) < 1e-5, "gradient of input \(i)")
        }
        let fused64 = AttentionReference.$enabled.withValue(false) { attentionRun(shape, Double.self, seed: 7) }
        let reference64 = AttentionReference.$enabled.withValue(true) { attentionRun(shape, Double.self, seed: 7) }
        #expect(relativeDifference(fused64.out, reference64.out) < 1e-12, "output")
        for (a, b) in zip(fused64.grads, reference64.grads) { #expect(relativeDifference(a, b) < 1e-12) }
    }

    /// Backward against finite differences in Double, for both kernels (whichever this CPU
    /// runs by default): contexts in and past one block of 16 (the last block partial), head
    /// widths that are not whole vectors, v narrower or wider.
    @Test(arguments: [[1, 1, 4, 4], [2, 7, 3, 5], [1, 17, 8, 4], [1, 33, 4, 8]], [false, true])
    func finiteDifferences(_ shape: [Int], reference: Bool) {
        let (b, t, d, dv) = (shape[0], shape[1], shape[2], shape[3])
        AttentionReference.$enabled.withValue(reference) {
            checkGradients([[b, t, 2 * d], [b, t, 2 * d], [b, t, 2 * dv]]) { g, x in
                g.attention(q: ChannelSlice(x[0]), k: ChannelSlice(x[1]), v: ChannelSlice(x[2]), heads: 2)
            }
        }
    }

    /// A perturbed output row changes only its own output row (causality of the blocks).
    @Test func laterKeysDoNotReachEarlierRows() {
        let s = AttentionShape(b: 1, t: 40, h: 2, d: 8, dv: 8, layout: .shared)
        let g = Graph<Float>()
        let x = g.input([1, s.t, 16], name: "x")
        var rng = Xoshiro(seed: 2)
        for i in 0..<x.count { x[i] = Float(rng.normal()) }
        let y = g.attention(q: ChannelSlice(x), k: ChannelSlice(x), v: ChannelSlice(x), heads: 2)
        g.forward()
        let before = y.values
        for j in 0..<16 { x[20 * 16 + j] += 3 }   // position 20, in the second block
        g.forward()
        #expect(Array(y.values[..<(20 * 16)]) == Array(before[..<(20 * 16)]))
        #expect(Array(y.values[(20 * 16)...]) != Array(before[(20 * 16)...]))
    }
}
