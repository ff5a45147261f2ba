// Copies a run of channels between two tensors with the same rows:
//   dst[r, dstOffset ..< dstOffset + width] = src[r, srcOffset ..< srcOffset + width]
// Split is one such copy per piece; concatenation one per input.
final class ChannelCopyKernel<S: Scalar>: Kernel {
    let src: Tensor<S>, dst: Tensor<S>
    let srcOffset: Int, dstOffset: Int, width: Int
    init(_ src: Tensor<S>, _ srcOffset: Int, _ dst: Tensor<S>, _ dstOffset: Int, _ width: Int) {
        self.src = src; self.dst = dst; self.srcOffset = srcOffset; self.dstOffset = dstOffset; self.width = width
    }

    @_specialize(where S == Float)
    func forward() {
        let cs = src.channels, cd = dst.channels
        Parallel.forEach(src.rows, grain: max(1, 16384 / width)) { rows in
            for r in rows { (dst.value + r * cd + dstOffset).update(from: src.value + r * cs + srcOffset, count: width) }
        }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = dst.incomingGrad(), let dx = src.accumulatingGrad() else { return }
        let cs = src.channels, cd = dst.channels
        Parallel.forEach(src.rows, grain: max(1, 16384 / width)) { rows in
            for r in rows { addInPlace(dx + r * cs + srcOffset, dy + r * cd + dstOffset, width) }
        }
    }
}

// y = x with axes a and b exchanged; any rank. Or any fixed permutation of x's elements,
// written at an offset of y (several permuted tensors stacked in one, without a copy).
final class TransposeKernel<S: Scalar>: Kernel {
    let x: Tensor<S>, y: Tensor<S>, yOffset: Int
    // The permutation as runs: y[b·run ..< (b+1)·run] = x[blockStart[b] ..< blockStart[b] + run].
    // Permutations that keep the innermost axes (a transpose of outer axes, an MPO's
    // interleaved cores) then copy whole rows instead of single elements.
    let run: Int
    let blockStart: [Int]

    /// y[yOffset + d] = x[sourceOffset[d]]: any fixed permutation.
    init(_ x: Tensor<S>, _ y: Tensor<S>, sourceOffset: [Int], yOffset: Int = 0) {
        self.x = x; self.y = y; self.yOffset = yOffset
        // The longest run length that every break in consecutive offsets is a multiple of.
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        var run = sourceOffset.count
        for d in 1..<max(1, sourceOffset.count) where sourceOffset[d] != sourceOffset[d - 1] + 1 { run = gcd(run, d) }
        self.run = max(run, 1)
        blockStart = stride(from: 0, to: sourceOffset.count, by: self.run).map { sourceOffset[$0] }
    }

    convenience init(_ x: Tensor<S>, _ y: Tensor<S>, _ a: Int, _ b: Int) {
        var strides = Array(repeating: 1, count: x.shape.count)
        for i in stride(from: x.shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * x.shape[i + 1] }
        strides.swapAt(a, b)
        var offsets = [Int](), index = Array(repeating: 0, count: y.shape.count)
        offsets.reserveCapacity(y.count)
        for _ in 0..<y.count {
            offsets.append(zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 })
            var axis = y.shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < y.shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        self.init(x, y, sourceOffset: offsets)
    }

    // Blocks go to disjoint places, so they split across threads freely.
    @_specialize(where S == Float)
    func forward() {
        let (x, y, run) = (x.value, y.value + yOffset, run)
        blockStart.withUnsafeBufferPointer { starts in
            Parallel.forEach(starts.count, grain: max(1, 16384 / run)) { blocks in
                if run == 1 { for b in blocks { y[b] = x[starts[b]] }; return }
                for b in blocks { (y + b * run).update(from: x + starts[b], count: run) }
            }
        }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dyAll = y.incomingGrad(), let (dx, acc) = x.gradTarget() else { return }
        let run = run, dy = dyAll + yOffset
        blockStart.withUnsafeBufferPointer { starts in
            Parallel.forEach(starts.count, grain: max(1, 16384 / run)) { blocks in
                for b in blocks {
                    let o = starts[b]
                    if acc { addInPlace(dx + o, dy + b * run, run) } else { (dx + o).update(from: dy + b * run, count: run) }
                }
            }
        }
    }
}

extension Graph {
    /// Splits the last axis into pieces of the given widths.
    public func split(_ x: Tensor<S>, _ widths: [Int]) -> [Tensor<S>] {
        check(widths.reduce(0, +) == x.channels, "split: widths \(widths) do not add up to \(x.channels)")
        var offset = 0
        return widths.map { w in
            let y = activation(Array(x.shape.dropLast()) + [w], "split", from: [x])
            append(ChannelCopyKernel(x, offset, y, 0, w))
            offset += w
            return y
        }
    }

    /// Concatenates along the last axis; the other axes must agree.
    public func concat(_ xs: [Tensor<S>]) -> Tensor<S> {
        let lead = Array(xs[0].shape.dropLast())
        check(xs.allSatisfy { Array($0.shape.dropLast()) == lead }, "concat: leading axes differ: \(xs.map(\.shape))")
        let y = activation(lead + [xs.reduce(0) { $0 + $1.channels }], "concat", from: xs)
        var offset = 0
        for x in xs {
            append(ChannelCopyKernel(x, 0, y, offset, x.channels))
            offset += x.channels
        }
        return y
    }

    /// y[d] = x[source[d]] for a permutation `source` of x's elements, y of `shape`.
    public func permute(_ x: Tensor<S>, source: [Int], shape: [Int]) -> Tensor<S> {
        check(source.count == x.count && Set(source).count == x.count && shape.reduce(1, *) == x.count,
              "permute: not a permutation of \(x.count) elements into \(shape)")
        let y = activation(shape, "permute", from: [x])
        append(TransposeKernel(x, y, sourceOffset: source))
        return y
    }

    /// y[i] = permute(xs[i], source) for tensors of one size, stacked → [xs.count] + shape,
    /// each written in place (no concatenating copy).
    public func stackPermuted(_ xs: [Tensor<S>], source: [Int], shape: [Int]) -> Tensor<S> {
        let n = xs[0].count
        check(xs.allSatisfy { $0.count == n } && source.count == n && Set(source).count == n && shape.reduce(1, *) == n,
              "stackPermuted: not a permutation of \(n) elements into \(shape) for each of \(xs.map(\.shape))")
        let y = activation([xs.count] + shape, "permute", from: xs)
        for (i, x) in xs.enumerated() { append(TransposeKernel(x, y, sourceOffset: source, yOffset: i * n)) }
        return y
    }

    /// Exchanges axes a and b (e.g. [B, T, H, D] → [B, H, T, D]).
    public func transpose(_ x: Tensor<S>, _ a: Int, _ b: Int) -> Tensor<S> {
        check(a >= 0 && b >= 0 && a < x.shape.count && b < x.shape.count, "transpose: axes \(a), \(b) of \(x.shape)")
        var shape = x.shape
        shape.swapAt(a, b)
        let y = activation(shape, "transpose", from: [x])
        append(TransposeKernel(x, y, a, b))
        return y
    }
}
