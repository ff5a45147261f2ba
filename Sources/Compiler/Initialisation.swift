import Program

/// How every kind of parameter starts and whether AdamW decays it — the one table both back
/// ends read: `Lowering` fills the engine's tensors from it, the PyTorch writer renders it
/// as Python, so an exported module starts from the rule evolve trains from.
enum ParameterKind: Equatable {
    /// wte, wpe: the token and position embeddings.
    case embedding
    /// A DENSE's matrix; `residual`: it writes into the residual stream.
    case dense(residual: Bool)
    /// A CONV_k's [taps, in, out] filter.
    case conv(taps: Int)
    /// A DCONV_k's [taps, channels] filter.
    case depthwiseConv(taps: Int)
    case scale, shift, normGain
    /// ln_f, the final norm's gain.
    case finalNorm
    /// A sparse layer's keys [E, C, g] and values [E, g, C] (or the MPO matrices they come from).
    case expertKeys, expertValues(residual: Bool)
    /// Switch's router [C, E].
    case router(inputs: Int)
    /// AltUp's mixing scalar p_ij (1 on the diagonal) or correction gain g_i (1).
    case altupMix(identity: Bool), altupGain

    /// The name a parameter of this kind ends with (`h0.s2.dense`, `h0.s9.ffn.keys`).
    var suffix: String {
        switch self {
        case .embedding: return ""
        case .dense: return "dense"
        case .conv: return "conv"
        case .depthwiseConv: return "dconv"
        case .scale: return "scale"
        case .shift: return "shift"
        case .normGain: return "norm"
        case .expertKeys: return "keys"
        case .expertValues: return "values"
        case .router: return "router"
        case .finalNorm, .altupMix, .altupGain: return ""
        }
    }

    /// Matrices are decayed; gains, shifts, depthwise filters and AltUp's scalars are not.
    var decays: Bool {
        switch self {
        case .embedding, .dense, .conv, .expertKeys, .expertValues, .router: return true
        case .depthwiseConv, .scale, .shift, .normGain, .finalNorm, .altupMix, .altupGain: return false
        }
    }

    var initialisation: Initialisation {
        switch self {
        case .embedding, .expertKeys, .dense(residual: false), .expertValues(residual: false): return .normal(.base)
        case .dense(residual: true), .expertValues(residual: true): return .normal(.residual)
        case .conv(let taps): return .normal(.perTap(taps))
        case .router(let inputs): return .normal(.router(inputs: inputs))
        case .depthwiseConv(let taps): return .mdha(taps: taps)
        case .scale, .normGain, .finalNorm, .altupGain, .altupMix(identity: true): return .constant(1)
        case .shift, .altupMix(identity: false): return .constant(0)
        }
    }
}

/// A parameter's starting values.
enum Initialisation: Equatable {
    /// N(0, std²), drawn from the compilation's generator in element order.
    case normal(InitStd)
    case constant(Double)
    /// Primer's MDHA filter: the current position 0.5, each earlier tap 0.5/taps.
    case mdha(taps: Int)

    /// The value of element `index` of a [taps, channels] MDHA filter.
    static func mdha(_ index: Int, channels: Int, taps: Int) -> Double { index < channels ? 0.5 : 0.5 / Double(taps) }
}

/// The standard deviation of a normal initialisation, as a rule of the recipe's `init_std`
/// and the model's depth.
enum InitStd: Equatable {
    /// init_std.
    case base
    /// A projection into the residual stream: init_std/√(2·layers), as GPT-2 scales them.
    case residual
    /// A causal convolution: init_std/√taps keeps a DENSE's output scale.
    case perTap(Int)
    /// Switch's router: √(0.1/C), the Switch Transformer's scale 0.1 over fan-in.
    case router(inputs: Int)

    func value(initStd: Double, layers: Int) -> Double {
        switch self {
        case .base: return initStd
        case .residual: return initStd / (2 * Double(layers)).squareRoot()
        case .perTap(let taps): return initStd / Double(taps).squareRoot()
        case .router(let c): return (0.1 / Double(c)).squareRoot()
        }
    }

    /// The same as a Python expression (`initStd` already a Python literal).
    func python(initStd: String, layers: Int) -> String {
        switch self {
        case .base: return initStd
        case .residual: return "\(initStd) / math.sqrt(2 * \(layers))"
        case .perTap(let taps): return "\(initStd) / math.sqrt(\(taps))"
        case .router(let c): return "math.sqrt(0.1 / \(c))"
        }
    }
}
