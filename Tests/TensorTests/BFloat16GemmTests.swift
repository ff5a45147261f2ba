import CGemm
import Primitives
import Testing
@testable import Tensor

/// Products in `Precision.bfloat16`: each kernel (AMX's tiles, AVX512-BF16) against the exact product of the rounded
/// operands (Double), on random shapes with every transpose, partial tiles, k past one block,
/// leading dimensions wider than the matrices and alpha/beta; the rounding itself; and the
/// path other CPUs take (rounded operands, float32 product).
@Suite("bfloat16 products")
struct BFloat16GemmTests {
    /// Round to nearest even, as bfloat16's definition (and PyTorch's `.to(torch.bfloat16)`),
    /// a denormal to a signed zero as AMX's conversion takes it.
    static func reference(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x.isSubnormal { return x.sign == .minus ? -0.0 : 0 }
        let u = x.bitPattern, lower = u & 0xFFFF, upper = u >> 16
        let up = lower > 0x8000 || (lower == 0x8000 && upper & 1 == 1)
        return Float(bitPattern: (upper &+ (up ? 1 : 0)) << 16)
    }

    @Test func roundingIsNearestEven() {
        var rng = Xoshiro(seed: 3)
        var values: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .greatestFiniteMagnitude, .leastNormalMagnitude,
                               .leastNonzeroMagnitude, Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000),
                               Float(bitPattern: 0x3F80_8001), Float(bitPattern: 0x3F80_7FFF), Float(bitPattern: 0x7F7F_FFFF)]
        values += (0..<2000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }.filter { !$0.isNaN }
        var out = [Float](repeating: 0, count: values.count)
        evolve_round_bf16(values, 1, Int32(values.count), Int32(values.count), &out)
        for (x, y) in zip(values, out) {
            #expect(y.bitPattern == Self.reference(x).bitPattern, "\(x) (\(String(x.bitPattern, radix: 16))) → \(y)")
        }
        let nan: [Float] = [.nan, -.nan, Float(bitPattern: 0x7F80_0001)]
        var rounded = [Float](repeating: 0, count: 3)
        evolve_round_bf16(nan, 1, 3, 3, &rounded)
        #expect(rounded.allSatisfy { $0.isNaN })
    }

    static let shapes = [(1, 9, 1), (7, 9, 3), (32, 32, 32), (33, 31, 33), (13, 40, 100), (50, 64, 256), (97, 128, 64),
                         (13, 37, 300), (100, 17, 9), (97, 70, 513), (384, 512, 128), (2, 200, 4), (64, 33, 1),
                         (5, 4133, 37)]   // op(B) in slices of 2048 columns

    /// C from `product` against Σ round(a)·round(b) in Double, with the padding past n untouched.
    static func check(_ t: (Bool, Bool), seed: UInt64,
                      _ product: (Bool, Bool, Int, Int, Int, Float, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int,
                                  Float, UnsafeMutablePointer<Float>, Int) -> Void) {
        var rng = Xoshiro(seed: seed)
        for (m, n, k) in shapes {
            for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1), (-2, 0.25), (1, 1)] {
                let (a, lda, b, ldb, c0, ldc) = operands(t, m, n, k, beta: beta, &rng)
                var c = c0
                product(t.0, t.1, m, n, k, alpha, a, lda, b, ldb, beta, &c, ldc)
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<n {
                        var exact = 0.0, size = 0.0
                        for p in 0..<k {
                            let x = Double(reference(t.0 ? a[p * lda + i] : a[i * lda + p]))
                            let y = Double(reference(t.1 ? b[j * ldb + p] : b[p * ldb + j]))
                            exact += x * y; size += abs(x * y)
                        }
                        let want = Double(alpha) * exact + (beta == 0 ? 0 : Double(beta) * Double(c0[i * ldc + j]))
                        // float32 sums: a few units of rounding per term, relative to the terms' size
                        // a NaN (C read where beta 0 must not) is the worst of all
                        let d = abs(Double(c[i * ldc + j]) - want) / (1 + abs(Double(alpha)) * size)
                        worst = d <= worst ? worst : d
                    }
                    for j in n..<ldc { #expect(c[i * ldc + j].bitPattern == c0[i * ldc + j].bitPattern) }
                }
                #expect(worst <= 4e-7 * Double(k).squareRoot() + 1e-7, "\(m)×\(n)×\(k) \(t) α \(alpha) β \(beta): worst \(worst)")
            }
        }
    }

    /// Each bfloat16 kernel this CPU has (AMX's tiles and AVX512-BF16's dot products on
    /// Sapphire Rapids, the latter alone on Zen 4), every transpose.
    static var kernels: [(Precision.Kernel, Bool, Bool)] {
        [Precision.Kernel.avx512, .amx].filter { $0.rawValue <= Precision.kernel.rawValue }.flatMap { k in
            [(false, false), (true, false), (false, true), (true, true)].map { (k, $0.0, $0.1) }
        }
    }

    @Test(.enabled(if: Precision.kernel != .rounded, "this CPU has neither AMX nor AVX512-BF16: bfloat16 products take the rounded float32 path (tested below)"),
          arguments: kernels)
    func kernelsMultiplyTheRoundedOperands(_ kernel: Precision.Kernel, _ ta: Bool, _ tb: Bool) {
        Self.check((ta, tb), seed: 5) { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
            evolve_bgemm_on(kernel.rawValue, ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda),
                            b, Int32(ldb), beta, c, Int32(ldc))
        }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func roundedPathMultipliesTheRoundedOperands(_ t: (Bool, Bool)) {
        Self.check(t, seed: 7, Gemm.rounded)
    }

    /// A float32 model's products never see the precision of another bound beside it, and a
    /// bfloat16 one's do, on the threads the engine starts too.
    @Test func precisionIsBoundPerTaskAndHandedToThreads() {
        let a: [Float] = (0..<(16 * 16)).map { Float($0) * 1.001 + 0.3 }, eye = (0..<(16 * 16)).map { $0 % 17 == 0 ? Float(1) : 0 }
        func product(_ p: Precision) -> [[Float]] {
            Threads.with(2, precision: p) {
                var out = [[Float]](repeating: [], count: 2)
                out.withUnsafeMutableBufferPointer { o in
                    let o = o
                    Threads.concurrently(2) { i in
                        var c = [Float](repeating: 0, count: 16 * 16)
                        Float.gemm(false, false, 16, 16, 16, 1, a, 16, eye, 16, 0, &c, 16)
                        o[i] = c
                    }
                }
                return out
            }
        }
        #expect(product(.float32).allSatisfy { $0 == a })
        #expect(product(.bfloat16).allSatisfy { $0 == a.map(Self.reference) })
    }
}
