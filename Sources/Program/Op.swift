/// The closed set of operations a program may use: Primer's primitives, written as in the
/// paper's listings, and a sparse feed-forward layer. What each op is — what it reads, its
/// shape rule, its cost, the kernel it lowers to, its class for the mutator — is declared
/// once, in `Op.spec` (OpTable.swift); validation, cost, printing, the canonical form, the
/// mutator and the compiler all read that table.
public enum Op: String, CaseIterable, Codable, Sendable {
    // Two inputs, elementwise (a [B,T,1] input broadcasts over channels).
    case add = "ADD", difference = "DIFFERENCE", multiply = "MULTIPLY", divide = "DIVIDE"
    case max = "MAX", min = "MIN"
    // One input, elementwise.
    case absRoot = "ABS_ROOT", square = "SQUARE", exp = "EXP", log = "LOG", abs = "ABS"
    case recip = "RECIP", sign = "SIGN", cos = "COS", sin = "SIN", tanh = "TANH"
    case sigmoid = "SIGMOID", relu = "RELU", gelu = "GELU", swish = "SWISH"
    /// × and + the instruction's constant (C_ADD gives norms their ε).
    case cMul = "C_MUL", cAdd = "C_ADD"
    /// × and + a learned vector over channels.
    case scale = "SCALE", shift = "SHIFT"
    // Reductions over the channel axis: [B,T,W] → [B,T,1].
    case reduceSum = "REDUCE_SUM", reduceMean = "REDUCE_MEAN", reduceMax = "REDUCE_MAX"
    /// A learned projection to `dim` eighths of d_model (1x1 convolution).
    case dense = "DENSE"
    /// Causal convolutions along time: full (channel mixing) and depthwise.
    case conv3 = "CONV_3", conv7 = "CONV_7", conv15 = "CONV_15", conv31 = "CONV_31"
    case dconv3 = "DCONV_3", dconv7 = "DCONV_7", dconv15 = "DCONV_15", dconv31 = "DCONV_31"
    /// Per head (D = head width): T_MAT_MUL(a, b) = a·bᵀ/√D → scores [B,H,T,T], the scale
    /// built in so a program stays valid at any width; MAT_MUL(p, v) = p·v → [B,T,W].
    case tMatMul = "T_MAT_MUL", matMul = "MAT_MUL"
    /// Causal mask of scores (−inf above the diagonal); softmax over the last axis.
    case mask = "MASK", softmax = "SOFTMAX"
    /// Running sum along time.
    case cumSum = "CUM_SUM"
    /// Runs subprogram `dim` (a higher-numbered one) on the input; its output is the result.
    case call = "CALL"
    /// A sparse feed-forward layer (Liu et al. 2023): `experts` memory blocks of `dim`
    /// eighths of d_model each, `topk` chosen per token by the genes' router (Switch, Hash
    /// or Avg-K); output width = input width.
    case sparseFFN = "SPARSE_FFN"
}

/// Widths are relative: `dim` counts eighths of d_model, from Primer's vocabulary, so a
/// program scales with the model (8 = d_model, 32 = the 4x MLP).
public enum Dims {
    public static let vocabulary = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64]
}
