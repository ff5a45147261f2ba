/// The shape of a state, relative to the model: what validation infers for every state.
public enum StateShape: Hashable, Sendable, CustomStringConvertible {
    /// [B, T, w] with w = eighths · d_model / 8.
    case hidden(eighths: Int)
    /// [B, T, 1]: a channel reduction; broadcasts against hidden states.
    case perPosition
    /// [B, H, T, T]: per-head scores.
    case scores

    public static let residual = StateShape.hidden(eighths: 8)

    public var description: String {
        switch self {
        case .hidden(8): return "[B,T,C]"
        case .hidden(let e): return e % 8 == 0 ? "[B,T,\(e / 8)C]" : "[B,T,\(e)/8·C]"
        case .perPosition: return "[B,T,1]"
        case .scores: return "[B,H,T,T]"
        }
    }
}

extension Program {
    /// The most a program may hold — far above any block the search makes (tens of
    /// instructions), low enough that reading, validating and compiling one stays cheap:
    /// subprograms; instructions in all of them; and instructions of one layer with every
    /// CALL expanded, which is what the compiler builds (a chain of subprograms each calling
    /// the next twice doubles it at every level).
    public static let limits = (subprograms: 64, instructions: 1024, expanded: 16_384)

    /// Throws a one-line error naming the limit a program passes (`limits`).
    func checkSize() throws {
        let most = Program.limits
        guard subprograms.count <= most.subprograms else {
            throw ProgramError("\(subprograms.count) subprograms; evolve builds at most \(most.subprograms)")
        }
        let total = subprograms.reduce(0) { $0 + $1.instructions.count }
        guard total <= most.instructions else {
            throw ProgramError("\(total) instructions; evolve builds at most \(most.instructions)")
        }
        // Subprograms call only higher-numbered ones, so counting from the last expands each once.
        var expanded = [Int](repeating: 0, count: subprograms.count)
        for k in subprograms.indices.reversed() {
            expanded[k] = subprograms[k].instructions.reduce(0) { n, ins in
                let callee = ins.op == .call && ins.dim > k && ins.dim < subprograms.count ? expanded[ins.dim] : 0
                return min(n + 1 + callee, most.expanded + 1)   // saturated: the sum cannot overflow
            }
        }
        guard expanded[0] <= most.expanded else {
            throw ProgramError("subprogram 0 expands to more than \(most.expanded) instructions with its CALLs expanded; evolve builds at most that many per layer")
        }
    }

    /// Checks the genes, every index and call, and infers every state's shape; the error
    /// names the subprogram and the instruction. Subprogram 0 must map the residual stream
    /// [B, T, C] to itself.
    public func validate() throws {
        // The text form writes the name as one word after `program`, where `#` starts a comment.
        guard !name.isEmpty, name.count <= 200, !name.contains(where: { $0.isWhitespace || $0 == "#" }) else {
            throw ProgramError("name '\(name.prefix(40))' must be one word of at most 200 characters, without '#' (the text form could not read it back)")
        }
        let g = genes
        guard g.layers >= 1, g.heads >= 1, g.context >= 1, g.dModel >= 8 else {
            throw ProgramError("genes: layers, heads and context must be positive and d_model at least 8")
        }
        for (name, value, most) in [("layers", g.layers, Genes.limits.layers), ("d_model", g.dModel, Genes.limits.dModel),
                                    ("heads", g.heads, Genes.limits.heads), ("context", g.context, Genes.limits.context),
                                    ("experts", g.experts, Genes.limits.experts)] where value > most {
            throw ProgramError("genes: \(name) \(value) is above the most evolve builds (\(most))")
        }
        guard g.capacity.isFinite, g.capacity > 0, g.capacity <= 64 else {
            throw ProgramError("genes: capacity must be a number in (0, 64], found \(g.capacity)")
        }
        guard g.dModel % 8 == 0, g.dModel % g.heads == 0 else {
            throw ProgramError("genes: d_model \(g.dModel) must divide by 8 and by heads \(g.heads)")
        }
        guard g.experts >= 1, g.topk >= 1, g.topk <= g.experts else {
            throw ProgramError("genes: topk \(g.topk) must be between 1 and experts \(g.experts)")
        }
        guard g.mpo == 0 || (2...5).contains(g.mpo) else {
            throw ProgramError("genes: mpo is 0 (off) or 2 to 5 cores, found \(g.mpo)")
        }
        guard g.mpoMask >= 0 && g.mpoMask < 1 else { throw ProgramError("genes: mpo_mask is a probability in [0, 1), found \(g.mpoMask)") }
        guard g.mpoMask == 0 || g.mpo > 0 else { throw ProgramError("genes: mpo_mask \(g.mpoMask) needs MPO experts (mpo=2 to 5)") }
        guard (1...4).contains(g.altup) else { throw ProgramError("genes: altup is 1 (off) to 4 blocks, found \(g.altup)") }
        guard !subprograms.isEmpty else { throw ProgramError("the program has no subprogram") }
        try checkSize()
        let out = try outputShape(subprogram: 0, input: .residual)
        guard out == .residual else {
            throw ProgramError("subprogram 0 returns \(out), the residual stream needs \(StateShape.residual)")
        }
    }

