import Primitives

// x: [R, C]    y: [R, 1]
final class ReduceKernel<S: Scalar>: Kernel {
    let op: ReduceOp
    let x: Tensor<S>, y: Tensor<S>
    init(_ op: ReduceOp, _ x: Tensor<S>, _ y: Tensor<S>) { self.op = op; self.x = x; self.y = y }

    @_specialize(where S == Float)
    func forward() {
        let c = x.channels
        for r in 0..<x.rows {
            let xr = x.value + r * c
            switch op {
            case .sum: y[r] = vectorSum(xr, c)
            case .mean: y[r] = vectorSum(xr, c) / S(c)
            case .max: y[r] = vectorMax(xr, c)
            }
        }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad(), let dx = x.accumulatingGrad() else { return }
        let c = x.channels
        for r in 0..<x.rows {
            let xr = x.value + r * c, dxr = dx + r * c
            switch op {
            case .sum: let d = dy[r]; for j in 0..<c { dxr[j] += d }
            case .mean: let d = dy[r] / S(c); for j in 0..<c { dxr[j] += d }
            case .max:  // the first maximal element takes the gradient
                if let j = (0..<c).first(where: { xr[$0] == y[r] }) { dxr[j] += dy[r] }
            }
        }
    }
}

extension Graph {
    /// x [..., C] → [..., 1]
    public func reduce(_ op: ReduceOp, _ x: Tensor<S>) -> Tensor<S> {
        let y = activation(Array(x.shape.dropLast()) + [1], "reduce_\(op)", from: [x])
        append(ReduceKernel(op, x, y))
        return y
    }

    /// The sum of every element → [1].
    public func sumAll(_ x: Tensor<S>) -> Tensor<S> {
        reshape(reduce(.sum, reshape(x, [1, x.count])), [1])
    }

    /// The same storage under another shape of equal size: no copy, no kernel.
    public func reshape(_ x: Tensor<S>, _ shape: [Int]) -> Tensor<S> { alias(x, shape: shape) }
}
