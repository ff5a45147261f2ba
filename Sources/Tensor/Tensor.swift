import Primitives

/// Memory owned by one or more tensors (a reshape shares its source's storage).
/// `value` and `grad` are allocated once, when the graph is built, and reused every step.
public final class Storage<S: Scalar> {
    public let count: Int
    /// Replaced only by `Graph.shareParameters`, which points a replica's parameters at the
    /// primary's values (`ownsValue` false then).
    public private(set) var value: UnsafeMutablePointer<S>
    private(set) var ownsValue = true
    /// nil for tensors nothing differentiates (constants, integer-derived masks). Shared
    /// by activations whose gradients are never live at once (`Graph.planGradients`).
    public private(set) var grad: UnsafeMutablePointer<S>?
    private(set) var ownsGrad = true
    /// Whether anything differentiates this storage. An activation's gradient buffer is
    /// made (or shared) only at its graph's first backward pass; the rest have theirs now.
    public let requiresGrad: Bool
    /// True until the first gradient contribution of a backward pass arrives: that
    /// contribution overwrites, later ones accumulate, so no pass zeroes every buffer.
    var gradFresh = true

    init(count: Int, requiresGrad: Bool, deferGrad: Bool = false) {
        self.count = count
        self.requiresGrad = requiresGrad
        value = .allocate(capacity: max(count, 1))
        value.initialize(repeating: 0, count: max(count, 1))
        if requiresGrad && !deferGrad { allocateGrad() }
    }

    /// Gives a storage that needs one its own zeroed gradient buffer, if it has none yet.
    func allocateGrad() {
        guard requiresGrad, grad == nil else { return }
        let g = UnsafeMutablePointer<S>.allocate(capacity: max(count, 1))
        g.initialize(repeating: 0, count: max(count, 1))
        grad = g
        ownsGrad = true
    }

    deinit {
        if ownsValue { value.deallocate() }
        if ownsGrad { grad?.deallocate() }
    }

    /// Uses `other`'s gradient buffer from now on (the graph proved their lifetimes apart).
    func shareGrad(with other: Storage<S>) {
        check(other.count == count && requiresGrad && other.grad != nil, "shareGrad: \(other.count) values for \(count)")
        if ownsGrad { grad?.deallocate() }
        grad = other.grad
        ownsGrad = false
        keepAliveGrad = other
    }
    private var keepAliveGrad: Storage<S>?

    /// Reads values from `other` from now on; the gradient stays this storage's own.
    func borrowValue(of other: Storage<S>) {
        check(other.count == count, "borrowValue: \(other.count) values for \(count)")
        if ownsValue { value.deallocate() }
        value = other.value
        ownsValue = false
        keepAlive = other
    }
    private var keepAlive: Storage<S>?
}

/// What a tensor is to the graph: learned, fed from outside, or computed.
public enum TensorRole: Sendable {
    case parameter, input, activation
}

/// A node of a `Graph`: a shape and the storage holding its value and gradient.
public final class Tensor<S: Scalar> {
    public let shape: [Int]
    public let storage: Storage<S>
    public let role: TensorRole
    public var name: String
    /// Parameters only: whether AdamW applies weight decay (matrices yes; gains, biases no).
    public var decays = false
    /// Each training step, the probability that this parameter's gradient is dropped
    /// before the update (MPOE's gradient mask on a shared core; 0 = never).
    public var maskProbability = 0.0

    init(shape: [Int], storage: Storage<S>, role: TensorRole, name: String) {
        self.shape = shape
        self.storage = storage
        self.role = role
        self.name = name
    }

    public var count: Int { storage.count }
    public var value: UnsafeMutablePointer<S> { storage.value }
    public var grad: UnsafeMutablePointer<S>? { storage.grad }
    public var requiresGrad: Bool { storage.requiresGrad }
    /// Size of the last axis (channels); rows = count / channels.
    public var channels: Int { shape.last ?? 1 }
    public var rows: Int { count / max(channels, 1) }