    /// Every state's shape in subprogram k when its input has shape `input`.
    public func shapes(subprogram k: Int, input: StateShape) throws -> [StateShape] {
        var shapes = [input]
        for (i, ins) in subprograms[k].instructions.enumerated() {
            func fail(_ why: String) -> ProgramError {
                ProgramError("subprogram \(k), s\(i + 1) = \(ins.text): \(why)")
            }
            for s in ins.inputs where s < 0 || s > i {
                throw fail("s\(s) is not an earlier state (s0…s\(i))")
            }
            let a = shapes[ins.input1], b = ins.op.arity == 2 ? shapes[ins.input2] : a
            shapes.append(try shape(of: ins, a, b, subprogram: k, fail))
        }
        return shapes
    }

    /// The input shape of subprogram k at its first call (subprogram 0: the residual
    /// stream); nil for a subprogram nothing calls.
    public func inputShape(ofSubprogram k: Int) -> StateShape? {
        guard k > 0 else { return .residual }
        for caller in 0..<k {
            guard let input = inputShape(ofSubprogram: caller), let shapes = try? shapes(subprogram: caller, input: input) else { continue }
            for ins in subprograms[caller].instructions where ins.op == .call && ins.dim == k { return shapes[ins.input1] }
        }
        return nil
    }

    func outputShape(subprogram k: Int, input: StateShape) throws -> StateShape {
        try shapes(subprogram: k, input: input).last!
    }

    /// The shape `ins` makes from inputs of shapes a and b, by its op's shape rule.
    func shape(of ins: Instruction, _ a: StateShape, _ b: StateShape, subprogram k: Int,
               _ fail: (String) -> ProgramError) throws -> StateShape {
        let spec = ins.op.spec, name = ins.op.rawValue
        if spec.operand == .width, !Dims.vocabulary.contains(ins.dim) {
            throw fail("dim=\(ins.dim) is not one of \(Dims.vocabulary.map(String.init).joined(separator: ", "))")
        }
        func splitsIntoHeads(_ s: StateShape) -> Bool {
            if case .hidden(let e) = s { return (e * genes.dModel / 8) % genes.heads == 0 }
            return false
        }
        func require(_ accepts: Accepts) throws {
            guard accepts.admits(a) else { throw fail("\(name) needs \(accepts), found \(a)") }
        }
        switch spec.shape {
        case .same(let accepts):
            try require(accepts)
            return a
        case .toWidth(let accepts):
            try require(accepts)
            return .hidden(eighths: ins.dim)
        case .reduce:
            guard case .hidden = a else { throw fail("\(name) reduces channels of [B,T,·], found \(a)") }
            return .perPosition
        case .broadcast:
            switch (a, b) {
            case _ where a == b: return a
            case (.hidden, .perPosition): return a
            case (.perPosition, .hidden): return b
            default: throw fail("shapes \(a) and \(b) do not combine")
            }
        case .scores:
            guard a == b, splitsIntoHeads(a) else {
                throw fail("\(name) needs two equal [B,T,·] states that split into \(genes.heads) heads, found \(a) and \(b)")
            }
            return .scores
        case .attend:
            guard a == .scores, splitsIntoHeads(b) else {
                throw fail("\(name) needs scores [B,H,T,T] and a [B,T,·] state that splits into \(genes.heads) heads, found \(a) and \(b)")
            }
            return b
        case .callee:
            guard ins.dim > k, ins.dim < subprograms.count else {
                throw fail("sub=\(ins.dim): a subprogram calls only higher-numbered ones (\(k + 1)…\(subprograms.count - 1))")
            }
            return try outputShape(subprogram: ins.dim, input: a)
        }
    }
}
