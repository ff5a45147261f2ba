import Primitives

/// The baseline transformer a config's `model:` section describes (nanoGPT's GPT: pre-norm
/// attention and MLP blocks with residual connections), written as a program, so that the
/// baseline and every searched program go through one compiler. At the defaults it is the
/// vanilla seed (search-spaces/seeds/vanilla.program), hash for hash.
public struct Baseline: Sendable, Equatable {
    /// layers, d_model, heads and context; the other genes stay off.
    public var genes = Genes()
    /// MLP width = mlpRatio · d_model.
    public var mlpRatio = 4
    public var activation = Activation.gelu
    public var norm = Norm.layer

    public enum Activation: String, Sendable, NamedCases {
        case gelu, relu, squaredRelu = "squared_relu", swish
    }

    public enum Norm: String, Sendable, NamedCases {
        case layer, rms
    }

    public init() {}

    /// The program; `validate()` it for the shape checks (mlp_ratio must give a width in
    /// `Dims.vocabulary`: 1, 2, 3, 4, 6 or 8).
    public var program: Program {
        var block: [Instruction] = [
            Instruction(.call, 0, dim: 1),                        // s1 norm
            Instruction(.dense, 1, dim: 8), Instruction(.dense, 1, dim: 8), Instruction(.dense, 1, dim: 8),  // q k v
            Instruction(.tMatMul, 2, 3), Instruction(.mask, 5), Instruction(.softmax, 6), Instruction(.matMul, 7, 4),
            Instruction(.dense, 8, dim: 8),                       // s9 output projection
            Instruction(.add, 0, 9),                              // s10 residual
            Instruction(.call, 10, dim: 1),                       // s11 norm
            Instruction(.dense, 11, dim: 8 * mlpRatio),           // s12 MLP up
        ]
        let ops: [Op] = switch activation {
            case .gelu: [.gelu]
            case .relu: [.relu]
            case .squaredRelu: [.relu, .square]
            case .swish: [.swish]
        }
        for op in ops { block.append(Instruction(op, block.count)) }
        block.append(Instruction(.dense, block.count, dim: 8))   // MLP down
        block.append(Instruction(.add, 10, block.count))          // residual
        var g = Genes()
        (g.layers, g.dModel, g.heads, g.context) = (genes.layers, genes.dModel, genes.heads, genes.context)
        return Program(name: "baseline", genes: g, subprograms: [Subprogram(block), Subprogram(normBody)])
    }

    /// Layer norm without bias, or RMS norm, ε = 1e-5, as primitives (the compiler fuses both).
    private var normBody: [Instruction] {
        switch norm {
        case .layer:
            return [Instruction(.reduceMean, 0), Instruction(.difference, 0, 1), Instruction(.square, 2),
                    Instruction(.reduceMean, 3), Instruction(.cAdd, 4, constant: 1e-5), Instruction(.absRoot, 5),
                    Instruction(.recip, 6), Instruction(.multiply, 2, 7), Instruction(.scale, 8)]
        case .rms:
            return [Instruction(.square, 0), Instruction(.reduceMean, 1), Instruction(.cAdd, 2, constant: 1e-5),
                    Instruction(.absRoot, 3), Instruction(.recip, 4), Instruction(.multiply, 0, 5), Instruction(.scale, 6)]
        }
    }
}
