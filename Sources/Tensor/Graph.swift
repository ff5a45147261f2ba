/// One op instance in a graph: forward computes its outputs from its inputs; backward
/// adds the gradient of the loss with respect to each input (that requires one), given
/// the gradients of its outputs. Forward saves exactly what backward needs.
protocol Kernel: AnyObject {
    func forward()
    func backward()
    /// What one pass does, for the profile: floating-point operations (products) and bytes
    /// moved (the rest). Kernels that do not say count as neither.
    func work(backward: Bool) -> Work
    /// The profile's row for this kernel (default: its type).
    var profileName: String { get }
}

/// Operations and memory traffic of one kernel pass.
public struct Work: Sendable {
    public var flops = 0.0, bytes = 0.0
    public init(flops: Double = 0, bytes: Double = 0) { self.flops = flops; self.bytes = bytes }
    static func + (a: Work, b: Work) -> Work { Work(flops: a.flops + b.flops, bytes: a.bytes + b.bytes) }
    /// Bytes of `elements` values read or written.
    static func moving<S>(_ elements: Int, _: S.Type) -> Work { Work(bytes: Double(elements * MemoryLayout<S>.size)) }
}

extension Kernel {
    func work(backward: Bool) -> Work { Work() }
    var profileName: String { String(describing: type(of: self)).split(separator: "<").first.map(String.init) ?? "?" }
}

/// A static computation graph: built once (shapes known, every buffer allocated), then
/// run forward and backward every step with no allocation. Kernels run in the order the
/// builder created them, which is a topological order by construction.
public final class Graph<S: Scalar> {
    public private(set) var tensors: [Tensor<S>] = []
    public private(set) var parameters: [Tensor<S>] = []
    private var kernels: [any Kernel] = []
    private var storages: [Storage<S>] = []
    /// The prologue: kernels that read only parameters (an MPO's experts contracted from
    /// their cores, Avg-K's mean keys), so they do not depend on the batch. They run before
    /// the rest forward and after it backward; replicas of a model share one run of them.
    private var prologue: [any Kernel] = []
    private var prologueStorages: [Storage<S>] = []
    private var buildingPrologue = false
    /// False in a replica (`shareParameters`): its prologue values are the primary's.
    public private(set) var ownsPrologue = true

    // Where each activation's gradient is live in a backward pass, for sharing buffers:
    // written first by the backward of the last kernel that reads it, read last by the
    // backward of the kernel that produces it.
    private var producedAt: [ObjectIdentifier: Int] = [:]
    private var lastReadAt: [ObjectIdentifier: Int] = [:]
    private var pendingOutput: Storage<S>?
    private var pendingInputs: [Storage<S>] = []
    private var gradientsPlanned = false

    public init() {}

    // MARK: - Leaves

    /// A learned tensor. `decays` marks it for AdamW weight decay.
    public func parameter(_ shape: [Int], name: String, decays: Bool = false) -> Tensor<S> {
        let t = make(shape, role: .parameter, name: name, requiresGrad: true)
        t.decays = decays
        parameters.append(t)
        return t
    }

    /// A value fed from outside each step; `requiresGrad` for gradient checks.
    public func input(_ shape: [Int], name: String, requiresGrad: Bool = false) -> Tensor<S> {
        make(shape, role: .input, name: name, requiresGrad: requiresGrad)
    }

    public func indices(_ shape: [Int], name: String) -> IndexTensor {
        IndexTensor(shape: shape, name: name)
    }

    // MARK: - Building (used by the op builders in Graph+*.swift)

    func make(_ shape: [Int], role: TensorRole, name: String, requiresGrad: Bool) -> Tensor<S> {
        check(shape.allSatisfy { $0 > 0 }, "\(name): shape \(shape) has a non-positive axis")
        // A main-part activation's gradient buffer waits for planGradients.
        let storage = Storage<S>(count: shape.reduce(1, *), requiresGrad: requiresGrad,
                                 deferGrad: role == .activation && !buildingPrologue)
        storages.append(storage)
        if buildingPrologue && role == .activation { prologueStorages.append(storage) }
        let t = Tensor(shape: shape, storage: storage, role: role, name: name)
        tensors.append(t)
        return t
    }

