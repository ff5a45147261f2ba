/// Elementwise functions of one tensor. Each case states its derivative in `derivative`,
/// written in terms of the input x and the output y, so one table drives every backward.
public enum UnaryOp: Hashable, Sendable {
    case negate, abs, square, sqrt
    /// sqrt(|x|): Primer's ABS_ROOT, defined everywhere.
    case absRoot
    case exp
    /// log(|x|): Primer's LOG, defined everywhere but 0.
    case logAbs
    case sin, cos, sign, reciprocal
    case relu, squaredRelu, gelu, swish, sigmoid, tanh
    /// x · c (Primer's C_MUL) and x + c, for a fixed constant c.
    case mulConstant(Double), addConstant(Double)
}

@inline(__always)
func sigmoid<S: Scalar>(_ x: S) -> S { 1 / (1 + S.exp(-x)) }

@inline(__always)
private func apply<S: Scalar>(_ op: UnaryOp, _ x: S) -> S {
    switch op {
    case .negate: return -x
    case .abs: return Swift.abs(x)
    case .square: return x * x
    case .sqrt: return x.squareRoot()
    case .absRoot: return Swift.abs(x).squareRoot()
    case .exp: return S.exp(x)
    case .logAbs: return S.log(Swift.abs(x))
    case .sin: return S.sin(x)
    case .cos: return S.cos(x)
    case .sign: return x > 0 ? 1 : (x < 0 ? -1 : 0)
    case .reciprocal: return 1 / x
    case .relu: return x > 0 ? x : 0
    case .squaredRelu: return x > 0 ? x * x : 0
    case .gelu: return x * (1 + S.erf(x * S(0.7071067811865476))) / 2
    case .swish: return x * sigmoid(x)
    case .sigmoid: return sigmoid(x)
    case .tanh: return S.tanh(x)
    case .mulConstant(let c): return x * S(c)
    case .addConstant(let c): return x + S(c)
    }
}

/// dy/dx at input x with output y.
@inline(__always)
private func derivative<S: Scalar>(_ op: UnaryOp, _ x: S, _ y: S) -> S {
    switch op {
    case .negate: return -1
    case .abs: return x > 0 ? 1 : (x < 0 ? -1 : 0)
    case .square: return 2 * x
    case .sqrt: return 1 / (2 * y)
    case .absRoot: return (x > 0 ? 1 : (x < 0 ? -1 : 0)) / (2 * y)
    case .exp: return y
    case .logAbs: return 1 / x
    case .sin: return S.cos(x)
    case .cos: return -S.sin(x)
    case .sign: return 0
    case .reciprocal: return -y * y
    case .relu: return x > 0 ? 1 : 0
    case .squaredRelu: return x > 0 ? 2 * x : 0
    case .gelu:
        let cdf = (1 + S.erf(x * S(0.7071067811865476))) / 2
        let pdf = S.exp(-x * x / 2) * S(0.3989422804014327)
        return cdf + x * pdf
    case .swish:
        let s = sigmoid(x)
        return s + x * s * (1 - s)
    case .sigmoid: return y * (1 - y)
    case .tanh: return 1 - y * y
    case .mulConstant(let c): return S(c)
    case .addConstant: return 1
    }
}

// Each case gets its own loop over a literal `apply(.case, ·)` (always inlined, so it folds
// to straight-line code) and the loops vectorise; one loop around a switch does not.
@_specialize(where S == Float)
func unaryForward<S: Scalar>(_ op: UnaryOp, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ n: Int) {
    Parallel.forEach(n, grain: 8192) { r in
        switch op {
        case .negate: for i in r { y[i] = apply(.negate, x[i]) }
        case .abs: for i in r { y[i] = apply(.abs, x[i]) }
        case .square: for i in r { y[i] = apply(.square, x[i]) }
        case .sqrt: for i in r { y[i] = apply(.sqrt, x[i]) }
        case .absRoot: for i in r { y[i] = apply(.absRoot, x[i]) }
        case .exp: for i in r { y[i] = apply(.exp, x[i]) }
        case .logAbs: for i in r { y[i] = apply(.logAbs, x[i]) }
        case .sin: for i in r { y[i] = apply(.sin, x[i]) }
        case .cos: for i in r { y[i] = apply(.cos, x[i]) }
        case .sign: for i in r { y[i] = apply(.sign, x[i]) }
        case .reciprocal: for i in r { y[i] = apply(.reciprocal, x[i]) }
        case .relu: for i in r { y[i] = apply(.relu, x[i]) }
        case .squaredRelu: for i in r { y[i] = apply(.squaredRelu, x[i]) }
        case .gelu: for i in r { y[i] = apply(.gelu, x[i]) }
        case .swish: for i in r { y[i] = apply(.swish, x[i]) }
        case .sigmoid: for i in r { y[i] = apply(.sigmoid, x[i]) }
        case .tanh: for i in r { y[i] = apply(.tanh, x[i]) }
        case .mulConstant(let c): let k = S(c); for i in r { y[i] = x[i] * k }
        case .addConstant(let c): let k = S(c); for i in r { y[i] = x[i] + k }
        }
    }
}

