import CGemm
import Primitives

/// GELU over Float in AVX-512 C (16 lanes; Swift's loops are compiled for AVX2's 8): its
/// erf and exp are most of a dense step's elementwise time. `enabled`, bound per task and read
/// when a kernel is built (as `AttentionReference`), turns it off for the tests that compare
/// both forms.
enum WideGELU {
    @TaskLocal static var enabled = true
    static let available = evolve_gelu_wide() != 0
    /// Whether GELU over S runs the C form, for a kernel built now.
    static func applies<S: Scalar>(_: S.Type) -> Bool { S.self == Float.self && available && enabled }
}

@inline(__always) private func floats<S>(_ p: UnsafePointer<S>) -> UnsafePointer<Float> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
}
@inline(__always) private func floats<S>(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
}

@inline(__always) func sigmoid<S: Scalar>(_ x: S) -> S { 1 / (1 + S.exp(-x)) }
@inline(__always) func signum<S: Scalar>(_ x: S) -> S { x > 0 ? 1 : (x < 0 ? -1 : 0) }
@inline(__always) func swishDerivative<S: Scalar>(_ x: S) -> S {
    let s = sigmoid(x)
    return s + x * s * (1 - s)
}
@inline(__always) func geluDerivative<S: Scalar>(_ x: S) -> S {
    (1 + S.erf(x * 0.7071067811865476)) / 2 + x * S.exp(-x * x / 2) * 0.3989422804014327
}

// One loop per case, the math written inline in it, so each loop is straight-line code
// that vectorises (a loop around a switch, or a call per element, does not).
// x, y: [n]
@_specialize(where S == Float)
func unaryForward<S: Scalar>(_ op: UnaryOp, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ n: Int,
                             wide: Bool = WideGELU.applies(S.self)) {
    if op == .gelu, wide {
        return Parallel.forEach(n, grain: 8192) { r in
            evolve_gelu_forward(floats(x) + r.lowerBound, floats(y) + r.lowerBound, r.count)
        }
    }
    Parallel.forEach(n, grain: 8192) { r in
        switch op {
        case .negate: for i in r { let x = x[i]; y[i] = -x }
        case .abs: for i in r { let x = x[i]; y[i] = Swift.abs(x) }
        case .square: for i in r { let x = x[i]; y[i] = x * x }
        case .sqrt: for i in r { let x = x[i]; y[i] = x.squareRoot() }
        case .absRoot: for i in r { let x = x[i]; y[i] = Swift.abs(x).squareRoot() }
        case .exp: for i in r { let x = x[i]; y[i] = S.exp(x) }
        case .logAbs: for i in r { let x = x[i]; y[i] = S.log(Swift.abs(x)) }
        case .sin: for i in r { let x = x[i]; y[i] = S.sin(x) }
        case .cos: for i in r { let x = x[i]; y[i] = S.cos(x) }
        case .sign: for i in r { let x = x[i]; y[i] = signum(x) }
        case .reciprocal: for i in r { let x = x[i]; y[i] = 1 / x }
        case .relu: for i in r { let x = x[i]; y[i] = x > 0 ? x : 0 }
        case .squaredRelu: for i in r { let x = x[i]; y[i] = x > 0 ? x * x : 0 }
        case .gelu: for i in r { let x = x[i]; y[i] = x * (1 + S.erf(x * 0.7071067811865476)) / 2 }
        case .swish: for i in r { let x = x[i]; y[i] = x * sigmoid(x) }
        case .sigmoid: for i in r { let x = x[i]; y[i] = sigmoid(x) }
        case .tanh: for i in r { let x = x[i]; y[i] = S.tanh(x) }
        case .mulConstant(let c): let k = S(c); for i in r { y[i] = x[i] * k }
        case .addConstant(let c): let k = S(c); for i in r { y[i] = x[i] + k }
        }
    }
}

