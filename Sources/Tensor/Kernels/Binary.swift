import Primitives

/// One binary op's value and partials as a type: a kernel's loops are compiled once per
/// op (`BinaryOp.visit`), so they vectorise; a switch on the op per element kept them
/// scalar, and the primitive-level programs a search makes run many of them.
private protocol BinaryFunction {
    static var op: BinaryOp { get }
    static func apply<S: Scalar>(_ a: S, _ b: S) -> S
    /// (∂y/∂a, ∂y/∂b). Ties of max/min send the gradient to a.
    static func partials<S: Scalar>(_ a: S, _ b: S) -> (S, S)
}

private enum Add: BinaryFunction {
    static var op: BinaryOp { .add }
    @inline(__always) static func apply<S: Scalar>(_ a: S, _ b: S) -> S { a + b }
    @inline(__always) static func partials<S: Scalar>(_ a: S, _ b: S) -> (S, S) { (1, 1) }
}
private enum Subtract: BinaryFunction {
    static var op: BinaryOp { .subtract }
    @inline(__always) static func apply<S: Scalar>(_ a: S, _ b: S) -> S { a - b }
    @inline(__always) static func partials<S: Scalar>(_ a: S, _ b: S) -> (S, S) { (1, -1) }
}
private enum Multiply: BinaryFunction {
    static var op: BinaryOp { .multiply }
    @inline(__always) static func apply<S: Scalar>(_ a: S, _ b: S) -> S { a * b }
    @inline(__always) static func partials<S: Scalar>(_ a: S, _ b: S) -> (S, S) { (b, a) }
}
private enum Divide: BinaryFunction {
    static var op: BinaryOp { .divide }
    @inline(__always) static func apply<S: Scalar>(_ a: S, _ b: S) -> S { a / b }
    @inline(__always) static func partials<S: Scalar>(_ a: S, _ b: S) -> (S, S) { (1 / b, -a / (b * b)) }
}
private enum Maximum: BinaryFunction {
    static var op: BinaryOp { .max }
    @inline(__always) static func apply<S: Scalar>(_ a: S, _ b: S) -> S { a >= b ? a : b }
    @inline(__always) static func partials<S: Scalar>(_ a: S, _ b: S) -> (S, S) { a >= b ? (1, 0) : (0, 1) }
}
private enum Minimum: BinaryFunction {
    static var op: BinaryOp { .min }
    @inline(__always) static func apply<S: Scalar>(_ a: S, _ b: S) -> S { a <= b ? a : b }
    @inline(__always) static func partials<S: Scalar>(_ a: S, _ b: S) -> (S, S) { a <= b ? (1, 0) : (0, 1) }
}

/// What runs a kernel for one op, given its function as a type.
private protocol BinaryVisitor {
    func visit<F: BinaryFunction>(_ f: F.Type)
}

extension BinaryOp {
    /// The one switch from an op to its function type.
    @inline(__always)
    fileprivate func visit<V: BinaryVisitor>(_ v: V) {
        switch self {
        case .add: v.visit(Add.self)
        case .subtract: v.visit(Subtract.self)
        case .multiply: v.visit(Multiply.self)
        case .divide: v.visit(Divide.self)
        case .max: v.visit(Maximum.self)
        case .min: v.visit(Minimum.self)
        }
    }
}

// y[i] = op(a[i'], b[i'']) over the broadcast of a and b.
@_specialize(where S == Float)
func binaryForward<S: Scalar>(
    _ op: BinaryOp, _ plan: BroadcastPlan,
    _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>
) {
    op.visit(BinaryForward(plan: plan, a: a, b: b, y: y))
}

private struct BinaryForward<S: Scalar>: BinaryVisitor {
    let plan: BroadcastPlan
    let a: UnsafePointer<S>, b: UnsafePointer<S>, y: UnsafeMutablePointer<S>

    func visit<F: BinaryFunction>(_ f: F.Type) {
        let a = a, b = b, y = y
        if plan.isElementwise {
            Parallel.forEach(plan.dims[0], grain: 16384) { r in
                for i in r { y[i] = F.apply(a[i], b[i]) }
            }
            return
        }
        plan.forEachRun { o, ia, ib, n, sa, sb in
            let y = y + o, a = a + ia, b = b + ib
            switch (sa, sb) {
            case (1, 1): for j in 0..<n { y[j] = F.apply(a[j], b[j]) }
            case (1, 0): let bv = b[0]; for j in 0..<n { y[j] = F.apply(a[j], bv) }
            case (0, 1): let av = a[0]; for j in 0..<n { y[j] = F.apply(av, b[j]) }
            default: for j in 0..<n { y[j] = F.apply(a[j * sa], b[j * sb]) }
            }
        }
    }
}

/// Σⱼ dy[j]·∂y/∂(the repeated operand) over a run where the other operand steps by
/// `stride`: SIMD8 lanes for multiply (a dot product with the other operand) and add or
/// subtract (a sum, the caller sets the sign), one accumulator otherwise.
@inline(__always)
private func runSum<F: BinaryFunction, S: Scalar>(_: F.Type, _ n: Int, _ dy: UnsafePointer<S>, _ other: UnsafePointer<S>,
                                                  _ stride: Int, _ partial: (Int) -> S) -> S {
    switch F.op {
    case .multiply where stride == 1: return vectorDot(dy, other, n)
    case .add, .subtract: return vectorSum(dy, n)
    default:
        var acc: S = 0
        for j in 0..<n { acc += dy[j] * partial(j) }
        return acc
    }
}

