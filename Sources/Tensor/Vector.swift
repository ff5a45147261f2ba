// Row reductions in SIMD8 lanes. A plain `for` loop that adds into one scalar does not
// vectorise (floating-point addition is not reassociated), and these reductions sit in
// every norm, softmax and attention row.

@inline(__always)
func load8<S: Scalar>(_ p: UnsafePointer<S>) -> SIMD8<S> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self)
}

/// Σ p[i], i < n.
@inline(__always)
func vectorSum<S: Scalar>(_ p: UnsafePointer<S>, _ n: Int) -> S {
    var acc = SIMD8<S>(repeating: 0), i = 0
    while i + 8 <= n { acc += load8(p + i); i += 8 }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Σ a[i]·b[i], i < n.
@inline(__always)
func vectorDot<S: Scalar>(_ a: UnsafePointer<S>, _ b: UnsafePointer<S>, _ n: Int) -> S {
    var acc = SIMD8<S>(repeating: 0), i = 0
    while i + 8 <= n { acc += load8(a + i) * load8(b + i); i += 8 }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// Σ (p[i] − c)², i < n.
@inline(__always)
func vectorSquaredDeviation<S: Scalar>(_ p: UnsafePointer<S>, _ c: S, _ n: Int) -> S {
    var acc = SIMD8<S>(repeating: 0), i = 0
    let cv = SIMD8<S>(repeating: c)
    while i + 8 <= n { let d = load8(p + i) - cv; acc += d * d; i += 8 }
    var s = acc.sum()
    while i < n { let d = p[i] - c; s += d * d; i += 1 }
    return s
}

/// The larger of a and b, where a NaN loses to any number (IEEE's maximumNumber): a
/// compare and a blend, so the loops over it vectorise.
@inline(__always)
func larger<S: Scalar>(_ a: S, _ b: S) -> S { b > a || a != a ? b : a }

/// max p[i], i < n (n ≥ 1); NaNs lose to numbers (NaN only if every element is NaN), as
/// the standard library's pointwiseMax did here before.
@inline(__always)
func vectorMax<S: Scalar>(_ p: UnsafePointer<S>, _ n: Int) -> S {
    var i = 0, m = p[0]
    if n >= 8 {
        var acc = load8(p)
        i = 8
        // Lane by lane: the standard library's pointwiseMax and max() stay calls (a call per
        // vector in attention's inner loop), these loops become compares and blends.
        while i + 8 <= n {
            let x = load8(p + i)
            for l in 0..<8 { acc[l] = larger(acc[l], x[l]) }
            i += 8
        }
        m = acc[0]
        for l in 1..<8 { m = larger(m, acc[l]) }
    }
    while i < n { m = larger(m, p[i]); i += 1 }
    return m
}

/// Σ g[i]² over range, eight lanes then the tail: the one order every caller (the clip
/// norm, the replica merge that sums it on the way) uses, so their sums agree exactly.
@inline(__always)
public func sumOfSquares(_ g: UnsafePointer<Float>, _ range: Range<Int>) -> Float {
    vectorDot(g + range.lowerBound, g + range.lowerBound, range.count)
}