    public subscript(i: Int) -> S {
        get { storage.value[i] }
        set { storage.value[i] = newValue }
    }

    public var values: [S] { Array(UnsafeBufferPointer(start: value, count: count)) }
    public var grads: [S] { grad.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? [] }

    public func set(_ xs: [S]) {
        check(xs.count == count, "set: \(xs.count) values for tensor \(name) of shape \(shape)")
        xs.withUnsafeBufferPointer { value.update(from: $0.baseAddress!, count: count) }
    }

    /// Where a kernel's backward writes this tensor's gradient, and whether it must add
    /// (an earlier contribution arrived) or may overwrite (it is the first).
    func gradTarget() -> (ptr: UnsafeMutablePointer<S>, accumulate: Bool)? {
        guard let g = storage.grad else { return nil }
        let acc = !storage.gradFresh
        storage.gradFresh = false
        return (g, acc)
    }

    /// The gradient arriving from this tensor's consumers, or nil when none arrived (the
    /// tensor does not reach the loss): a kernel's backward then has nothing to do.
    func incomingGrad() -> UnsafeMutablePointer<S>? {
        storage.gradFresh ? nil : storage.grad
    }

    /// The gradient buffer ready for `+=`: zeroed first if nothing has been written yet.
    func accumulatingGrad() -> UnsafeMutablePointer<S>? {
        guard let (g, acc) = gradTarget() else { return nil }
        if !acc { zero(g, count) }
        return g
    }
}

/// Integer tensors: token ids, targets, routing decisions. Never differentiated.
public final class IndexTensor {
    public let shape: [Int]
    public let count: Int
    public let value: UnsafeMutablePointer<Int32>
    public var name: String
    /// Set for a view: the tensor that owns `value`.
    private let owner: IndexTensor?

    init(shape: [Int], name: String) {
        self.shape = shape
        count = shape.reduce(1, *)
        value = .allocate(capacity: max(count, 1))
        value.initialize(repeating: 0, count: max(count, 1))
        self.name = name
        owner = nil
    }

    /// The same integers under another shape.
    init(viewing other: IndexTensor, shape: [Int]) {
        self.shape = shape
        count = other.count
        value = other.value
        name = other.name
        owner = other
    }

    deinit { if owner == nil { value.deallocate() } }

    public subscript(i: Int) -> Int32 {
        get { value[i] }
        set { value[i] = newValue }
    }

    public func set(_ xs: [Int32]) {
        check(xs.count == count, "set: \(xs.count) indices for \(name) of shape \(shape)")
        xs.withUnsafeBufferPointer { value.update(from: $0.baseAddress!, count: count) }
    }

    public var values: [Int32] { Array(UnsafeBufferPointer(start: value, count: count)) }
}

/// Graph construction errors are programming errors of the caller (the compiler validates
/// programs before it builds graphs), so they stop the process with the reason. Unlike
/// `precondition`, this also fires in -Ounchecked builds.
@inline(__always)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("tensor: " + message()) }
}

// Plain memory operations, as memset / memcpy whatever S is: generic code that is not
// specialised would otherwise copy element by element through value witnesses.
@inline(__always)
func zero<S: Scalar>(_ p: UnsafeMutablePointer<S>, _ n: Int) {
    UnsafeMutableRawPointer(p).initializeMemory(as: UInt8.self, repeating: 0, count: n * MemoryLayout<S>.stride)
}

@inline(__always)
func copy<S: Scalar>(_ dst: UnsafeMutablePointer<S>, _ src: UnsafePointer<S>, _ n: Int) {
    UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * MemoryLayout<S>.stride)
}

extension Tensor {
    /// Fills with N(0, std²) draws.
    public func fillNormal(std: Double, _ rng: inout Xoshiro) {
        for i in 0..<count { value[i] = S(rng.normal() * std) }
    }

    public func fill(_ x: S) { value.update(repeating: x, count: count) }
}
