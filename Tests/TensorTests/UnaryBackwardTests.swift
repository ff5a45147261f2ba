import Primitives
import Testing
@testable import Tensor

/// The unary backward's loops against the derivative taken one element at a time: a fresh
/// gradient is dy·f′(x, y) and an accumulated one prior + dy·f′(x, y), bit for bit, in Float
/// (training) and Double (the gradient checks), for every op.
@Suite("unary backward, bit for bit")
struct UnaryBackwardTests {
    static let ops: [UnaryOp] = [.negate, .abs, .square, .sqrt, .absRoot, .exp, .logAbs, .sin, .cos, .sign, .reciprocal,
                                 .relu, .squaredRelu, .gelu, .swish, .sigmoid, .tanh, .mulConstant(-1.7), .addConstant(0.3)]

    /// f′(x, y) as the kernel's comment states it, for one element.
    static func derivative<S: Scalar>(_ op: UnaryOp, _ x: S, _ y: S) -> S {
        switch op {
        case .negate: return -1
        case .abs: return signum(x)
        case .square: return 2 * x
        case .sqrt: return 1 / (2 * y)
        case .absRoot: return signum(x) / (2 * y)
        case .exp: return y
        case .logAbs: return 1 / x
        case .sin: return S.cos(x)
        case .cos: return -S.sin(x)
        case .sign: return 0
        case .reciprocal: return -y * y
        case .relu: return x > 0 ? 1 : 0
        case .squaredRelu: return x > 0 ? 2 * x : 0
        case .gelu: return (1 + S.erf(x * 0.7071067811865476)) / 2 + x * S.exp(-x * x / 2) * 0.3989422804014327
        case .swish: return swishDerivative(x)
        case .sigmoid: return y * (1 - y)
        case .tanh: return 1 - y * y
        case .mulConstant(let c): return S(c)
        case .addConstant: return 1
        }
    }

    /// Equal to the bit (a zero's sign too), or both NaN.
    func same<S: Scalar>(_ a: S, _ b: S) -> Bool { (a == b && a.sign == b.sign) || (a.isNaN && b.isNaN) }

    func check<S: Scalar>(_ op: UnaryOp, _: S.Type) {
        let n = 1000   // 8-wide lanes and a tail
        var rng = Xoshiro(seed: 11)
        let x = (0..<n).map { _ in S(4 * rng.uniform() - 2) }, dy = (0..<n).map { _ in S(rng.normal()) }
        let prior = (0..<n).map { _ in S(rng.normal()) }
        var y = [S](repeating: 0, count: n), fresh = [S](repeating: 0, count: n), summed = prior
        unaryForward(op, x, &y, n)
        unaryBackward(op, x, y, dy, &fresh, false, n)
        unaryBackward(op, x, y, dy, &summed, true, n)
        for i in 0..<n {
            let g = dy[i] * Self.derivative(op, x[i], y[i])
            #expect(same(fresh[i], g), "\(op) [\(i)]: \(fresh[i]) ≠ \(g)")
            #expect(same(summed[i], prior[i] + g), "\(op) [\(i)] accumulated: \(summed[i]) ≠ \(prior[i] + g)")
        }
    }

    /// The Swift loops (GELU's AVX-512 form, off here, is checked against them below).
    @Test(arguments: ops)
    func writesAndAccumulatesExactly(_ op: UnaryOp) {
        WideGELU.$enabled.withValue(false) {
            check(op, Float.self)
            check(op, Double.self)
        }
    }

    /// GELU in AVX-512 C against the Swift loops over lengths that leave every tail of 16,
    /// inputs past exp's clamp and erf's saturation included: within float32 rounding (the C
    /// form fuses multiply-adds the Swift one rounds twice).
    @Test(.enabled(if: WideGELU.available, "this CPU has no AVX-512: GELU runs the Swift loops only"))
    func wideGELUMatchesTheLoops() {
        var rng = Xoshiro(seed: 17)
        for n in [1, 7, 15, 16, 17, 31, 100, 1000, 8193 * 2 + 5] {
            var x = (0..<n).map { _ in Float(6 * rng.normal()) }
            x[0] = [0, -0, 40, -40, 1e-30, -15][n % 6]
            let dy = (0..<n).map { _ in Float(rng.normal()) }, prior = (0..<n).map { _ in Float(rng.normal()) }
            func run(_ wide: Bool) -> (y: [Float], fresh: [Float], summed: [Float]) {
                WideGELU.$enabled.withValue(wide) {
                    var y = [Float](repeating: .nan, count: n), fresh = [Float](repeating: .nan, count: n), summed = prior
                    unaryForward(.gelu, x, &y, n)
                    unaryBackward(.gelu, x, y, dy, &fresh, false, n)
                    unaryBackward(.gelu, x, y, dy, &summed, true, n)
                    return (y, fresh, summed)
                }
            }
            let (w, s) = (run(true), run(false))
            for (a, b) in [(w.y, s.y), (w.fresh, s.fresh), (w.summed, s.summed)] {
                let worst = zip(a, b).map { Swift.abs($0 - $1) / (1 + Swift.abs($1)) }.max()!
                #expect(worst <= 4e-7 && !a.contains(where: \.isNaN), "n \(n): worst relative difference \(worst)")
            }
        }
    }
}
