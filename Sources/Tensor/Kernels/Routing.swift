// Token routing for mixtures of experts and sparse feed-forward layers. The choices
// (top-k, dispatch) are integers and carry no gradient; the gathers and scatters that
// move token rows do.

// scores: [N, E]  →  choice: [N, k], each row's k largest columns, best first
// (ties: the lower column).
final class TopKKernel<S: Scalar>: Kernel {
    let scores: Tensor<S>, choice: IndexTensor, k: Int
    init(_ scores: Tensor<S>, _ choice: IndexTensor, _ k: Int) { self.scores = scores; self.choice = choice; self.k = k }

    // One pass per row keeping the best k sorted (insertion), their values beside them in
    // a scratch row so that the common case, a score below the k-th, is one comparison.
    @_specialize(where S == Float)
    func forward() {
        let e = scores.channels, k = self.k, rows = scores.rows, values = scores.value, out = choice.value
        withUnsafeTemporaryAllocation(of: S.self, capacity: k) { kept in
            let kept = kept.baseAddress!
            for r in 0..<rows {
                let row = values + r * e, best = out + r * k
                var count = 0
                for j in 0..<e {
                    let v = row[j]
                    if count == k && !(v > kept[k - 1]) { continue }
                    // Insert after every kept column at least as large: ties keep the lower column first.
                    var at = min(count, k - 1)
                    while at > 0 && v > kept[at - 1] { best[at] = best[at - 1]; kept[at] = kept[at - 1]; at -= 1 }
                    best[at] = Int32(j); kept[at] = v
                    count = min(count + 1, k)
                }
            }
        }
    }

    @_specialize(where S == Float)
    func backward() {}
}

// x: [N, E], index: [N, k] columns  →  y: [N, k] = x[r, index[r, i]]
final class TakeKernel<S: Scalar>: Kernel {
    let x: Tensor<S>, index: IndexTensor, y: Tensor<S>
    init(_ x: Tensor<S>, _ index: IndexTensor, _ y: Tensor<S>) { self.x = x; self.index = index; self.y = y }

    @_specialize(where S == Float)
    func forward() {
        let e = x.channels, k = y.channels
        for r in 0..<y.rows { for i in 0..<k { y.value[r * k + i] = x.value[r * e + Int(index[r * k + i])] } }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad(), let dx = x.accumulatingGrad() else { return }
        let e = x.channels, k = y.channels
        for r in 0..<y.rows { for i in 0..<k { dx[r * e + Int(index[r * k + i])] += dy[r * k + i] } }
    }
}

// choice: [N, k] expert ids  →  slots: [E, capacity] token rows (−1 = empty) and
// slotChoice: [E, capacity] the flat index r·k + i of the choice that filled each slot.
// Tokens claim slots in time order — every sequence's position 0, then position 1, … (rows
// r = b·T + t) — and a token past an expert's capacity is dropped there. So a token can be
// crowded out only by tokens at the same or earlier positions: routing stays causal.
final class DispatchKernel: Kernel {
    let choice: IndexTensor, slots: IndexTensor, slotChoice: IndexTensor
    let experts: Int, capacity: Int, context: Int
    let stats: RoutingStats
    init(_ choice: IndexTensor, _ slots: IndexTensor, _ slotChoice: IndexTensor, experts: Int, capacity: Int,
         context: Int, stats: RoutingStats) {
        self.choice = choice; self.slots = slots; self.slotChoice = slotChoice
        self.experts = experts; self.capacity = capacity; self.context = context; self.stats = stats
    }

    func forward() {
        var fill = Array(repeating: 0, count: experts)
        defer {
            // Histogram of every forward pass since the last reset: tokens each expert was
            // chosen by (dropped ones included), and those dropped for want of capacity.
            for flat in 0..<choice.count { stats.chosen[Int(choice[flat])] += 1 }
            stats.dropped += choice.count - fill.reduce(0, +)
            stats.passes += 1
        }
        for i in 0..<slots.count { slots[i] = -1; slotChoice[i] = -1 }
        let k = choice.shape.last!, n = choice.count / k, t = context, sequences = n / t
        for position in 0..<t {
            for b in 0..<sequences {
                let row = b * t + position
                for i in 0..<k {
                    let flat = row * k + i, e = Int(choice[flat])
                    guard e >= 0 && e < experts, fill[e] < capacity else { continue }
                    slots[e * capacity + fill[e]] = Int32(row)
                    slotChoice[e * capacity + fill[e]] = Int32(flat)
                    fill[e] += 1
                }
            }
        }
    }

    func backward() {}
}

/// What a gather writes in the rows of index −1, and a scatter's backward in their
/// gradient: zeros, or nothing, where only slot-aware kernels (which skip those rows)
/// read them: an expert's empty capacity then costs no memory traffic either.
public enum UnusedRows: Sendable { case zero, unwritten }

