import CGemm

// Small products inside a tile that stays in cache (attention's 16×16 blocks and their
// rows of values), kept in registers: a GEMM call per block costs more than the block
// (Q·Kᵀ of 16 rows by 16 keys over 32 channels is 8K multiply-adds). Float on a CPU with
// AVX-512 runs them in C (Sources/CGemm/tile.c), 16 floats wide; the rest here, 8 wide.

/// Whether Float's block products run in AVX-512 (decided once).
let tileProductAVX512 = evolve_sgemm_width() == 512

@inline(__always)
func store8<S: Scalar>(_ v: SIMD8<S>, _ p: UnsafeMutablePointer<S>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<S>.self)
}

/// c[m×n] = (accumulate ? c : 0) + Σₖ A(i, k)·b[k, ·], where A(i, k) = a[i·ai + k·ak]
/// (ai = 1, ak = rows reads a stored matrix transposed), b's rows are ldb apart and c's
/// ldc apart. m must be a multiple of 4 and n of 8: callers pad their tiles.
@_specialize(where S == Float)
func tileProduct<S: Scalar>(
    m: Int, n: Int, k: Int, _ a: UnsafePointer<S>, _ ai: Int, _ ak: Int,
    _ b: UnsafePointer<S>, _ ldb: Int, _ c: UnsafeMutablePointer<S>, _ ldc: Int, accumulate: Bool
) {
    if S.self == Float.self && tileProductAVX512 {
        func f(_ p: UnsafePointer<S>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
        return evolve_tile_product(Int32(m), Int32(n), Int32(k), f(a), ai, ak, f(b), ldb,
                                   UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc, accumulate ? 1 : 0)
    }
    for i in stride(from: 0, to: m, by: 4) {
        var j = 0
        while j + 16 <= n {
            product4x16(k, a + i * ai, ai, ak, b + j, ldb, c + i * ldc + j, ldc, accumulate)
            j += 16
        }
        if j < n { product4x8(k, a + i * ai, ai, ak, b + j, ldb, c + i * ldc + j, ldc, accumulate) }
    }
}

/// Four rows by sixteen columns: eight accumulators, two loads of b and four broadcasts of
/// A per step of k.
@inline(__always)
private func product4x16<S: Scalar>(
    _ k: Int, _ a: UnsafePointer<S>, _ ai: Int, _ ak: Int, _ b: UnsafePointer<S>, _ ldb: Int,
    _ c: UnsafeMutablePointer<S>, _ ldc: Int, _ accumulate: Bool
) {
    let zero = SIMD8<S>(repeating: 0)
    var (c00, c01, c10, c11) = accumulate ? (load8(c), load8(c + 8), load8(c + ldc), load8(c + ldc + 8)) : (zero, zero, zero, zero)
    var (c20, c21, c30, c31) = accumulate
        ? (load8(c + 2 * ldc), load8(c + 2 * ldc + 8), load8(c + 3 * ldc), load8(c + 3 * ldc + 8)) : (zero, zero, zero, zero)
    var ap = a, bp = b
    for _ in 0..<k {
        let b0 = load8(bp), b1 = load8(bp + 8)
        let a0 = SIMD8(repeating: ap[0]), a1 = SIMD8(repeating: ap[ai])
        c00.addProduct(a0, b0); c01.addProduct(a0, b1)
        c10.addProduct(a1, b0); c11.addProduct(a1, b1)
        let a2 = SIMD8(repeating: ap[2 * ai]), a3 = SIMD8(repeating: ap[3 * ai])
        c20.addProduct(a2, b0); c21.addProduct(a2, b1)
        c30.addProduct(a3, b0); c31.addProduct(a3, b1)
        ap += ak; bp += ldb
    }
    store8(c00, c); store8(c01, c + 8)
    store8(c10, c + ldc); store8(c11, c + ldc + 8)
    store8(c20, c + 2 * ldc); store8(c21, c + 2 * ldc + 8)
    store8(c30, c + 3 * ldc); store8(c31, c + 3 * ldc + 8)
}

/// Four rows by the last eight columns.
@inline(__always)
private func product4x8<S: Scalar>(
    _ k: Int, _ a: UnsafePointer<S>, _ ai: Int, _ ak: Int, _ b: UnsafePointer<S>, _ ldb: Int,
    _ c: UnsafeMutablePointer<S>, _ ldc: Int, _ accumulate: Bool
) {
    let zero = SIMD8<S>(repeating: 0)
    var (c0, c1, c2, c3) = accumulate ? (load8(c), load8(c + ldc), load8(c + 2 * ldc), load8(c + 3 * ldc)) : (zero, zero, zero, zero)
    var ap = a, bp = b
    for _ in 0..<k {
        let b0 = load8(bp)
        c0.addProduct(SIMD8(repeating: ap[0]), b0)
        c1.addProduct(SIMD8(repeating: ap[ai]), b0)
        c2.addProduct(SIMD8(repeating: ap[2 * ai]), b0)
        c3.addProduct(SIMD8(repeating: ap[3 * ai]), b0)
        ap += ak; bp += ldb
    }
    store8(c0, c); store8(c1, c + ldc); store8(c2, c + 2 * ldc); store8(c3, c + 3 * ldc)
}
