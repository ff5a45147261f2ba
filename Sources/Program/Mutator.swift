import Foundation

/// The ways a child differs from its parent (Primer's list, plus model-level genes).
public enum MutationKind: String, CaseIterable, Codable, Sendable {
    case insert, delete
    case deleteInsert = "delete_insert"
    case changeArgument = "change_argument"
    case swap
    /// A constant c ← c·10^X + Y (X, Y ~ N(0, 1)), or a dim resampled.
    case changeConstant = "change_constant"
    case layers, width, heads, altup, router, experts
}

/// Makes one mutation per child, as Primer's search does: a random kind by weight, applied
/// to a random place; a child that fails validation, or computes what its parent computes
/// (same canonical hash), is drawn again. Deterministic for a given generator state.
public struct Mutator: Sendable {
    public var ops: [Op]
    public var weights: [MutationKind: Double]
    public var dims: [Int]
    /// Model-level values to draw from.
    public var layerRange = 1...8
    public var widths = [64, 96, 128, 192, 256]
    public var headCounts = [1, 2, 4, 8]
    public var expertCounts = [2, 4, 8, 16, 32]
    public var maxTries = 200

    public init(ops: [Op] = Op.allCases, weights: [MutationKind: Double]? = nil, dims: [Int] = Dims.vocabulary) {
        self.ops = ops
        self.dims = dims
        self.weights = weights ?? Dictionary(uniqueKeysWithValues: MutationKind.allCases.map {
            ($0, [.insert, .delete, .deleteInsert, .changeArgument, .swap, .changeConstant].contains($0) ? 1.0 : 0.0)
        })
    }

    public struct Child: Sendable {
        public let program: Program
        public let kind: MutationKind
        /// What changed, in words ("insert subprogram 0 s5 = SIN s3").
        public let description: String
    }

    public struct NoChild: Error, CustomStringConvertible {
        public let description: String
    }

    /// A valid child with a canonical hash other than the parent's.
    public func mutate<R: RandomNumberGenerator>(_ parent: Program, using rng: inout R) throws -> Child {
        let parentHash = parent.hash
        let kinds = MutationKind.allCases.filter { (weights[$0] ?? 0) > 0 }
        guard !kinds.isEmpty else { throw NoChild(description: "mutator: every mutation weight is zero") }
        let total = kinds.reduce(0) { $0 + weights[$1]! }
        for _ in 0..<maxTries {
            var pick = Double.random(in: 0..<total, using: &rng), kind = kinds.last!
            for k in kinds { pick -= weights[k]!; if pick < 0 { kind = k; break } }
            guard let (child, words) = apply(kind, to: parent, using: &rng) else { continue }
            guard (try? child.validate()) != nil, child.hash != parentHash else { continue }
            return Child(program: child, kind: kind, description: "\(kind.rawValue) \(words)")
        }
        throw NoChild(description: "mutator: no valid child of \(parent.name) in \(maxTries) tries")
    }

