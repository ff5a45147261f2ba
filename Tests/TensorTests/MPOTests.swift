import Primitives
import Testing
@testable import Tensor

@Suite("matrix product operators")
struct MPOTests {
    /// ops.md's example: 256×1024 with I = [2,4,4,4,2], J = [4,4,4,4,4] has bonds
    /// [1,8,128,128,8,1], a central core (128,4,4,128) of 262,144 parameters and 32,896
    /// auxiliary ones; contracting the untruncated cores gives W back (error < 1e-5).
    @Test func decomposesAndReconstructs() {
        var rng = Xoshiro(seed: 1)
        let w = (0..<(256 * 1024)).map { _ in rng.normal() }
        let mpo = MPO(w, rowFactors: [2, 4, 4, 4, 2], colFactors: [4, 4, 4, 4, 4])
        #expect(mpo.bonds == [1, 8, 128, 128, 8, 1])
        #expect(mpo.cores[2].count == 262_144)
        #expect(mpo.parameterCount - mpo.cores[2].count == 32_896)
        let back = mpo.contract()
        let err = zip(w, back).map { Swift.abs($0 - $1) }.max()!
        #expect(err < 1e-5)
    }

    @Test func truncationLosesAccuracy() {
        var rng = Xoshiro(seed: 2)
        let w = (0..<(64 * 64)).map { _ in rng.normal() }
        let full = MPO(w, rowFactors: [4, 4, 4], colFactors: [4, 4, 4])
        let cut = MPO(w, rowFactors: [4, 4, 4], colFactors: [4, 4, 4], maxBond: 4)
        let errFull = zip(w, full.contract()).map { Swift.abs($0 - $1) }.max()!
        let errCut = zip(w, cut.contract()).map { Swift.abs($0 - $1) }.max()!
        #expect(errFull < 1e-9)
        #expect(errCut > 1e-2)
        #expect(cut.parameterCount < full.parameterCount)
    }

    @Test func svdReconstructs() {
        let a: [Double] = [1, 2, 3, 4, 5, 6]                    // 2×3
        let (u, s, vt) = svd(a, rows: 2, cols: 3)
        for i in 0..<2 { for j in 0..<3 {
            let x = (0..<2).reduce(0.0) { $0 + u[i * 2 + $1] * s[$1] * vt[$1 * 3 + j] }
            #expect(Swift.abs(x - a[i * 3 + j]) < 1e-12)
        } }
        #expect(s[0] >= s[1])
    }
}
