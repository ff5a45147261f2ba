// Float exp and erf as branch-free polynomials, so that elementwise loops over them
// vectorise (libm's expf/erff are scalar calls: GELU alone cost ~30 ms a step with them).
// Double keeps libm: gradient checks want the exact function.

/// e^x, relative error ≤ 2 ulp on [-87, 88] (Cephes expf: 2^n · p(r), |r| ≤ ln2/2);
/// flushes to 0 below -87.3 and to +inf-like 2^128 above 88.7.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let xc = Swift.min(Swift.max(x, -87.33654), 88.72284)
    // Round to nearest by adding 1.5·2^23: n lands in the low mantissa bits (no libm call).
    let shifted = xc * 1.44269504088896341 + 12582912
    let n = shifted - 12582912
    var r = xc - n * 0.693359375
    r = r - n * -2.12194440e-4
    let r2 = r * r
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * r2 + r + 1
    let bits = (shifted.bitPattern &- 0x4B40_0000 &+ 127) << 23
    let y = p * Float(bitPattern: bits)
    return x < -87.33654 ? 0 : y   // a select, not a branch: still vectorises
}

/// erf(x), absolute error ≤ 1.5e-7 (Abramowitz & Stegun 7.1.26).
@inline(__always)
func fastErf(_ x: Float) -> Float {
    let a = Swift.abs(x)
    let t = 1 / (1 + 0.3275911 * a)
    var p: Float = 1.061405429
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    let y = 1 - p * t * fastExp(-a * a)
    return Float(bitPattern: y.bitPattern | (x.bitPattern & 0x8000_0000))  // copysign
}