    /// An activation whose gradient is needed iff any of `from` needs one.
    func activation(_ shape: [Int], _ name: String, from: [Tensor<S>]) -> Tensor<S> {
        if buildingPrologue {
            check(from.allSatisfy { t in t.role == .parameter || prologueStorages.contains { $0 === t.storage } },
                  "\(name): the prologue reads only parameters and what it computed from them")
        }
        let t = make(shape, role: .activation, name: name, requiresGrad: from.contains { $0.requiresGrad })
        if !buildingPrologue { (pendingOutput, pendingInputs) = (t.storage, from.map(\.storage)) }
        return t
    }

    /// A second tensor over the same storage (reshape): no kernel, no copy.
    func alias(_ t: Tensor<S>, shape: [Int]) -> Tensor<S> {
        check(shape.reduce(1, *) == t.count, "reshape \(t.shape) → \(shape) changes the size")
        let a = Tensor(shape: shape, storage: t.storage, role: t.role, name: t.name)
        tensors.append(a)
        return a
    }

    func append(_ kernel: any Kernel) {
        check(!gradientsPlanned, "a kernel added after the graph's first backward pass")
        if buildingPrologue { return prologue.append(kernel) }
        // The kernels a builder appends after making an activation produce it and read its
        // inputs (a concatenation appends one per input: the last is what counts).
        let k = kernels.count
        if let o = pendingOutput, producedAt[ObjectIdentifier(o)] == nil { producedAt[ObjectIdentifier(o)] = k }
        for s in pendingInputs { lastReadAt[ObjectIdentifier(s)] = k }
        kernels.append(kernel)
    }

    /// Lets activations of one size whose gradients are never live at once share one
    /// gradient buffer: a layer's gradients are dead before the layer below needs its own,
    /// so this keeps about one layer's worth instead of every layer's. Gradient i is live
    /// in backward from kernel lastRead(i) down to kernel produced(i); two share a buffer
    /// only when one's range ends strictly before the other's begins. Parameters, inputs,
    /// the prologue and outputs nothing reads (the loss) keep their own.
    private func planGradients() {
        gradientsPlanned = true
        var bySize = [Int: [(storage: Storage<S>, from: Int, to: Int)]]()
        for s in storages where s.requiresGrad && s.grad == nil {
            let id = ObjectIdentifier(s)
            guard let p = producedAt[id], let r = lastReadAt[id], r > p else { s.allocateGrad(); continue }
            bySize[s.count, default: []].append((s, p, r))
        }
        for (_, group) in bySize {
            var buffers = [(owner: Storage<S>, end: Int)]()
            for g in group.sorted(by: { $0.from < $1.from }) {
                if let i = buffers.firstIndex(where: { $0.end < g.from }) {
                    g.storage.shareGrad(with: buffers[i].owner)
                    buffers[i].end = g.to
                } else {
                    g.storage.allocateGrad()
                    buffers.append((g.storage, g.to))
                }
            }
        }
    }

    /// Builds `body`'s kernels into the prologue: what it computes must come from
    /// parameters alone (checked), and is then computed once per step for all replicas.
    public func parameterDerived<T>(_ body: () throws -> T) rethrows -> T {
        let outer = buildingPrologue
        buildingPrologue = true
        defer { buildingPrologue = outer }
        return try body()
    }

    // MARK: - Running

    /// When set, forward and backward add each kernel's time and work to `profile`, by kernel type.
    public var profiling = false
    public private(set) var profile: [String: Profile] = [:]

    /// Seconds and work of one kernel type, summed over the passes profiled.
    public struct Profile: Sendable {
        public var forward = 0.0, backward = 0.0
        public var work = Work()
        public var seconds: Double { forward + backward }
    }

    public func forward() {
        forwardPrologue()
        forwardMain()
    }