    /// One mutation of `kind`, or nil where it does not apply (deleting from an empty block).
    func apply<R: RandomNumberGenerator>(_ kind: MutationKind, to p: Program, using rng: inout R) -> (Program, String)? {
        var c = p
        let k = Int.random(in: 0..<p.subprograms.count, using: &rng)
        var body = c.subprograms[k].instructions
        let place = "subprogram \(k)"
        switch kind {
        case .insert:
            let i = Int.random(in: 0...body.count, using: &rng)
            let ins = randomInstruction(states: i + 1, subprograms: p.subprograms.count, in: k, using: &rng)
            body = inserting(ins, at: i, into: body)
            c.subprograms[k].instructions = body
            return (c, "\(place) s\(i + 1) = \(ins.text)")
        case .delete:
            guard !body.isEmpty else { return nil }
            let i = Int.random(in: 0..<body.count, using: &rng)
            let gone = body[i]
            c.subprograms[k].instructions = deleting(at: i, from: body)
            return (c, "\(place) s\(i + 1) = \(gone.text)")
        case .deleteInsert:
            guard !body.isEmpty else { return nil }
            let i = Int.random(in: 0..<body.count, using: &rng)
            let gone = body[i]
            body = deleting(at: i, from: body)
            let j = Int.random(in: 0...body.count, using: &rng)
            let ins = randomInstruction(states: j + 1, subprograms: p.subprograms.count, in: k, using: &rng)
            c.subprograms[k].instructions = inserting(ins, at: j, into: body)
            return (c, "\(place) s\(i + 1) = \(gone.text) → s\(j + 1) = \(ins.text)")
        case .changeArgument:
            guard !body.isEmpty else { return nil }
            let i = Int.random(in: 0..<body.count, using: &rng)
            var ins = body[i]
            let before = ins.text
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: ins.input1 = Int.random(in: 0...i, using: &rng)
            case 1 where ins.op.arity == 2: ins.input2 = Int.random(in: 0...i, using: &rng)
            default:   // the op itself, keeping the inputs
                let op = ops.randomElement(using: &rng)!
                ins = Instruction(op, ins.input1, op.arity == 2 ? (ins.op.arity == 2 ? ins.input2 : Int.random(in: 0...i, using: &rng)) : 0,
                                  constant: ins.op.usesConstant ? ins.constant : normal(&rng),
                                  dim: op == .call ? calleeFor(k, p.subprograms.count, &rng) : dims.randomElement(using: &rng)!)
            }
            body[i] = ins
            c.subprograms[k].instructions = body
            return (c, "\(place) s\(i + 1): \(before) → \(ins.text)")
        case .swap:
            // Two instructions trade places, arguments unchanged (so what they read changes).
            // Most such swaps read a state before it exists: choose among those that validate
            // and change the program.
            let parentHash = p.hash
            var candidates = [(Int, Int)]()
            for i in body.indices { for j in body.indices where j > i {
                var trial = p
                trial.subprograms[k].instructions.swapAt(i, j)
                if (try? trial.validate()) != nil && trial.hash != parentHash { candidates.append((i, j)) }
            } }
            guard let (i, j) = candidates.randomElement(using: &rng) else { return nil }
            body.swapAt(i, j)
            c.subprograms[k].instructions = body
            return (c, "\(place) s\(i + 1) ↔ s\(j + 1)")
        case .changeConstant:
            let tunable = body.indices.filter { body[$0].op.usesConstant || (body[$0].op.usesDim && body[$0].op != .call) }
            guard let i = tunable.randomElement(using: &rng) else { return nil }
            let before = body[i].text
            if body[i].op.usesConstant {
                body[i].constant = body[i].constant * pow(10, normal(&rng)) + normal(&rng)
            } else {
                body[i].dim = dims.randomElement(using: &rng)!
            }
            c.subprograms[k].instructions = body
            return (c, "\(place) s\(i + 1): \(before) → \(body[i].text)")
        case .layers:
            c.genes.layers = Int.random(in: layerRange, using: &rng)
            return (c, "layers \(p.genes.layers) → \(c.genes.layers)")
        case .width:
            c.genes.dModel = widths.randomElement(using: &rng)!
            return (c, "d_model \(p.genes.dModel) → \(c.genes.dModel)")
        case .heads:
            c.genes.heads = headCounts.randomElement(using: &rng)!
            return (c, "heads \(p.genes.heads) → \(c.genes.heads)")
        case .altup:
            c.genes.altup = Int.random(in: 1...3, using: &rng)
            c.genes.altupMode = AltUpMode.allCases.randomElement(using: &rng)!
            return (c, "altup \(p.genes.altup) \(p.genes.altupMode.rawValue) → \(c.genes.altup) \(c.genes.altupMode.rawValue)")
        case .router:
            c.genes.router = Router.allCases.randomElement(using: &rng)!
            return (c, "router \(p.genes.router.rawValue) → \(c.genes.router.rawValue)")
        case .experts:
            c.genes.experts = expertCounts.randomElement(using: &rng)!
            c.genes.topk = min(c.genes.topk, c.genes.experts)
            return (c, "experts \(p.genes.experts) → \(c.genes.experts)")
        }
    }

    func randomInstruction<R: RandomNumberGenerator>(states n: Int, subprograms: Int, in k: Int, using rng: inout R) -> Instruction {
        let op = ops.randomElement(using: &rng)!
        return Instruction(op, Int.random(in: 0..<n, using: &rng), Int.random(in: 0..<n, using: &rng),
                           constant: normal(&rng),
                           dim: op == .call ? calleeFor(k, subprograms, &rng) : dims.randomElement(using: &rng)!)
    }

    private func calleeFor<R: RandomNumberGenerator>(_ k: Int, _ count: Int, _ rng: inout R) -> Int {
        k + 1 < count ? Int.random(in: (k + 1)..<count, using: &rng) : k + 1   // invalid if none: redrawn
    }
}

/// body with `ins` inserted as instruction i; later references to s(i+1)… move up by one.
func inserting(_ ins: Instruction, at i: Int, into body: [Instruction]) -> [Instruction] {
    var out = body.map { x -> Instruction in
        var x = x
        if x.input1 > i { x.input1 += 1 }
        if x.op.arity == 2 && x.input2 > i { x.input2 += 1 }
        return x
    }
    out.insert(ins, at: i)
    // Instructions after the new one that read s(i+1) meant the old s(i+1), now s(i+2):
    // handled above by `> i`; the new instruction's own inputs are ≤ i already.
    return out
}

/// body without instruction i; readers of its state read its first input instead.
func deleting(at i: Int, from body: [Instruction]) -> [Instruction] {
    let replacement = body[i].input1
    var out = body
    out.remove(at: i)
    for j in i..<out.count {
        func fix(_ s: Int) -> Int { s == i + 1 ? replacement : (s > i + 1 ? s - 1 : s) }
        out[j].input1 = fix(out[j].input1)
        if out[j].op.arity == 2 { out[j].input2 = fix(out[j].input2) }
    }
    return out
}

/// A standard normal draw (Box–Muller) from any generator.
func normal<R: RandomNumberGenerator>(_ rng: inout R) -> Double {
    let u1 = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &rng)
    let u2 = Double.random(in: 0..<1, using: &rng)
    return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
}
