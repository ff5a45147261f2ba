/// How two shapes broadcast (NumPy rules, aligned at the last axis), reduced to the fewest
/// axes: adjacent axes merge when both operands step through them alike. Most uses end as
/// one axis (same shapes) or two (a row or a column repeated).
struct BroadcastPlan {
    let shape: [Int]          // the output's shape
    let dims: [Int]           // merged axes, outermost first
    let strideA: [Int], strideB: [Int]

    init?(_ a: [Int], _ b: [Int]) {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        var out = [Int]()
        for (x, y) in zip(pa, pb) {
            guard x == y || x == 1 || y == 1 else { return nil }
            out.append(max(x, y))
        }
        shape = out
        // Contiguous strides of each operand, zeroed on its broadcast axes.
        func strides(_ s: [Int]) -> [Int] {
            var st = Array(repeating: 0, count: rank), acc = 1
            for i in stride(from: rank - 1, through: 0, by: -1) {
                st[i] = s[i] == 1 ? 0 : acc
                acc *= s[i]
            }
            return st
        }
        let sa = strides(pa), sb = strides(pb)
        var d = [Int](), xa = [Int](), xb = [Int]()
        for i in 0..<rank where out[i] != 1 {
            if let last = d.last, xa.last! == sa[i] * out[i], xb.last! == sb[i] * out[i] {
                d[d.count - 1] = last * out[i]
                xa[xa.count - 1] = sa[i]
                xb[xb.count - 1] = sb[i]
            } else {
                d.append(out[i]); xa.append(sa[i]); xb.append(sb[i])
            }
        }
        if d.isEmpty { d = [1]; xa = [0]; xb = [0] }
        dims = d; strideA = xa; strideB = xb
    }

    var isElementwise: Bool { dims.count == 1 && strideA[0] == 1 && strideB[0] == 1 }

    /// Calls body(o, ia, ib, n, sa, sb) for each run of the innermost axis, in order: output
    /// elements o..<o+n read a at ia + j·sa and b at ib + j·sb. Kernels specialise the
    /// common inner strides (1 and 0) so the element loops vectorise.
    @inline(__always)
    func forEachRun(_ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        let rank = dims.count
        let inner = dims[rank - 1], ia1 = strideA[rank - 1], ib1 = strideB[rank - 1]
        var counter = Array(repeating: 0, count: rank)
        var o = 0, ia = 0, ib = 0
        let total = dims.reduce(1, *)
        while o < total {
            body(o, ia, ib, inner, ia1, ib1)
            o += inner
            // Advance the outer odometer.
            var axis = rank - 2
            while axis >= 0 {
                counter[axis] += 1
                ia += strideA[axis]; ib += strideB[axis]
                if counter[axis] < dims[axis] { break }
                ia -= strideA[axis] * dims[axis]; ib -= strideB[axis] * dims[axis]
                counter[axis] = 0
                axis -= 1
            }
        }
    }
}