    /// The prologue alone (nothing in a replica, which reads the primary's).
    public func forwardPrologue() {
        guard ownsPrologue else { return }
        if profiling { return timed(prologue, backward: false) }
        for k in prologue { k.forward() }
    }

    /// Everything after the prologue.
    public func forwardMain() {
        if profiling { return timed(kernels, backward: false) }
        for k in kernels { k.forward() }
    }

    private func timed(_ ks: [any Kernel], backward: Bool) {
        for k in ks {
            let dt = seconds { if backward { k.backward() } else { k.forward() } }
            let name = k.profileName
            var e = profile[name] ?? Profile()
            if backward { e.backward += dt } else { e.forward += dt }
            e.work = e.work + k.work(backward: backward)
            profile[name] = e
        }
    }

    /// Gradients of the scalar `loss` with respect to every tensor that requires one.
    /// Parameters that received no contribution (an expert no token reached) end at zero.
    public func backward(from loss: Tensor<S>) {
        backwardMain(from: loss)
        backwardPrologue()
    }

    /// Backward through everything after the prologue, leaving the gradients of the
    /// prologue's results (and of parameters only the prologue reads, zero for now).
    public func backwardMain(from loss: Tensor<S>) {
        check(loss.count == 1, "backward from \(loss.name) of shape \(loss.shape): not a scalar")
        if !gradientsPlanned { planGradients() }
        for s in storages { s.gradFresh = true }
        if let g = loss.grad { g[0] = 1; loss.storage.gradFresh = false }
        if profiling { timed(kernels.reversed(), backward: true) } else {
            for k in kernels.reversed() { k.backward() }
        }
        for p in parameters where p.storage.gradFresh {
            if let g = p.grad { zero(g, p.count) }
            p.storage.gradFresh = false
        }
    }

    /// Backward through the prologue, into the parameters it reads (adding to their
    /// gradients from the main part).
    public func backwardPrologue() {
        guard ownsPrologue else { return }
        if profiling { timed(prologue.reversed(), backward: true) } else {
            for k in prologue.reversed() { k.backward() }
        }
    }

    /// Adds `scale` × a replica's gradients of the prologue's results to this graph's,
    /// before `backwardPrologue` (the primary then backpropagates every replica's share).
    @_specialize(where S == Float)
    public func addPrologueGradients(from replica: Graph<S>, scale: S) {
        check(prologueStorages.count == replica.prologueStorages.count, "addPrologueGradients: graphs differ in their prologue")
        for (mine, theirs) in zip(prologueStorages, replica.prologueStorages) {
            guard let g = mine.grad, let r = theirs.grad, !theirs.gradFresh else { continue }
            if mine.gradFresh {
                for i in 0..<mine.count { g[i] = scale * r[i] }
                mine.gradFresh = false
            } else {
                for i in 0..<mine.count { g[i] += scale * r[i] }
            }
        }
    }

    /// Makes this graph a replica of `primary`: the same parameters (built in the same
    /// order and shapes) read `primary`'s values, while gradients stay separate. Replicas
    /// run different rows of a batch on different threads.
    public func shareParameters(with primary: Graph<S>) {
        check(parameters.count == primary.parameters.count, "shareParameters: graphs differ in parameters")
        for (mine, theirs) in zip(parameters, primary.parameters) {
            check(mine.shape == theirs.shape, "shareParameters: \(mine.name) \(mine.shape) vs \(theirs.shape)")
            mine.storage.borrowValue(of: theirs.storage)
        }
        check(prologueStorages.count == primary.prologueStorages.count, "shareParameters: graphs differ in their prologue")
        for (mine, theirs) in zip(prologueStorages, primary.prologueStorages) { mine.borrowValue(of: theirs) }
        ownsPrologue = false
    }

    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Bytes this graph allocated: values it owns (not a replica's borrowed ones) and gradients.
    public var allocatedBytes: Int {
        storages.reduce(0) { $0 + $1.count * (($1.ownsValue ? 1 : 0) + ($1.grad != nil && $1.ownsGrad ? 1 : 0)) } * MemoryLayout<S>.size
    }
}