@_specialize(where S == Float)
func unaryBackward<S: Scalar>(
    _ op: UnaryOp, _ x: UnsafePointer<S>, _ y: UnsafePointer<S>, _ dy: UnsafePointer<S>,
    _ dx: UnsafeMutablePointer<S>, _ accumulate: Bool, _ n: Int
) {
    Parallel.forEach(n, grain: 8192) { r in
        if accumulate {
            switch op {
            case .negate: for i in r { dx[i] += dy[i] * derivative(.negate, x[i], y[i]) }
            case .abs: for i in r { dx[i] += dy[i] * derivative(.abs, x[i], y[i]) }
            case .square: for i in r { dx[i] += dy[i] * derivative(.square, x[i], y[i]) }
            case .sqrt: for i in r { dx[i] += dy[i] * derivative(.sqrt, x[i], y[i]) }
            case .absRoot: for i in r { dx[i] += dy[i] * derivative(.absRoot, x[i], y[i]) }
            case .exp: for i in r { dx[i] += dy[i] * derivative(.exp, x[i], y[i]) }
            case .logAbs: for i in r { dx[i] += dy[i] * derivative(.logAbs, x[i], y[i]) }
            case .sin: for i in r { dx[i] += dy[i] * derivative(.sin, x[i], y[i]) }
            case .cos: for i in r { dx[i] += dy[i] * derivative(.cos, x[i], y[i]) }
            case .sign: for i in r { dx[i] += dy[i] * derivative(.sign, x[i], y[i]) }
            case .reciprocal: for i in r { dx[i] += dy[i] * derivative(.reciprocal, x[i], y[i]) }
            case .relu: for i in r { dx[i] += dy[i] * derivative(.relu, x[i], y[i]) }
            case .squaredRelu: for i in r { dx[i] += dy[i] * derivative(.squaredRelu, x[i], y[i]) }
            case .gelu: for i in r { dx[i] += dy[i] * derivative(.gelu, x[i], y[i]) }
            case .swish: for i in r { dx[i] += dy[i] * derivative(.swish, x[i], y[i]) }
            case .sigmoid: for i in r { dx[i] += dy[i] * derivative(.sigmoid, x[i], y[i]) }
            case .tanh: for i in r { dx[i] += dy[i] * derivative(.tanh, x[i], y[i]) }
            case .mulConstant(let c): let k = S(c); for i in r { dx[i] += dy[i] * k }
            case .addConstant: for i in r { dx[i] += dy[i] }
            }
        } else {
            switch op {
            case .negate: for i in r { dx[i] = dy[i] * derivative(.negate, x[i], y[i]) }
            case .abs: for i in r { dx[i] = dy[i] * derivative(.abs, x[i], y[i]) }
            case .square: for i in r { dx[i] = dy[i] * derivative(.square, x[i], y[i]) }
            case .sqrt: for i in r { dx[i] = dy[i] * derivative(.sqrt, x[i], y[i]) }
            case .absRoot: for i in r { dx[i] = dy[i] * derivative(.absRoot, x[i], y[i]) }
            case .exp: for i in r { dx[i] = dy[i] * derivative(.exp, x[i], y[i]) }
            case .logAbs: for i in r { dx[i] = dy[i] * derivative(.logAbs, x[i], y[i]) }
            case .sin: for i in r { dx[i] = dy[i] * derivative(.sin, x[i], y[i]) }
            case .cos: for i in r { dx[i] = dy[i] * derivative(.cos, x[i], y[i]) }
            case .sign: for i in r { dx[i] = dy[i] * derivative(.sign, x[i], y[i]) }
            case .reciprocal: for i in r { dx[i] = dy[i] * derivative(.reciprocal, x[i], y[i]) }
            case .relu: for i in r { dx[i] = dy[i] * derivative(.relu, x[i], y[i]) }
            case .squaredRelu: for i in r { dx[i] = dy[i] * derivative(.squaredRelu, x[i], y[i]) }
            case .gelu: for i in r { dx[i] = dy[i] * derivative(.gelu, x[i], y[i]) }
            case .swish: for i in r { dx[i] = dy[i] * derivative(.swish, x[i], y[i]) }
            case .sigmoid: for i in r { dx[i] = dy[i] * derivative(.sigmoid, x[i], y[i]) }
            case .tanh: for i in r { dx[i] = dy[i] * derivative(.tanh, x[i], y[i]) }
            case .mulConstant(let c): let k = S(c); for i in r { dx[i] = dy[i] * k }
            case .addConstant: for i in r { dx[i] = dy[i] }
            }
        }
    }
}

// x, y: [*]
final class UnaryKernel<S: Scalar>: Kernel {
    let op: UnaryOp
    let x: Tensor<S>, y: Tensor<S>
    init(_ op: UnaryOp, _ x: Tensor<S>, _ y: Tensor<S>) { self.op = op; self.x = x; self.y = y }

    func forward() { unaryForward(op, x.value, y.value, x.count) }

    func backward() {
        guard let dy = y.incomingGrad(), let (dx, acc) = x.gradTarget() else { return }
        unaryBackward(op, x.value, y.value, dy, dx, acc, x.count)
    }
}

extension Graph {
    public func unary(_ op: UnaryOp, _ x: Tensor<S>) -> Tensor<S> {
        let y = activation(x.shape, "\(op)", from: [x])
        append(UnaryKernel(op, x, y))
        return y
    }
}
