/// Parameters and forward FLOPs per token, read off the program by shape inference (an
/// interpreter over the IR, like validation). FLOPs count a multiply-add as 2 and every
/// other elementwise operation as 1; attention products count all T positions (what the
/// engine computes), not the causal half.
public struct Cost: Equatable, Sendable, CustomStringConvertible {
    public var parameters = 0
    public var flopsPerToken = 0

    public init(parameters: Int = 0, flopsPerToken: Int = 0) {
        self.parameters = parameters; self.flopsPerToken = flopsPerToken
    }

    /// a + b, or a one-line error where the count no longer fits (a model no machine holds).
    static func + (a: Cost, b: Cost) throws -> Cost {
        Cost(parameters: try sum(a.parameters, b.parameters), flopsPerToken: try sum(a.flopsPerToken, b.flopsPerToken))
    }

    /// Every count times n.
    func times(_ n: Int) throws -> Cost {
        Cost(parameters: try product(parameters, n), flopsPerToken: try product(flopsPerToken, n))
    }

    public var description: String { "params=\(parameters) flops_per_token=\(flopsPerToken)" }
}

extension Program {
    /// The whole model: `layers` blocks, token and position embeddings, a final norm and
    /// the tied output head over `vocabulary` symbols. The program must be valid.
    public func cost(vocabulary: Int) throws -> Cost {
        let c = genes.dModel
        var block = try cost(subprogram: 0, input: .residual)
        // AltUp: per layer K² + K learned scalars; predict (2K²C), correct (3KC).
        let k = genes.altup
        if k > 1 { block = try block + Cost(parameters: k * k + k, flopsPerToken: try product(2, k, k, c) + 3 * k * c) }
        let outside = Cost(parameters: try product(vocabulary + genes.context + 1, c), flopsPerToken: try product(2, c, vocabulary))
        return try block.times(genes.layers) + outside
    }

    /// One run of subprogram k on an input of the given shape (calls included).
    public func cost(subprogram k: Int, input: StateShape) throws -> Cost {
        let shapes = try self.shapes(subprogram: k, input: input)
        var total = Cost()
        for (i, ins) in subprograms[k].instructions.enumerated() {
            total = try total + (try cost(of: ins, input: shapes[ins.input1], output: shapes[i + 1]))
        }
        return total
    }

    /// One instruction's cost, by its op's cost rule.
    func cost(of ins: Instruction, input a: StateShape, output: StateShape) throws -> Cost {
        let inW = width(a), outW = width(output), t = genes.context
        switch ins.op.spec.cost {
        case .elementwise: return Cost(flopsPerToken: outW)
        case .reduction: return Cost(flopsPerToken: inW)
        case .learnedVector: return Cost(parameters: inW, flopsPerToken: inW)
        case .projection(let taps): return Cost(parameters: try product(taps, inW, outW), flopsPerToken: try product(2, taps, inW, outW))
        case .depthwise(let taps): return Cost(parameters: taps * inW, flopsPerToken: 2 * taps * inW)
        case .scores: return Cost(flopsPerToken: try product(2, t, inW))
        case .attend: return Cost(flopsPerToken: try product(2, t, outW))
        case .callee: return try cost(subprogram: ins.dim, input: a)
        case .sparseFFN:
            // E blocks of keys and values; each token runs topk of them; Switch adds a
            // router, Avg-K scores every block's mean key.
            let g = ins.dim * genes.dModel / 8, e = genes.experts
            let router = genes.router.spec
            let scores = router.scoresBlocks ? try product(2, inW, e) : 0
            let experts = genes.mpo > 0 ? try sum(mpoParameters(inW, g), mpoParameters(g, inW)) : try product(2, e, inW, g)
            return Cost(parameters: try sum(experts, router.learnedWeights ? try product(inW, e) : 0),
                        flopsPerToken: try sum(try product(genes.topk, 4, inW, g), scores))
        }
    }

    /// Bytes a training run of the whole model holds, roughly (an upper estimate, to refuse
    /// a model the machine cannot hold before allocating it): parameters with their gradient
    /// and Adam's two moments, every state of every layer as value and gradient for `batch`
    /// rows (each kernel's saved buffers counted as one more copy), and the logits.
    public func memoryEstimate(batch: Int, vocabulary: Int) throws -> Double {
        let cost = try cost(vocabulary: vocabulary)
        let tokens = Double(batch) * Double(genes.context)
        var perToken = 0.0
        func states(_ k: Int, _ input: StateShape) throws {
            let shapes = try self.shapes(subprogram: k, input: input)
            for (i, ins) in subprograms[k].instructions.enumerated() {
                perToken += Double(width(shapes[i + 1]))
                if ins.op == .call { try states(ins.dim, shapes[ins.input1]) }
            }
        }
        try states(0, .residual)
        let block = 3 * 4 * perToken * tokens * Double(genes.layers * max(genes.altup, 1))
        let logits = 3 * 4 * tokens * Double(vocabulary + 4 * genes.dModel)
        return 16 * Double(cost.parameters) + block + logits
    }

    /// MPO experts of rows × cols: the shared central core plus each expert's others.
    func mpoParameters(_ rows: Int, _ cols: Int) throws -> Int {
        let shapes = mpoCoreShapes(rows: rows, cols: cols, cores: genes.mpo)
        let sizes = try shapes.map { try product($0[0], $0[1], $0[2], $0[3]) }
        let central = sizes[shapes.count / 2]
        return try sum(central, try product(genes.experts, sizes.reduce(0, +) - central))
    }

    /// Values per token of a state.
    func width(_ s: StateShape) -> Int {
        switch s {
        case .hidden(let e): return e * genes.dModel / 8
        case .perPosition: return 1
        case .scores: return genes.heads * genes.context
        }
    }
}

/// The core shapes [r, i, j, r'] of an untruncated MPO of a rows × cols matrix, the rows
/// and columns split into `cores` balanced factors.
public func mpoCoreShapes(rows: Int, cols: Int, cores n: Int) -> [[Int]] {
    let rf = factors(rows, n), cf = factors(cols, n)
    var bonds = [1]
    for k in 1..<n {
        let left = (0..<k).reduce(1) { $0 * rf[$1] * cf[$1] }, right = (k..<n).reduce(1) { $0 * rf[$1] * cf[$1] }
        bonds.append(Swift.min(left, right, bonds[k - 1] * rf[k - 1] * cf[k - 1]))
    }
    bonds.append(1)
    return (0..<n).map { [bonds[$0], rf[$0], cf[$0], bonds[$0 + 1]] }
}

/// n split into `parts` factors as even as possible (largest primes placed first).
public func factors(_ n: Int, _ parts: Int) -> [Int] {
    var primes = [Int](), m = n, p = 2
    while m > 1 { if m % p == 0 { primes.append(p); m /= p } else { p += 1 } }
    var f = [Int](repeating: 1, count: parts)
    for q in primes.sorted(by: >) { f[f.indices.min { f[$0] < f[$1] }!] *= q }
    return f
}

/// The product of counts, or a one-line error where it does not fit in an Int.
func product(_ xs: Int...) throws -> Int {
    var p = 1
    for x in xs {
        let (r, overflow) = p.multipliedReportingOverflow(by: x)
        guard !overflow else { throw ProgramError("the model is too large to count: its size overflows") }
        p = r
    }
    return p
}

func sum(_ a: Int, _ b: Int) throws -> Int {
    let (r, overflow) = a.addingReportingOverflow(b)
    guard !overflow else { throw ProgramError("the model is too large to count: its size overflows") }
    return r
}