// dx (+)= dy · f'(x, y)      x, y, dy, dx: [n]
// As forward, one loop per case: `each` is inlined into every case with its derivative, so
// each loop stays straight-line code; it writes dx, or adds to it, in one place. GELU's long
// derivative is passed as an always-inlined function, not a closure: a closure that long is
// called per element, unvectorised (10x slower, measured).
@_specialize(where S == Float)
func unaryBackward<S: Scalar>(
    _ op: UnaryOp, _ x: UnsafePointer<S>, _ y: UnsafePointer<S>, _ dy: UnsafePointer<S>,
    _ dx: UnsafeMutablePointer<S>, _ accumulate: Bool, _ n: Int, wide: Bool = WideGELU.applies(S.self)
) {
    if op == .gelu, wide {
        return Parallel.forEach(n, grain: 8192) { r in
            evolve_gelu_backward(floats(x) + r.lowerBound, floats(dy) + r.lowerBound, floats(dx) + r.lowerBound,
                                 r.count, accumulate ? 1 : 0)
        }
    }
    Parallel.forEach(n, grain: 8192) { r in
        @inline(__always) func each(_ derivative: (Int) -> S) {
            if accumulate {
                for i in r { dx[i] += dy[i] * derivative(i) }
            } else {
                for i in r { dx[i] = dy[i] * derivative(i) }
            }
        }
        @inline(__always) func gelu(_ i: Int) -> S { geluDerivative(x[i]) }
        switch op {
        case .negate: each { _ in -1 }
        case .abs: each { signum(x[$0]) }
        case .square: each { 2 * x[$0] }
        case .sqrt: each { 1 / (2 * y[$0]) }
        case .absRoot: each { signum(x[$0]) / (2 * y[$0]) }
        case .exp: each { y[$0] }
        case .logAbs: each { 1 / x[$0] }
        case .sin: each { S.cos(x[$0]) }
        case .cos: each { -S.sin(x[$0]) }
        case .sign: each { _ in 0 }
        case .reciprocal: each { -y[$0] * y[$0] }
        case .relu: each { x[$0] > 0 ? 1 : 0 }
        case .squaredRelu: each { x[$0] > 0 ? 2 * x[$0] : 0 }
        case .gelu: each(gelu)
        case .swish: each { swishDerivative(x[$0]) }
        case .sigmoid: each { y[$0] * (1 - y[$0]) }
        case .tanh: each { 1 - y[$0] * y[$0] }
        case .mulConstant(let c): let k = S(c); each { _ in k }
        case .addConstant: each { _ in 1 }
        }
    }
}

// x, y: [*]
// With slots [G, M] (x: [G, M, C]), only each group's used rows are computed; the rest of
// y and dx is not written (see MatMulKernel): an expert's empty capacity costs nothing.
final class UnaryKernel<S: Scalar>: Kernel {
    let op: UnaryOp
    let x: Tensor<S>, y: Tensor<S>
    let slots: IndexTensor?
    /// GELU in AVX-512 C (`WideGELU`), decided when the kernel is built.
    let wide = WideGELU.applies(S.self)
    init(_ op: UnaryOp, _ x: Tensor<S>, _ y: Tensor<S>, slots: IndexTensor? = nil) {
        self.op = op; self.x = x; self.y = y; self.slots = slots
    }

    /// Each group's (start, used, whole) element counts; one group of everything without slots.
    func spans() -> [(start: Int, used: Int, whole: Int)] {
        guard let slots else { return [(0, x.count, x.count)] }
        let groups = slots.shape[0], whole = x.count / groups, row = whole / slots.shape[1]
        return (0..<groups).map { ($0 * whole, slots.usedPrefix($0) * row, whole) }
    }

    /// Reads x, writes y; backward reads x, y and dy, writes dx.
    func work(backward: Bool) -> Work { .moving(x.count * (backward ? 4 : 2), S.self) }

    @_specialize(where S == Float)
    func forward() {
        guard slots != nil else { return unaryForward(op, x.value, y.value, x.count, wide: wide) }
        for s in spans() { unaryForward(op, x.value + s.start, y.value + s.start, s.used, wide: wide) }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad(), let (dx, acc) = x.gradTarget() else { return }
        guard slots != nil else { return unaryBackward(op, x.value, y.value, dy, dx, acc, x.count, wide: wide) }
        for s in spans() { unaryBackward(op, x.value + s.start, y.value + s.start, dy + s.start, dx + s.start, acc, s.used, wide: wide) }
    }
}

extension Graph {
    /// `slots` [G, M] (from `dispatch`, x [G, M, …]) limits the op to each group's used rows.
    public func unary(_ op: UnaryOp, _ x: Tensor<S>, slots: IndexTensor? = nil) -> Tensor<S> {
        if let slots { check(Array(x.shape.prefix(2)) == slots.shape, "unary: slots \(slots.shape) for rows of \(x.shape)") }
        let y = activation(x.shape, "\(op)", from: [x])
        append(UnaryKernel(op, x, y, slots: slots))
        return y
    }
}
