import Foundation

/// One subprogram of a parent, with what the instruction mutations read: every state's
/// shape, which states the output depends on, and who reads each state.
struct Site {
    let program: Program
    let k: Int
    let body: [Instruction]
    /// Shapes of s0…sN.
    let shapes: [StateShape]
    /// live[s]: the output depends on state s (edits of dead code change nothing).
    let live: [Bool]
    /// readers[s]: the live instructions that read state s.
    let readers: [[Int]]

    /// Nil for a subprogram nothing calls, or one whose shapes do not infer.
    init?(_ p: Program, _ k: Int) {
        guard let input = p.inputShape(ofSubprogram: k), let shapes = try? p.shapes(subprogram: k, input: input) else { return nil }
        let body = p.subprograms[k].instructions, n = body.count, live = p.subprograms[k].liveStates
        var readers = [[Int]](repeating: [], count: n + 1)
        for (i, ins) in body.enumerated() where live[i + 1] { for s in Set(ins.inputs) { readers[s].append(i) } }
        (program, self.k, self.body, self.shapes, self.live, self.readers) = (p, k, body, shapes, live, readers)
    }

    var liveInstructions: [Int] { body.indices.filter { live[$0 + 1] } }

    /// The shape `ins` makes here, or nil where its op's shape rule refuses the inputs.
    func shape(of ins: Instruction) -> StateShape? {
        try? program.shape(of: ins, shapes[ins.input1], shapes[ins.op.arity == 2 ? ins.input2 : ins.input1], subprogram: k) {
            ProgramError($0)
        }
    }
}

extension Mutator {
    /// Splices a new instruction after state s: it reads s (and, for a binary op, another
    /// earlier state), keeps s's shape, and one or all of s's readers read it instead —
    /// so ReLU → SQUARE → DENSE is one insert. After the output it becomes the output.
    func insert<R: RandomNumberGenerator>(_ site: Site, _ rng: inout R) -> ([Instruction], String)? {
        let n = site.body.count
        let places = (0...n).filter { site.live[$0] && ($0 == n || !site.readers[$0].isEmpty) }
        guard let s = places.randomElement(using: &rng), let ins = newInstruction(reading: s, site, &rng) else { return nil }
        let readers = s == n ? [] : (Bool.random(using: &rng) ? site.readers[s] : [site.readers[s].randomElement(using: &rng)!])
        return (splicing(ins, after: s, readers: readers, into: site.body), "s\(s + 1) = \(ins.brief)")
    }

    /// An instruction that reads state s and makes a state of its shape: from the unary and
    /// depthwise families, a projection to s's own width, or a binary op with another
    /// state that broadcasts into s.
    func newInstruction<R: RandomNumberGenerator>(reading s: Int, _ site: Site, _ rng: inout R) -> Instruction? {
        let shape = site.shapes[s]
        var choices = [Instruction]()
        for op in ops {
            switch op.family {
            case .unary, .depthwise:
                choices.append(Instruction(op, s, constant: normal(&rng)))
            case .projection:
                if case .hidden(let e) = shape, dims.contains(e) { choices.append(Instruction(op, s, dim: e)) }
            case .binary:
                // A partner that broadcasts into s's shape: the same shape, or [B,T,1] against channels.
                let partners = (0...s).filter { t in
                    site.shapes[t] == shape || (site.shapes[t] == .perPosition && { if case .hidden = shape { return true }; return false }())
                }
                if let t = partners.randomElement(using: &rng) {
                    choices.append(Bool.random(using: &rng) ? Instruction(op, s, t) : Instruction(op, t, s))
                }
            case .reduction, .structural:
                continue
            }
        }
        return choices.filter { site.shape(of: $0) == shape }.randomElement(using: &rng)
    }

    /// Removes a live instruction whose readers can read one of its inputs instead (one of
    /// the same shape).
    func delete<R: RandomNumberGenerator>(_ site: Site, _ rng: inout R) -> ([Instruction], String)? {
        // Without the last instruction the output is the state before it: only that input
        // can stand in for it.
        let last = site.body.count - 1
        let options = site.liveInstructions.flatMap { i in
            Set(site.body[i].inputs).filter { site.shapes[$0] == site.shapes[i + 1] && (i != last || $0 == i) }.sorted().map { (i, $0) }
        }
        guard let (i, keep) = options.randomElement(using: &rng) else { return nil }
        return (deleting(at: i, from: site.body, readersRead: keep), "s\(i + 1) = \(site.body[i].brief)")
    }

    /// A delete, then an insert into what is left; never the parent again.
    func deleteInsert<R: RandomNumberGenerator>(_ site: Site, _ p: Program, _ rng: inout R) -> ([Instruction], String)? {
        guard let (body, gone) = delete(site, &rng) else { return nil }
        var smaller = p
        smaller.subprograms[site.k].instructions = body
        guard let rest = Site(smaller, site.k) else { return nil }
        for _ in 0..<placesPerKind {
            guard let (grown, added) = insert(rest, &rng) else { return nil }
            var child = p
            child.subprograms[site.k].instructions = grown
            if child.hash != p.hash { return (grown, "\(gone) → \(added)") }
        }
        return nil
    }

