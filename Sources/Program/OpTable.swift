import Primitives

/// Everything evolve knows about one op, declared once (the table is `Op.spec` below).
/// Validation reads `operand` and `shape`, the cost model `cost`, the printer and parser
/// `arity` and `operand`, the canonical form `commutative`, the mutator `family` (with the
/// shape rule, to know what fits a slot), and the compiler `kernel`. Adding an op is one
/// line here; a new kind of rule or kernel is one case in the file that reads it.
public struct OpSpec: Sendable, Equatable {
    /// How many states it reads (1 or 2).
    public var arity = 1
    /// What the instruction carries besides its inputs.
    public var operand = Operand.none
    /// a op b == b op a: the canonical form sorts such inputs.
    public var commutative = false
    public var shape: ShapeRule
    public var cost: CostRule
    public var kernel: KernelKind
    public var family: Family
}

/// The instruction field an op reads besides its inputs.
public enum Operand: Sendable, Equatable {
    case none
    /// `c=`: a real constant (C_MUL, C_ADD).
    case constant
    /// `dim=`: an output or block width in eighths of d_model, from `Dims.vocabulary`.
    case width
    /// `sub=`: a higher-numbered subprogram (CALL).
    case subprogram
}

/// The states an op takes as its (first) input.
public enum Accepts: Sendable, Equatable, CustomStringConvertible {
    /// Any state.
    case any
    /// A per-position state [B,T,·]: hidden or a channel reduction, not scores.
    case sequence
    /// Hidden channels [B,T,w] (not [B,T,1], not scores).
    case hidden
    /// Per-head scores [B,H,T,T].
    case scores

    public func admits(_ s: StateShape) -> Bool {
        switch (self, s) {
        case (.any, _), (.sequence, .hidden), (.sequence, .perPosition), (.hidden, .hidden), (.scores, .scores): return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .any: return "any state"
        case .sequence: return "[B,T,·]"
        case .hidden: return "channels [B,T,w]"
        case .scores: return "scores [B,H,T,T]"
        }
    }
}

/// How an op's output shape follows from its inputs (Program+Validation.swift applies it).
public enum ShapeRule: Sendable, Equatable {
    /// Output = input, which must be of the class.
    case same(Accepts)
    /// Output [B,T,dim], from an input of the class.
    case toWidth(Accepts)
    /// Channels [B,T,w] → [B,T,1].
    case reduce
    /// Two states elementwise; [B,T,1] broadcasts against [B,T,w].
    case broadcast
    /// Two equal states that split into heads → scores [B,H,T,T].
    case scores
    /// Scores and a state that splits into heads → that state's shape.
    case attend
    /// The called subprogram's output on this input.
    case callee
}

/// Parameters and forward FLOPs per token (Program+Cost.swift applies it).
public enum CostRule: Sendable, Equatable {
    /// One FLOP per output value, no parameters.
    case elementwise
    /// One FLOP per input value.
    case reduction
    /// A learned vector over channels: w parameters, w FLOPs.
    case learnedVector
    /// A learned map mixing channels over `taps` positions: taps·in·out weights, 2 FLOPs each.
    case projection(taps: Int)
    /// A learned per-channel filter over `taps` positions: taps·w weights, 2 FLOPs each.
    case depthwise(taps: Int)
    /// Per-head products with every position: 2·T FLOPs per input (scores) or output (attend) value.
    case scores, attend
    /// What the callee costs.
    case callee
    /// E blocks of keys and values, top-k of them run per token, plus the router.
    case sparseFFN
}

/// The engine kernel an op lowers to (Compiler/Lowering.swift has one case per kind).
public enum KernelKind: Sendable, Equatable {
    case unary(UnaryOp)
    case binary(BinaryOp)
    case reduce(ReduceOp)
    /// x·c and x + c with the instruction's constant.
    case mulConstant, addConstant
    case softmax, causalMask, cumSum
    /// × and + a learned vector over channels.
    case learnedScale, learnedShift
    case dense
    case conv(taps: Int)
    case depthwiseConv(taps: Int)
    /// Per-head q·kᵀ/√D, and scores · v.
    case scores, attend
    /// Lowers the callee in place (or a fused norm, when the callee is one).
    case call
    case sparseFFN
}

/// An op's class for the mutator: an op change stays within the family (and among ops
/// whose shape rule admits the slot's inputs); an insert draws from the families that
/// keep a state's shape.
public enum Family: String, Sendable, Equatable, CaseIterable {
    /// One state in, its shape out (math, constants, learned scale and shift, softmax, CUM_SUM).
    case unary
    /// Two states combined elementwise.
    case binary
    /// Channels reduced to one value per position.
    case reduction
    /// Learned channel maps with a width: DENSE and CONV_k.
    case projection
    /// Learned depthwise convolutions along time: DCONV_k.
    case depthwise
    /// Attention's parts, CALL and SPARSE_FFN: fixed structure, never drawn by an op change.
    case structural
}