// x: [N, C], rows: [M] (−1 = a zero or unwritten row)  →  y: [M, C] = x[rows[m]]
final class GatherRowsKernel<S: Scalar>: Kernel {
    let x: Tensor<S>, rows: IndexTensor, y: Tensor<S>, unused: UnusedRows
    init(_ x: Tensor<S>, _ rows: IndexTensor, _ y: Tensor<S>, unused: UnusedRows) {
        self.x = x; self.rows = rows; self.y = y; self.unused = unused
    }

    func work(backward: Bool) -> Work { .moving(y.count * (backward ? 3 : 2), S.self) }

    @_specialize(where S == Float)
    func forward() {
        let c = x.channels
        for m in 0..<rows.count {
            let r = Int(rows[m]), out = y.value + m * c
            if r >= 0 { out.update(from: x.value + r * c, count: c) } else if unused == .zero { out.update(repeating: 0, count: c) }
        }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad(), let dx = x.accumulatingGrad() else { return }
        let c = x.channels
        for m in 0..<rows.count where rows[m] >= 0 { addInPlace(dx + Int(rows[m]) * c, dy + m * c, c) }
    }
}

// y: [M, C], rows: [M] (−1 = skip)  →  out: [N, C] with out[rows[m]] += y[m], or with
// gates g: [K] and gateIndex: [M], out[rows[m]] += g[gateIndex[m]] · y[m] (a router's
// probability scaling its expert's output, in the same pass: no scaled copy of y).
final class ScatterRowsKernel<S: Scalar>: Kernel {
    let y: Tensor<S>, rows: IndexTensor, out: Tensor<S>
    let gates: Tensor<S>?, gateIndex: IndexTensor?, unused: UnusedRows
    init(_ y: Tensor<S>, _ rows: IndexTensor, _ out: Tensor<S>, gates: Tensor<S>?, gateIndex: IndexTensor?, unused: UnusedRows) {
        self.y = y; self.rows = rows; self.out = out; self.gates = gates; self.gateIndex = gateIndex; self.unused = unused
    }

    func work(backward: Bool) -> Work { .moving(y.count * (backward ? (gates == nil ? 2 : 3) : 3), S.self) }

    @inline(__always)
    func gate(_ m: Int) -> S { gates.map { $0.value[Int(gateIndex![m])] } ?? 1 }

    @_specialize(where S == Float)
    func forward() {
        let c = out.channels
        out.value.update(repeating: 0, count: out.count)
        for m in 0..<rows.count where rows[m] >= 0 {
            let o = out.value + Int(rows[m]) * c, src = y.value + m * c, g = gate(m)
            if gates == nil { addInPlace(o, src, c) } else { for j in 0..<c { o[j] += g * src[j] } }
        }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dout = out.incomingGrad() else { return }
        let c = out.channels
        // dgate[gateIndex[m]] += y[m] · dout[rows[m]]
        if let gates, let gateIndex, let dg = gates.accumulatingGrad() {
            for m in 0..<rows.count where rows[m] >= 0 {
                dg[Int(gateIndex[m])] += vectorDot(y.value + m * c, dout + Int(rows[m]) * c, c)
            }
        }
        guard let (dy, acc) = y.gradTarget() else { return }
        for m in 0..<rows.count {
            let r = Int(rows[m]), d = dy + m * c
            if r < 0 { if !acc && unused == .zero { d.update(repeating: 0, count: c) }; continue }
            let src = dout + r * c, g = gate(m)   // an empty slot has no gate (its index is −1)
            switch (gates == nil, acc) {
            case (true, true): addInPlace(d, src, c)
            case (true, false): d.update(from: src, count: c)
            case (false, true): for j in 0..<c { d[j] += g * src[j] }
            case (false, false): for j in 0..<c { d[j] = g * src[j] }
            }
        }
    }
}

extension Graph {
    /// The k best columns of each row of scores [N, E] → [N, k].
    public func topK(_ scores: Tensor<S>, _ k: Int) -> IndexTensor {
        check(k >= 1 && k <= scores.channels, "topK: k = \(k) of \(scores.channels) columns")
        let choice = IndexTensor(shape: Array(scores.shape.dropLast()) + [k], name: "topk")
        append(TopKKernel(scores, choice, k))
        return choice
    }

    /// x [N, E] at the columns index [N, k] names → [N, k].
    public func take(_ x: Tensor<S>, _ index: IndexTensor) -> Tensor<S> {
        check(index.shape.dropLast() == x.shape.dropLast(), "take: index \(index.shape) for \(x.shape)")
        let y = activation(index.shape, "take", from: [x])
        append(TakeKernel(x, index, y))
        return y
    }

