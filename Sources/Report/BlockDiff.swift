import Program

/// Which instructions of one subprogram body correspond to which of another's, matched by
/// what they compute rather than by state number: an instruction matches one of the same op
/// whose operands match recursively. Everything the edits did not touch is `same`; an
/// instruction matched to one in its place whose op, operands or constant differ is
/// `changed`; the rest are `added` (in the newer body) or `removed` (in the older). So an
/// insert marks one node, not every state after it.
struct BlockDiff {
    enum Mark: Equatable { case same, changed, added, removed }

    let new: [Instruction], old: [Instruction]
    /// new state → old state, and back (state 0, the input, always matches).
    private(set) var forward = [0: 0], backward = [0: 0]
    private var tried = Set<[Int]>()

    /// Marks of the live states of both bodies (dead states are absent: not drawn).
    static func marks(new: [Instruction], old: [Instruction]) -> (new: [Int: Mark], old: [Int: Mark]) {
        var d = BlockDiff(new: new, old: old)
        d.matchFromInputs(unique: true)
        if !new.isEmpty, !old.isEmpty { d.align(new.count, old.count) }
        d.matchFromInputs(unique: false)
        let liveNew = live(new), liveOld = live(old)
        var a = [Int: Mark](), b = [Int: Mark]()
        for s in liveNew { a[s] = d.forward[s].map { d.mark(s, $0) } ?? .added }
        for s in liveOld { b[s] = d.backward[s].map { d.mark($0, s) } ?? .removed }
        return (a, b)
    }

    /// From the input down: an instruction matches an unmatched one of the same op, constant
    /// and dim whose operands are already matched to its own (in either order where the op
    /// commutes). With `unique`, only where neither side has another such instruction: three
    /// `DENSE s1` (queries, keys, values) are told apart by their readers, from the outputs up.
    mutating func matchFromInputs(unique: Bool) {
        for (i, ins) in new.enumerated() where forward[i + 1] == nil {
            let inputs = ins.inputs.map { forward[$0] ?? -1 }
            guard !inputs.contains(-1) else { continue }
            let options = old.indices.filter { j in
                backward[j + 1] == nil && old[j].operatorText == ins.operatorText && same(old[j].inputs, inputs, ins.op.isCommutative)
            }
            guard let j = options.first else { continue }
            if unique {
                let twins = new.indices.filter { k in
                    forward[k + 1] == nil && new[k].operatorText == ins.operatorText
                        && same(new[k].inputs.map { forward[$0] ?? -1 }, inputs, ins.op.isCommutative)
                }
                guard options.count == 1, twins.count == 1 else { continue }
            }
            pair(i + 1, j + 1)
        }
    }

    /// From the outputs up: two instructions in the same place are the same op (matched,
    /// perhaps changed); else one side has an instruction the other lacks (an insert or a
    /// delete: look through it to its input); else the op was replaced in place (matched,
    /// changed, where they read as many operands).
    mutating func align(_ n: Int, _ o: Int) {
        guard n > 0, o > 0, tried.insert([n, o]).inserted, forward[n] == nil, backward[o] == nil else { return }
        let a = new[n - 1], b = old[o - 1]
        if a.op == b.op {
            pair(n, o)
            for (x, y) in zip(a.inputs, ordered(b.inputs, like: a.inputs, commutes: a.op.isCommutative)) { align(x, y) }
            return
        }
        // An insert (an operand of a stands where b stands) or a delete (n stands where an
        // operand of b stood): whichever looks more alike, an operand deeper.
        let insert = a.inputs.map { (state: $0, score: likeness($0, o)) }.max { $0.score < $1.score }
        let delete = b.inputs.map { (state: $0, score: likeness(n, $0)) }.max { $0.score < $1.score }
        if let i = insert, i.score > 0, i.score >= delete?.score ?? 0 {
            align(i.state, o)
        } else if let d = delete, d.score > 0 {
            align(n, d.state)
        } else if a.inputs.count == b.inputs.count {
            pair(n, o)
            for (x, y) in zip(a.inputs, b.inputs) { align(x, y) }
        }
    }

    /// How alike new state x and old state y look, 0 where they cannot match: already each
    /// other's match (10), else the same op (1), its constant and dim too (+1), and each
    /// operand of the same op (+1).
    private func likeness(_ x: Int, _ y: Int) -> Int {
        guard x > 0, y > 0 else { return 0 }
        if forward[x] == y { return 10 }
        let a = new[x - 1], b = old[y - 1]
        guard forward[x] == nil, backward[y] == nil, a.op == b.op else { return 0 }
        let operands = zip(a.inputs, b.inputs).filter { p, q in (p == 0 && q == 0) || (p > 0 && q > 0 && new[p - 1].op == old[q - 1].op) }
        return 1 + (a.operatorText == b.operatorText ? 1 : 0) + operands.count
    }

    /// Old operands in the order that pairs them best with the new ones (a commuting op's may be swapped).
    private func ordered(_ theirs: [Int], like ours: [Int], commutes: Bool) -> [Int] {
        guard commutes, theirs.count == 2 else { return theirs }
        let straight = (forward[ours[0]] == theirs[0] ? 1 : 0) + (forward[ours[1]] == theirs[1] ? 1 : 0)
        let swapped = (forward[ours[0]] == theirs[1] ? 1 : 0) + (forward[ours[1]] == theirs[0] ? 1 : 0)
        return swapped > straight ? [theirs[1], theirs[0]] : theirs
    }

    private mutating func pair(_ n: Int, _ o: Int) { forward[n] = o; backward[o] = n }

    /// Same when the op, constant and dim agree and the operands are each other's matches,
    /// looking through added and removed instructions (a reader of an inserted node is not
    /// itself changed; nor is one that reads, in place of a deleted node, one of its operands).
    private func mark(_ n: Int, _ o: Int) -> Mark {
        guard n > 0, o > 0 else { return .same }
        let a = new[n - 1], b = old[o - 1]
        guard a.operatorText == b.operatorText, a.inputs.count == b.inputs.count else { return .changed }
        func agree(_ x: Int, _ y: Int) -> Bool { !Set(matchedNew(x).compactMap { forward[$0] }).isDisjoint(with: matchedOld(y)) }
        let straight = zip(a.inputs, b.inputs).allSatisfy(agree)
        let swapped = a.op.isCommutative && a.inputs.count == 2 && agree(a.inputs[0], b.inputs[1]) && agree(a.inputs[1], b.inputs[0])
        return straight || swapped ? .same : .changed
    }

    /// The matched states at or above new state s, through added instructions' operands.
    private func matchedNew(_ s: Int) -> [Int] { s == 0 || forward[s] != nil ? [s] : new[s - 1].inputs.flatMap(matchedNew) }
    private func matchedOld(_ s: Int) -> [Int] { s == 0 || backward[s] != nil ? [s] : old[s - 1].inputs.flatMap(matchedOld) }

    private func same(_ x: [Int], _ y: [Int], _ commutes: Bool) -> Bool { commutes ? x.sorted() == y.sorted() : x == y }

    /// States the output depends on (the output included).
    static func live(_ body: [Instruction]) -> [Int] {
        let live = Subprogram(body).liveStates
        return live.indices.filter { live[$0] }
    }
}