extension OpSpec {
    static func unary(_ f: UnaryOp) -> OpSpec {
        OpSpec(shape: .same(.any), cost: .elementwise, kernel: .unary(f), family: .unary)
    }

    static func binary(_ f: BinaryOp, commutative: Bool = false) -> OpSpec {
        OpSpec(arity: 2, commutative: commutative, shape: .broadcast, cost: .elementwise, kernel: .binary(f), family: .binary)
    }

    static func reduce(_ r: ReduceOp) -> OpSpec {
        OpSpec(shape: .reduce, cost: .reduction, kernel: .reduce(r), family: .reduction)
    }

    static func conv(_ taps: Int) -> OpSpec {
        OpSpec(operand: .width, shape: .toWidth(.hidden), cost: .projection(taps: taps), kernel: .conv(taps: taps),
               family: .projection)
    }

    static func dconv(_ taps: Int) -> OpSpec {
        OpSpec(shape: .same(.hidden), cost: .depthwise(taps: taps), kernel: .depthwiseConv(taps: taps), family: .depthwise)
    }
}

extension Op {
    /// The op table: one declaration per op.
    public var spec: OpSpec {
        switch self {
        case .add: return .binary(.add, commutative: true)
        case .difference: return .binary(.subtract)
        case .multiply: return .binary(.multiply, commutative: true)
        case .divide: return .binary(.divide)
        case .max: return .binary(.max, commutative: true)
        case .min: return .binary(.min, commutative: true)
        case .absRoot: return .unary(.absRoot)
        case .square: return .unary(.square)
        case .exp: return .unary(.exp)
        case .log: return .unary(.logAbs)
        case .abs: return .unary(.abs)
        case .recip: return .unary(.reciprocal)
        case .sign: return .unary(.sign)
        case .cos: return .unary(.cos)
        case .sin: return .unary(.sin)
        case .tanh: return .unary(.tanh)
        case .sigmoid: return .unary(.sigmoid)
        case .relu: return .unary(.relu)
        case .gelu: return .unary(.gelu)
        case .swish: return .unary(.swish)
        case .cMul: return OpSpec(operand: .constant, shape: .same(.any), cost: .elementwise, kernel: .mulConstant, family: .unary)
        case .cAdd: return OpSpec(operand: .constant, shape: .same(.any), cost: .elementwise, kernel: .addConstant, family: .unary)
        case .scale: return OpSpec(shape: .same(.sequence), cost: .learnedVector, kernel: .learnedScale, family: .unary)
        case .shift: return OpSpec(shape: .same(.sequence), cost: .learnedVector, kernel: .learnedShift, family: .unary)
        case .reduceSum: return .reduce(.sum)
        case .reduceMean: return .reduce(.mean)
        case .reduceMax: return .reduce(.max)
        case .dense:
            return OpSpec(operand: .width, shape: .toWidth(.sequence), cost: .projection(taps: 1), kernel: .dense, family: .projection)
        case .conv3: return .conv(3)
        case .conv7: return .conv(7)
        case .conv15: return .conv(15)
        case .conv31: return .conv(31)
        case .dconv3: return .dconv(3)
        case .dconv7: return .dconv(7)
        case .dconv15: return .dconv(15)
        case .dconv31: return .dconv(31)
        case .tMatMul: return OpSpec(arity: 2, shape: .scores, cost: .scores, kernel: .scores, family: .structural)
        case .matMul: return OpSpec(arity: 2, shape: .attend, cost: .attend, kernel: .attend, family: .structural)
        case .mask: return OpSpec(shape: .same(.scores), cost: .elementwise, kernel: .causalMask, family: .structural)
        case .softmax: return OpSpec(shape: .same(.any), cost: .elementwise, kernel: .softmax, family: .unary)
        case .cumSum: return OpSpec(shape: .same(.sequence), cost: .elementwise, kernel: .cumSum, family: .unary)
        case .call: return OpSpec(operand: .subprogram, shape: .callee, cost: .callee, kernel: .call, family: .structural)
        case .sparseFFN:
            return OpSpec(operand: .width, shape: .same(.hidden), cost: .sparseFFN, kernel: .sparseFFN, family: .structural)
        }
    }

    public var arity: Int { spec.arity }
    public var usesConstant: Bool { spec.operand == .constant }
    /// Whether `dim` is read: a width in eighths of d_model, or for CALL the subprogram.
    public var usesDim: Bool { spec.operand == .width || spec.operand == .subprogram }
    public var isCommutative: Bool { spec.commutative }
    public var family: Family { spec.family }
}