    /// Half the time an op changed within its family (keeping its inputs and dim), else an
    /// input moved to another earlier state of the same shape.
    func changeArgument<R: RandomNumberGenerator>(_ site: Site, _ rng: inout R) -> ([Instruction], String)? {
        let opFirst = Bool.random(using: &rng)
        return (opFirst ? changeOp(site, &rng) : nil) ?? changeInput(site, &rng) ?? (opFirst ? nil : changeOp(site, &rng))
    }

    func changeOp<R: RandomNumberGenerator>(_ site: Site, _ rng: inout R) -> ([Instruction], String)? {
        var options = [(Int, Instruction)]()
        for i in site.liveInstructions {
            let old = site.body[i]
            guard old.op.family != .structural else { continue }
            for op in ops where op != old.op && op.family == old.op.family {
                let new = Instruction(op, old.input1, old.input2, constant: old.op.usesConstant ? old.constant : normal(&rng),
                                      dim: old.dim)
                if site.shape(of: new) == site.shapes[i + 1] { options.append((i, new)) }
            }
        }
        guard let (i, new) = options.randomElement(using: &rng) else { return nil }
        var body = site.body
        body[i] = new
        return (body, "s\(i + 1): \(site.body[i].brief) → \(new.brief)")
    }

    func changeInput<R: RandomNumberGenerator>(_ site: Site, _ rng: inout R) -> ([Instruction], String)? {
        var options = [(i: Int, slot: Int, state: Int)]()
        for i in site.liveInstructions {
            let ins = site.body[i]
            for (slot, current) in ins.inputs.enumerated() {
                for t in 0...i where t != current && site.shapes[t] == site.shapes[current] { options.append((i, slot, t)) }
            }
        }
        guard let o = options.randomElement(using: &rng) else { return nil }
        var body = site.body
        if o.slot == 0 { body[o.i].input1 = o.state } else { body[o.i].input2 = o.state }
        return (body, "s\(o.i + 1): \(site.body[o.i].brief) → \(body[o.i].brief)")
    }

    /// Two operands of the same shape, in two live instructions, trade places (each still
    /// reads an earlier state).
    func swap<R: RandomNumberGenerator>(_ site: Site, _ rng: inout R) -> ([Instruction], String)? {
        let operands = site.liveInstructions.flatMap { i in site.body[i].inputs.indices.map { (i: i, slot: $0) } }
        func state(_ o: (i: Int, slot: Int)) -> Int { site.body[o.i].inputs[o.slot] }
        var pairs = [(Int, Int)]()
        for (x, a) in operands.enumerated() {
            for (y, b) in operands.enumerated() where y > x && a.i < b.i {
                let sa = state(a), sb = state(b)
                if sa != sb && site.shapes[sa] == site.shapes[sb] && sb <= a.i { pairs.append((x, y)) }
            }
        }
        guard let (x, y) = pairs.randomElement(using: &rng) else { return nil }
        let a = operands[x], b = operands[y]
        var body = site.body
        func set(_ o: (i: Int, slot: Int), _ s: Int) { if o.slot == 0 { body[o.i].input1 = s } else { body[o.i].input2 = s } }
        let (sa, sb) = (state(a), state(b))
        set(a, sb); set(b, sa)
        return (body, "s\(sa) ↔ s\(sb) (read by s\(a.i + 1) and s\(b.i + 1))")
    }

    /// A live constant moved (c·10^X + Y), or a live width redrawn.
    func changeConstant<R: RandomNumberGenerator>(_ site: Site, _ rng: inout R) -> ([Instruction], String)? {
        let tunable = site.liveInstructions.filter { [.constant, .width].contains(site.body[$0].op.spec.operand) }
        guard let i = tunable.randomElement(using: &rng) else { return nil }
        var body = site.body
        if body[i].op.usesConstant {
            body[i].constant = body[i].constant * pow(10, normal(&rng)) + normal(&rng)
        } else {
            guard let d = dims.filter({ $0 != body[i].dim }).randomElement(using: &rng) else { return nil }
            body[i].dim = d
        }
        return (body, "s\(i + 1): \(site.body[i].brief) → \(body[i].brief)")
    }
}

/// `ins` as the new state s+1, read by `readers` (instruction indices of `body` that read
/// s) in place of s; every later reference moves up by one.
func splicing(_ ins: Instruction, after s: Int, readers: [Int], into body: [Instruction]) -> [Instruction] {
    var out = body
    for j in s..<out.count {
        func move(_ x: Int) -> Int { x > s ? x + 1 : (x == s && readers.contains(j) ? s + 1 : x) }
        out[j].input1 = move(out[j].input1)
        if out[j].op.arity == 2 { out[j].input2 = move(out[j].input2) }
    }
    out.insert(ins, at: s)
    return out
}

/// body without instruction i; readers of its state read `keep` (one of its inputs) instead.
func deleting(at i: Int, from body: [Instruction], readersRead keep: Int? = nil) -> [Instruction] {
    let replacement = keep ?? body[i].input1
    var out = body
    out.remove(at: i)
    for j in i..<out.count {
        func fix(_ s: Int) -> Int { s == i + 1 ? replacement : (s > i + 1 ? s - 1 : s) }
        out[j].input1 = fix(out[j].input1)
        if out[j].op.arity == 2 { out[j].input2 = fix(out[j].input2) }
    }
    return out
}