/// da, db: already zeroed or holding earlier contributions; this adds. An operand
/// repeated along the run (stride 0) gets the run's sum at once.
@_specialize(where S == Float)
func binaryBackward<S: Scalar>(
    _ op: BinaryOp, _ plan: BroadcastPlan, _ a: UnsafePointer<S>, _ b: UnsafePointer<S>,
    _ dy: UnsafePointer<S>, _ da: UnsafeMutablePointer<S>?, _ db: UnsafeMutablePointer<S>?
) {
    op.visit(BinaryBackward(plan: plan, a: a, b: b, dy: dy, da: da, db: db))
}

private struct BinaryBackward<S: Scalar>: BinaryVisitor {
    let plan: BroadcastPlan
    let a: UnsafePointer<S>, b: UnsafePointer<S>, dy: UnsafePointer<S>
    let da: UnsafeMutablePointer<S>?, db: UnsafeMutablePointer<S>?

    func visit<F: BinaryFunction>(_ f: F.Type) {
        let a = a, b = b, dy = dy, da = da, db = db
        plan.forEachRun { o, ia, ib, n, sa, sb in
            let dy = dy + o, a = a + ia, b = b + ib
            if let da = da.map({ $0 + ia }) {
                switch (sa, sb) {
                case (1, 1): for j in 0..<n { da[j] += dy[j] * F.partials(a[j], b[j]).0 }
                case (1, 0): let bv = b[0]; for j in 0..<n { da[j] += dy[j] * F.partials(a[j], bv).0 }
                case (0, _): da[0] += runSum(F.self, n, dy, b, sb) { F.partials(a[0], b[$0 * sb]).0 }
                default: for j in 0..<n { da[j * sa] += dy[j] * F.partials(a[j * sa], b[j * sb]).0 }
                }
            }
            if let db = db.map({ $0 + ib }) {
                switch (sa, sb) {
                case (1, 1): for j in 0..<n { db[j] += dy[j] * F.partials(a[j], b[j]).1 }
                case (0, 1): let av = a[0]; for j in 0..<n { db[j] += dy[j] * F.partials(av, b[j]).1 }
                case (_, 0): db[0] += (F.op == .subtract ? -1 : 1) * runSum(F.self, n, dy, a, sa) { F.partials(a[$0 * sa], b[0]).1 }
                default: for j in 0..<n { db[j * sb] += dy[j] * F.partials(a[j * sa], b[j * sb]).1 }
                }
            }
        }
    }
}

// a: shapeA, b: shapeB, y: broadcast(shapeA, shapeB)
final class BinaryKernel<S: Scalar>: Kernel {
    let op: BinaryOp
    let plan: BroadcastPlan
    let a: Tensor<S>, b: Tensor<S>, y: Tensor<S>
    init(_ op: BinaryOp, _ plan: BroadcastPlan, _ a: Tensor<S>, _ b: Tensor<S>, _ y: Tensor<S>) {
        self.op = op; self.plan = plan; self.a = a; self.b = b; self.y = y
    }

    /// Reads a and b, writes y; backward reads dy (and the operands), writes both gradients.
    func work(backward: Bool) -> Work { .moving((a.count + b.count + y.count) * (backward ? 2 : 1), S.self) }

    @_specialize(where S == Float)
    func forward() { binaryForward(op, plan, a.value, b.value, y.value) }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad() else { return }
        // Residual additions are the common case: pass the gradient through untouched.
        if op == .add && plan.isElementwise && a.storage !== b.storage {
            for t in [a, b] {
                guard let (d, acc) = t.gradTarget() else { continue }
                if acc { addInPlace(d, dy, t.count) } else { d.update(from: dy, count: t.count) }
            }
            return
        }
        binaryBackward(op, plan, a.value, b.value, dy, a.accumulatingGrad(), b.accumulatingGrad())
    }
}

@_specialize(where S == Float)
func addInPlace<S: Scalar>(_ d: UnsafeMutablePointer<S>, _ x: UnsafePointer<S>, _ n: Int) {
    for i in 0..<n { d[i] += x[i] }
}

extension Graph {
    public func binary(_ op: BinaryOp, _ a: Tensor<S>, _ b: Tensor<S>) -> Tensor<S> {
        guard let plan = BroadcastPlan(a.shape, b.shape) else {
            fatalError("tensor: \(op) cannot broadcast \(a.shape) with \(b.shape)")
        }
        let y = activation(plan.shape, op.rawValue, from: [a, b])
        append(BinaryKernel(op, plan, a, b, y))
        return y
    }

    public func add(_ a: Tensor<S>, _ b: Tensor<S>) -> Tensor<S> { binary(.add, a, b) }
    public func multiply(_ a: Tensor<S>, _ b: Tensor<S>) -> Tensor<S> { binary(.multiply, a, b) }
}