    /// Assigns each choice [N, k] a slot of its expert, `capacity` slots each →
    /// (slots [E, capacity] of token rows, slotChoice [E, capacity] of flat choice indices).
    /// Rows are N = sequences · context, in time order within each sequence.
    public func dispatch(_ choice: IndexTensor, experts: Int, capacity: Int, context: Int = 1,
                         stats: RoutingStats? = nil) -> (slots: IndexTensor, slotChoice: IndexTensor) {
        check((choice.count / choice.shape.last!) % context == 0, "dispatch: \(choice.shape) rows are not whole sequences of \(context)")
        let slots = IndexTensor(shape: [experts, capacity], name: "slots")
        let slotChoice = IndexTensor(shape: [experts, capacity], name: "slot_choice")
        append(DispatchKernel(choice, slots, slotChoice, experts: experts, capacity: capacity,
                              context: context, stats: stats ?? RoutingStats(experts: experts)))
        return (slots, slotChoice)
    }

    /// The fraction of choices [N, k] that went to each expert → [E, 1] (no gradient):
    /// the f of Switch's load-balancing loss.
    public func routingFractions(_ choice: IndexTensor, experts: Int) -> Tensor<S> {
        let f = make([experts, 1], role: .activation, name: "fractions", requiresGrad: false)
        append(FractionsKernel(choice, f))
        return f
    }

    /// Routes token ids [N] through fixed tables: choice[r, i] = tables[i][ids[r]] → [N, k].
    public func hashRoute(_ ids: IndexTensor, tables: [[Int32]]) -> IndexTensor {
        let choice = IndexTensor(shape: [ids.count, tables.count], name: "hash_choice")
        append(HashRouteKernel(ids, tables, choice))
        return choice
    }

    /// Rows of x [N, C] → [M, C] (row −1 gives zeros, or is left unwritten).
    public func gatherRows(_ x: Tensor<S>, _ rows: IndexTensor, unused: UnusedRows = .zero) -> Tensor<S> {
        let y = activation([rows.count, x.channels], "gather", from: [x])
        append(GatherRowsKernel(x, rows, y, unused: unused))
        return y
    }

    /// Adds the rows of y [M, C] into a zero [N, C] at rows (−1 skipped); with `gates`,
    /// each row m first scaled by gates.values[gates.index[m]] (any shape, read flat).
    /// `unused` says what y's gradient holds in the skipped rows.
    public func scatterRows(_ y: Tensor<S>, _ rows: IndexTensor, into n: Int,
                            gates: (values: Tensor<S>, index: IndexTensor)? = nil, unused: UnusedRows = .zero) -> Tensor<S> {
        check(y.rows == rows.count, "scatterRows: \(y.rows) rows for \(rows.count) indices")
        if let gates { check(gates.index.count == rows.count, "scatterRows: \(gates.index.count) gate indices for \(rows.count) rows") }
        let out = activation([n, y.channels], "scatter", from: [y] + (gates.map { [$0.values] } ?? []))
        append(ScatterRowsKernel(y, rows, out, gates: gates?.values, gateIndex: gates?.index, unused: unused))
        return out
    }
}

extension IndexTensor {
    /// How many leading entries of row i (of a [G, M] slots tensor) are ≥ 0: the slots a
    /// dispatch filled, which it fills from the front.
    @inline(__always)
    func usedPrefix(_ i: Int) -> Int {
        let m = shape.last!, row = value + i * m
        var used = 0
        while used < m && row[used] >= 0 { used += 1 }
        return used
    }
}

/// Per-expert token counts of a routing layer, accumulated over forward passes.
public final class RoutingStats {
    public var chosen: [Int]
    public var dropped = 0
    public var passes = 0
    public init(experts: Int) { chosen = Array(repeating: 0, count: experts) }
    public func reset() { chosen = Array(repeating: 0, count: chosen.count); dropped = 0; passes = 0 }
}

// choice: [N, k]  →  f: [E, 1], f[e] = (choices of e) / (N·k)
final class FractionsKernel<S: Scalar>: Kernel {
    let choice: IndexTensor, f: Tensor<S>
    init(_ choice: IndexTensor, _ f: Tensor<S>) { self.choice = choice; self.f = f }

    func forward() {
        zero(f.value, f.count)
        for i in 0..<choice.count { f.value[Int(choice[i])] += 1 }
        for e in 0..<f.count { f.value[e] /= S(choice.count) }
    }

    func backward() {}
}

// ids: [N]  →  choice: [N, k] from k fixed tables over the vocabulary.
final class HashRouteKernel: Kernel {
    let ids: IndexTensor, tables: [[Int32]], choice: IndexTensor
    init(_ ids: IndexTensor, _ tables: [[Int32]], _ choice: IndexTensor) { self.ids = ids; self.tables = tables; self.choice = choice }

    func forward() {
        let k = tables.count
        for r in 0..<ids.count { for i in 0..<k { choice[r * k + i] = tables[i][Int(ids[r])] } }
    }

    func backward() {}
}

extension Graph {
    /// The same integers under another shape of equal size (no copy).
    public func reshapeIndices(_ x: IndexTensor, _ shape: [Int]) -> IndexTensor {
        check(shape.reduce(1, *) == x.count, "reshapeIndices: \(x.shape) → \(shape) changes the size")
        return IndexTensor(viewing: x, shape: shape)
    }
}
