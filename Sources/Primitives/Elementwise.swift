// The names of the engine's elementwise functions and reductions: declared here, below both
// the engine (which implements them, forward and backward) and the program IR (whose op
// table says which one an op lowers to), so neither has to translate the other's names.

/// Elementwise functions of one tensor (Tensor/Kernels/Unary.swift holds each one's value
/// and derivative).
public enum UnaryOp: Hashable, Sendable {
    case negate
    case abs
    case square
    case sqrt
    /// sqrt(|x|): Primer's ABS_ROOT, defined everywhere.
    case absRoot
    case exp
    /// log(|x|): Primer's LOG, defined everywhere but 0.
    case logAbs
    case sin
    case cos
    case sign
    case reciprocal
    case relu
    /// max(x, 0)²: Primer's squared ReLU.
    case squaredRelu
    /// x·Φ(x), exact (erf), as PyTorch's default.
    case gelu
    /// x·σ(x).
    case swish
    case sigmoid
    case tanh
    /// x · c (Primer's C_MUL) and x + c, for a fixed constant c.
    case mulConstant(Double), addConstant(Double)
}

/// Elementwise functions of two tensors, with broadcasting.
public enum BinaryOp: String, Hashable, Sendable {
    case add, subtract, multiply, divide, max, min
}

/// Reductions over the channel (last) axis, keeping it as size 1 so the result
/// broadcasts back against its input.
public enum ReduceOp: String, Sendable {
    case sum, mean, max
}
