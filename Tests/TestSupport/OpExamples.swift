import Program

/// A small use of every op (the op table's tests lower, cost and gradient-check each; the
/// PyTorch parity test exports each and compares its loss with the engine's).
public enum OpExamples {
    /// A small use of each op, as the lines of subprogram 0 on s0 = [B, T, C] (C = 8).
    public static let lines: [Op: [String]] = [
        .add: ["SIN s0", "ADD s0 s1"],
        .difference: ["SIN s0", "DIFFERENCE s0 s1"],
        .multiply: ["REDUCE_MEAN s0", "MULTIPLY s0 s1"],        // [B,T,1] broadcasts
        .divide: ["EXP s0", "DIVIDE s0 s1"],
        .max: ["C_MUL s0 c=0.5", "MAX s0 s1"],
        .min: ["C_MUL s0 c=0.5", "MIN s0 s1"],
        .absRoot: ["ABS_ROOT s0"], .square: ["SQUARE s0"], .exp: ["EXP s0"], .log: ["LOG s0"], .abs: ["ABS s0"],
        .recip: ["RECIP s0"], .sign: ["SIGN s0"], .cos: ["COS s0"], .sin: ["SIN s0"], .tanh: ["TANH s0"],
        .sigmoid: ["SIGMOID s0"], .relu: ["RELU s0"], .gelu: ["GELU s0"], .swish: ["SWISH s0"],
        .cMul: ["C_MUL s0 c=-1.7"], .cAdd: ["C_ADD s0 c=0.3"],
        .scale: ["SCALE s0"], .shift: ["SHIFT s0"],
        .reduceSum: ["REDUCE_SUM s0"], .reduceMean: ["REDUCE_MEAN s0"], .reduceMax: ["REDUCE_MAX s0"],
        .dense: ["DENSE s0 dim=4"],
        .conv3: ["CONV_3 s0 dim=4"], .conv7: ["CONV_7 s0 dim=4"], .conv15: ["CONV_15 s0 dim=4"], .conv31: ["CONV_31 s0 dim=4"],
        .dconv3: ["DCONV_3 s0"], .dconv7: ["DCONV_7 s0"], .dconv15: ["DCONV_15 s0"], .dconv31: ["DCONV_31 s0"],
        .tMatMul: ["SIN s0", "T_MAT_MUL s0 s1"],
        .matMul: ["SIN s0", "T_MAT_MUL s0 s1", "SOFTMAX s2", "MAT_MUL s3 s0"],                // per head
        .mask: ["DENSE s0 dim=8", "T_MAT_MUL s0 s1", "MASK s2", "SOFTMAX s3", "MAT_MUL s4 s0"], // fused attention
        .softmax: ["SOFTMAX s0"],
        .cumSum: ["CUM_SUM s0"],
        .call: ["CALL s0 sub=1"],
        .sparseFFN: ["SPARSE_FFN s0 dim=4"],
    ]

    /// The example's program: small genes, a Switch router for SPARSE_FFN, and a callee for CALL.
    public static func program(_ op: Op, closing: [String] = []) throws -> Program {
        let lines = (lines[op]! + closing).enumerated().map { "  s\($0.offset + 1) = \($0.element)" }.joined(separator: "\n")
        return try Program(text: """
            program \(op.rawValue)
            genes layers=1 d_model=8 heads=2 context=5 router=switch experts=3 topk=1 capacity=3
            subprogram 0
            \(lines)
            subprogram 1
              s1 = TANH s0
              s2 = MULTIPLY s0 s1
            """)
    }

    /// The example as a whole model's block: where it ends off the residual stream's shape
    /// [B, T, C], closing instructions bring it back (a DENSE to C channels, a product with
    /// the input for [B, T, 1], the attention product for scores).
    public static func block(_ op: Op) throws -> Program {
        var closing = [String]()
        for _ in 0..<3 {
            let shapes = try program(op, closing: closing).shapes(subprogram: 0, input: .residual)
            let last = "s\(shapes.count - 1)"
            switch shapes.last! {
            case .residual: return try program(op, closing: closing)
            case .hidden: closing.append("DENSE \(last) dim=8")
            case .perPosition: closing.append("MULTIPLY s0 \(last)")
            case .scores: closing.append("MAT_MUL \(last) s0")
            }
        }
        return try program(op, closing: closing)
    }

    /// The example of SPARSE_FFN with each router, and with MPO experts: every row of the
    /// router table through both back ends.
    public static func routed() throws -> [Program] {
        var out = [Program]()
        for router in Router.allCases {
            var p = try block(.sparseFFN)
            p.name = "SPARSE_FFN-\(router.rawValue)"
            p.genes.router = router
            out.append(p)
        }
        var mpo = try block(.sparseFFN)
        mpo.name = "SPARSE_FFN-mpo"
        mpo.genes.mpo = 3
        out.append(mpo)
        return out
    }
}
