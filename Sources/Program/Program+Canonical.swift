/// Dead-code elimination, a canonical form and a stable hash. Two programs that compute the
/// same graph — whatever the order of independent instructions, the numbering of states
/// and subprograms, or the order of a commutative op's inputs — have the same canonical
/// form and hash; dead instructions and uncalled subprograms do not count.
extension Program {
    public var canonical: Program {
        var order = [Int]()                   // old subprogram indices, in order of first call
        var bodies = [Int: [Instruction]]()
        func visit(_ k: Int) {
            guard bodies[k] == nil else { return }
            bodies[k] = []
            order.append(k)
            let body = canonicalBody(k)
            bodies[k] = body
            for ins in body where ins.op == .call { visit(ins.dim) }
        }
        visit(0)
        let renumber = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        let subs = order.map { k in
            Subprogram(bodies[k]!.map { ins in
                var ins = ins
                if ins.op == .call { ins.dim = renumber[ins.dim]! }
                return ins
            })
        }
        return Program(name: name, genes: genes, subprograms: subs)
    }

    /// A stable 64-bit hash of the canonical form, as 16 hex digits (name excluded).
    public var hash: String {
        var c = canonical
        c.name = ""
        let digest = StableHash.of(c.text)
        let s = String(digest, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Subprogram k's live instructions in canonical order, states renumbered, commutative
    /// inputs sorted.
    private func canonicalBody(_ k: Int) -> [Instruction] {
        let ins = subprograms[k].instructions
        let n = ins.count
        guard n > 0 else { return [] }
        let live = subprograms[k].liveStates
        // Up-hash: what a state computes (its expression). Calls hash their callee's body.
        var up = [UInt64](repeating: StableHash.of("input"), count: n + 1)
        for i in 0..<n {
            var args = ins[i].inputs.map { up[$0] }
            if ins[i].op.isCommutative { args.sort() }
            up[i + 1] = StableHash.combine([StableHash.of(operatorKey(ins[i]))] + args)
        }
        // Down-hash: how a state is used, so that equal expressions used differently
        // (two DENSE of one input, with different consumers) still order the same way.
        var down = [UInt64](repeating: 0, count: n + 1)
        down[n] = StableHash.of("output")
        for i in stride(from: n - 1, through: 0, by: -1) where live[i + 1] {
            for (position, s) in ins[i].inputs.enumerated() {
                let role = ins[i].op.isCommutative ? 0 : UInt64(position + 1)
                down[s] = StableHash.combine([down[s], StableHash.combine([up[i + 1], down[i + 1], role])])
            }
        }
        // Topological order, always taking the ready instruction with the smallest key.
        var newIndex = [Int](repeating: -1, count: n + 1)
        newIndex[0] = 0
        var done = [Bool](repeating: false, count: n)
        var out = [Instruction]()
        let pending = (0..<n).filter { live[$0 + 1] }
        while out.count < pending.count {
            let ready = pending.filter { !done[$0] && ins[$0].inputs.allSatisfy { newIndex[$0] >= 0 } }
            let next = ready.min { (up[$0 + 1], down[$0 + 1], $0) < (up[$1 + 1], down[$1 + 1], $1) }!
            done[next] = true
            var c = ins[next]
            c.input1 = newIndex[c.input1]
            if c.op.arity == 2 {
                c.input2 = newIndex[c.input2]
                if c.op.isCommutative && c.input2 < c.input1 { swap(&c.input1, &c.input2) }
            }
            out.append(c)
            newIndex[next + 1] = out.count
        }
        return out
    }

    /// The op with its constant and dim; a call stands for its callee's canonical hash.
    private func operatorKey(_ ins: Instruction) -> String {
        if ins.op == .call, ins.dim > 0, ins.dim < subprograms.count {
            // The callee as subprogram 0; its own calls keep their (higher) indices.
            let callee = Program(name: "", genes: genes, subprograms: [subprograms[ins.dim]] + subprograms.dropFirst())
            return "CALL " + callee.hash
        }
        return ins.operatorText
    }
}

/// FNV-1a, 64 bits: the same on every run and machine (Swift's Hasher is seeded per process).
public enum StableHash {
    public static func of(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    public static func combine(_ parts: [UInt64]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for p in parts {
            for shift in stride(from: 0, to: 64, by: 8) { h = (h ^ ((p >> UInt64(shift)) & 0xff)) &* 0x100_0000_01b3 }
        }
        return h
    }
}

extension Subprogram {
    /// live[s]: whether the output (the last state) depends on state s — dead code is what
    /// the canonical form drops and what a mutation need not touch.
    public var liveStates: [Bool] {
        let n = instructions.count
        var live = [Bool](repeating: false, count: n + 1)
        live[n] = true
        for i in stride(from: n - 1, through: 0, by: -1) where live[i + 1] {
            for s in instructions[i].inputs { live[s] = true }
        }
        return live
    }
}
