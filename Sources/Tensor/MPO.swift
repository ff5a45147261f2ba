import CBLAS

/// Thin SVD of a row-major m×n matrix: m = U · diag(s) · Vᵀ with U [m×r], Vᵀ [r×n],
/// r = min(m, n), through LAPACK's dgesvd.
public func svd(_ a: [Double], rows m: Int, cols n: Int) -> (u: [Double], s: [Double], vt: [Double]) {
    // LAPACK reads column-major: our row-major M is its n×m matrix Mᵀ = V S Uᵀ. Its "U"
    // (n×r, column-major) is then our Vᵀ row-major, and its "Vᵀ" (r×m) our U row-major.
    let r = min(m, n)
    var a = a, s = [Double](repeating: 0, count: r)
    var lu = [Double](repeating: 0, count: n * r), lvt = [Double](repeating: 0, count: r * m)
    var mm = Int32(n), nn = Int32(m), lda = Int32(n), ldu = Int32(n), ldvt = Int32(r), info: Int32 = 0
    var job: CChar = 83  // "S": the thin factors
    var query = [Double](repeating: 0, count: 1), lwork: Int32 = -1
    dgesvd_(&job, &job, &mm, &nn, &a, &lda, &s, &lu, &ldu, &lvt, &ldvt, &query, &lwork, &info)
    lwork = Int32(query[0])
    var work = [Double](repeating: 0, count: Int(lwork))
    dgesvd_(&job, &job, &mm, &nn, &a, &lda, &s, &lu, &ldu, &lvt, &ldvt, &work, &lwork, &info)
    check(info == 0, "svd: dgesvd failed with info \(info)")
    return (lvt, s, lu)
}

/// A matrix product operator (tensor train) of a weight W [I×J], I = Π iₖ, J = Π jₖ:
/// cores Tₖ [rₖ₋₁, iₖ, jₖ, rₖ] whose contraction is W (Gao et al. 2022).
public struct MPO: Sendable {
    public let rowFactors: [Int], colFactors: [Int]
    public var cores: [[Double]]
    public var bonds: [Int]          // r₀ = 1, r₁ … rₙ₋₁, rₙ = 1

    public var rows: Int { rowFactors.reduce(1, *) }
    public var cols: Int { colFactors.reduce(1, *) }
    public func coreShape(_ k: Int) -> [Int] { [bonds[k], rowFactors[k], colFactors[k], bonds[k + 1]] }

    /// Decomposes W (row-major) with successive SVDs, bonds kept full (exact) unless capped.
    public init(_ w: [Double], rowFactors: [Int], colFactors: [Int], maxBond: Int = .max) {
        check(rowFactors.count == colFactors.count && rowFactors.count >= 2, "MPO: factor lists must match, ≥ 2 cores")
        self.rowFactors = rowFactors; self.colFactors = colFactors
        let n = rowFactors.count
        let i = rowFactors.reduce(1, *), j = colFactors.reduce(1, *)
        check(w.count == i * j, "MPO: \(w.count) values for \(i)×\(j)")
        // Reorder W[(i1…in), (j1…jn)] to X[(i1 j1) … (in jn)].
        var remainder = MPO.interleave(w, rowFactors, colFactors)
        var cores = [[Double]](), bonds = [1]
        for k in 0..<(n - 1) {
            let m = bonds[k] * rowFactors[k] * colFactors[k], rest = remainder.count / m
            let (u, s, vt) = svd(remainder, rows: m, cols: rest)
            let r = min(s.count, maxBond)
            cores.append((0..<m).flatMap { a in (0..<r).map { u[a * s.count + $0] } })   // [m, r] of U
            remainder = (0..<r).flatMap { b in (0..<rest).map { s[b] * vt[b * rest + $0] } }
            bonds.append(r)
        }
        cores.append(remainder)
        bonds.append(1)
        self.cores = cores
        self.bonds = bonds
    }

    /// W back from the cores, row-major [I×J].
    public func contract() -> [Double] {
        var x = cores[0], width = bonds[1]          // x: [(i1 j1 … ik jk), r_k]
        for k in 1..<cores.count {
            let rowsX = x.count / width, next = cores[k].count / width
            var y = [Double](repeating: 0, count: rowsX * next)
            for a in 0..<rowsX { for r in 0..<width {
                let xv = x[a * width + r]
                for b in 0..<next { y[a * next + b] += xv * cores[k][r * next + b] }
            } }
            x = y
            width = bonds[k + 1]
        }
        return MPO.deinterleave(x, rowFactors, colFactors)
    }

    public var parameterCount: Int { cores.reduce(0) { $0 + $1.count } }

    /// The permutation from (i1 … in, j1 … jn) to (i1 j1 … in jn), as a source index per
    /// destination index.
    public static func interleaving(_ rf: [Int], _ cf: [Int]) -> [Int] {
        let n = rf.count, j = cf.reduce(1, *)
        var out = [Int]()
        var idx = [Int](repeating: 0, count: 2 * n)       // digits in (i1 j1 … in jn) order
        let dims = (0..<n).flatMap { [rf[$0], cf[$0]] }
        for _ in 0..<(rf.reduce(1, *) * j) {
            var row = 0, col = 0
            for k in 0..<n { row = row * rf[k] + idx[2 * k]; col = col * cf[k] + idx[2 * k + 1] }
            out.append(row * j + col)
            var a = 2 * n - 1
            while a >= 0 { idx[a] += 1; if idx[a] < dims[a] { break }; idx[a] = 0; a -= 1 }
        }
        return out
    }

    static func interleave(_ w: [Double], _ rf: [Int], _ cf: [Int]) -> [Double] {
        interleaving(rf, cf).map { w[$0] }
    }

    static func deinterleave(_ x: [Double], _ rf: [Int], _ cf: [Int]) -> [Double] {
        var w = [Double](repeating: 0, count: x.count)
        for (d, s) in interleaving(rf, cf).enumerated() { w[s] = x[d] }
        return w
    }
}

