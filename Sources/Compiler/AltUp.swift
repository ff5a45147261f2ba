import Program
import Tensor

extension Lowering {
    /// Recycled AltUp (Baykal et al. 2023): the embedding replicated into K blocks; per
    /// layer, learned scalars predict every block from all blocks (x̂ⁱ = Σⱼ pᵢⱼ xʲ), the block
    /// runs on block j* alone (x̃), and a learned gain corrects each prediction:
    /// yⁱ = x̂ⁱ + gᵢ·(x̃ − x̂ʲ*). The K blocks are averaged before the final norm. With p = I
    /// and g = 1 at init, every block equals the baseline's stream.
    mutating func altUp(_ x: Tensor<S>, blocks k: Int) -> Tensor<S> {
        let g = graph
        var blocks = Array(repeating: x, count: k)
        for l in 0..<genes.layers {
            prefix = "h\(l)."
            let star = genes.altupMode == .alternating ? l % k : 0
            // Each prediction and correction is one fused weighted sum over the blocks.
            let predicted = (0..<k).map { i in
                g.combine((0..<k).map { j in (blocks[j], parameter(.altupMix(identity: i == j), [1], "altup.p\(i)\(j)"), false) })
            }
            let computed = lower(subprogram: 0, input: blocks[star])
            // yⁱ = x̂ⁱ + gᵢ·x̃ − gᵢ·x̂ʲ*: one pass, no x̃ − x̂ʲ* tensor.
            blocks = (0..<k).map { i in
                let gain = parameter(.altupGain, [1], "altup.g\(i)")
                return g.combine([(predicted[i], nil, false), (computed, gain, false), (predicted[star], gain, true)])
            }
        }
        return g.unary(.mulConstant(1 / Double(k)), blocks.dropFirst().reduce(blocks[0]) { g.add($0, $1) })
    }
}
