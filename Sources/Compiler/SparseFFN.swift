import Foundation
import Program
import Tensor

extension Lowering {
    /// A sparse feed-forward layer over x [B, T, C]: `experts` blocks of g memory cells
    /// (keys W_in [E, C, g], values W_out [E, g, C]); each token uses `topk` blocks, chosen
    /// by the router; every block runs as one GEMM over the tokens dispatched to it (up to its
    /// capacity; the rest are dropped, leaving the residual path), never over empty slots.
    ///
    ///   switch: p = softmax(x W_r), the top-k of p, each block's output × its p; adds the
    ///           load-balancing loss 0.01·E·Σᵢ fᵢ·Pᵢ to the objective
    ///   hash:   a fixed random table from token id to block; no gate, no extra loss
    ///   avgk:   scores x·k̄ₑ with k̄ₑ the mean of block e's keys (recomputed from the live
    ///           weights each step); the top-k blocks, no gate, no extra loss. No gradient
    ///           flows through the choice, so keys learn through the FFN path only.
    mutating func sparseFFN(_ x: Tensor<S>, block g: Int, _ name: String, residual: Bool) -> Tensor<S> {
        let graph = self.graph, e = genes.experts, k = genes.topk
        let n = x.rows, c = x.channels
        let x2 = graph.reshape(x, [n, c])                                         // [N, C]
        // Expert matrices contracted from MPO cores are computed from parameters alone:
        // in the prologue, once per step for all replicas.
        let keys = ParameterKind.expertKeys, values = ParameterKind.expertValues(residual: residual)
        let wIn = genes.mpo > 0 ? graph.parameterDerived { mpoExperts(c, g, name, keys) }
                                : parameter(keys, [e, c, g], name)                     // [E, C, g]
        let wOut = genes.mpo > 0 ? graph.parameterDerived { mpoExperts(g, c, name, values) }
                                 : parameter(values, [e, g, c], name)                  // [E, g, C]
        var choice: IndexTensor, gates: Tensor<S>?
        switch genes.router {
        case .switch:
            let wr = parameter(.router(inputs: c), [c, e], name)
            let probs = graph.softmax(graph.matmul(x2, wr))                      // [N, E]
            choice = graph.topK(probs, k)
            gates = graph.take(probs, choice)                                     // [N, k]
            // Load balancing: f (fractions routed, no gradient) · P (mean probabilities).
            let f = graph.routingFractions(choice, experts: e)                    // [E, 1]
            let meanP = graph.reduce(.mean, graph.transpose(probs, 0, 1))         // [E, 1]
            auxLosses.append(graph.unary(.mulConstant(0.01 * Double(e)), graph.sumAll(graph.multiply(f, meanP))))
        case .hash:
            var base = [Int32]()
            for _ in 0..<vocabulary { base.append(Int32(rng.below(e))) }
            let tables = (0..<k).map { i in base.map { ($0 + Int32(i)) % Int32(e) } }   // k distinct blocks
            buffers.append((prefix + name + ".table", [vocabulary], base.map { Float($0) }))
            choice = graph.hashRoute(graph.reshapeIndices(tokens, [n]), tables: tables)
            gates = nil
        case .avgk:
            let meanKeys = graph.parameterDerived { graph.reshape(graph.reduce(.mean, wIn), [e, c]) }   // [E, C]
            choice = graph.topK(graph.matmul(x2, meanKeys, transposeW: true), k)  // from [N, E]
            gates = nil
        }
        let capacity = Int((genes.capacity * Double(n * k) / Double(e)).rounded(.up))
        let stats = RoutingStats(experts: e)
        routing.append((prefix + name, stats))
        let (slots, slotChoice) = graph.dispatch(choice, experts: e, capacity: capacity, context: genes.context, stats: stats)
        let xin = graph.reshape(graph.gatherRows(x2, slots, unused: .unwritten), [e, capacity, c])   // [E, cap, C]
        // Grouped GEMMs over the filled slots only: empty capacity costs nothing, and every
        // kernel between the gather and the scatter is slot-aware, so nothing writes it.
        let h = graph.unary(.gelu, graph.batchedMatmul(xin, wIn, slots: slots), slots: slots)  // [E, cap, g]
        let y = graph.reshape(graph.batchedMatmul(h, wOut, slots: slots), [e * capacity, c])   // [E·cap, C]
        // Each filled slot's output, times its gate where the router has one, back to its token.
        let scaled = gates.map { (values: $0, index: graph.reshapeIndices(slotChoice, [e * capacity])) }
        return graph.reshape(graph.scatterRows(y, slots, into: n, gates: scaled, unused: .unwritten), x.shape)
    }
}

extension Lowering {
    /// E expert matrices [rows × cols] as MPOs sharing their central core (Gao et al. 2022):
    /// a random N(0, std) matrix is decomposed exactly, every expert starts from its cores,
    /// and each step every expert's matrix is contracted back from the live cores → [E, rows, cols].
    mutating func mpoExperts(_ rows: Int, _ cols: Int, _ layer: String, _ kind: ParameterKind) -> Tensor<S> {
        let graph = self.graph, e = genes.experts, n = genes.mpo
        let shapes = mpoCoreShapes(rows: rows, cols: cols, cores: n)
        let rf = shapes.map { $0[1] }, cf = shapes.map { $0[2] }
        guard case .normal(let rule) = kind.initialisation else { fatalError("MPO experts start from a normal matrix") }
        let std = rule.value(initStd: initStd, layers: genes.layers), name = layer + "." + kind.suffix
        let w = (0..<(rows * cols)).map { _ in rng.normal() * std }
        let mpo = MPO(w, rowFactors: rf, colFactors: cf)
        guard mpo.bonds == [1] + shapes.map({ $0[3] }) else { fatalError("MPO bonds \(mpo.bonds) differ from the planned \(shapes)") }
        let centralIndex = n / 2
        func core(_ k: Int, _ label: String) -> Tensor<S> {
            let t = graph.parameter(shapes[k], name: prefix + name + label, decays: true)
            t.set(mpo.cores[k].map { S($0) })
            return t
        }
        let central = core(centralIndex, ".central")
        central.maskProbability = genes.mpoMask
        let source = MPO.interleaving(rf, cf)      // interleaved position of each W element
        var inverse = [Int](repeating: 0, count: rows * cols)
        for (d, s) in source.enumerated() { inverse[s] = d }
        let contracted: [Tensor<S>] = (0..<e).map { x in
            let cores = (0..<n).map { $0 == centralIndex ? central : core($0, ".e\(x).core\($0)") }
            // Contract left to right: [(i1 j1 … ik jk), r_k] · [r_k, (i_{k+1} j_{k+1} r_{k+1})].
            var acc = graph.reshape(cores[0], [shapes[0][1] * shapes[0][2], shapes[0][3]])
            for k in 1..<n {
                let s = shapes[k]
                let next = graph.matmul(acc, graph.reshape(cores[k], [s[0], s[1] * s[2] * s[3]]))
                acc = graph.reshape(next, [next.count / s[3], s[3]])
            }
            return acc
        }
        return graph.stackPermuted(contracted, source: inverse, shape: [rows, cols])   // [E, rows, cols], W row-major
    }
}
