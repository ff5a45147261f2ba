import Primitives

/// One step of a subprogram: `op` applied to earlier states. Inputs index the subprogram's
/// growing list of states (state 0 is the subprogram's input; instruction i writes state
/// i + 1). Fields an op does not read are kept at zero, so equal instructions compare equal.
public struct Instruction: Hashable, Sendable {
    public var op: Op
    public var input1: Int
    public var input2: Int
    public var constant: Double
    public var dim: Int

    public init(_ op: Op, _ input1: Int, _ input2: Int = 0, constant: Double = 0, dim: Int = 0) {
        self.op = op
        self.input1 = input1
        self.input2 = op.arity == 2 ? input2 : 0
        self.constant = op.usesConstant ? constant : 0
        self.dim = op.usesDim ? dim : 0
    }

    /// The states this instruction reads.
    public var inputs: [Int] { op.arity == 2 ? [input1, input2] : [input1] }
}

/// A list of instructions; its output is its last state.
public struct Subprogram: Hashable, Codable, Sendable {
    public var instructions: [Instruction]
    public init(_ instructions: [Instruction]) { self.instructions = instructions }
}

/// Model-level genes: the shape of the whole network around the decoder block.
public struct Genes: Hashable, Codable, Sendable {
    public var layers = 4
    public var dModel = 128
    public var heads = 4
    public var context = 64
    /// AltUp (Baykal et al. 2023), recycled: K blocks of width d_model, each layer computing
    /// one of them (1 = off).
    public var altup = 1
    public var altupMode = AltUpMode.alternating
    /// SPARSE_FFN layers: how tokens pick memory blocks, how many blocks there are, how many
    /// each token uses, and each block's capacity as a multiple of an even share.
    public var router = Router.switch
    public var experts = 4
    public var topk = 1
    public var capacity = 2.0
    /// MPO experts (Gao et al. 2022): each expert matrix a tensor train of `mpo` cores whose
    /// central core all experts share (0 = plain expert matrices).
    public var mpo = 0
    /// MPOE's gradient mask: each step, the shared central cores' gradient is dropped with
    /// this probability, damping the update of the one tensor every expert trains (0 = off).
    public var mpoMask = 0.0

    public init() {}

    /// The largest values validation accepts: beyond them no model fits a machine evolve runs
    /// on (memory is checked against the machine as well, before anything is allocated).
    public static let limits = (layers: 1024, dModel: 65_536, heads: 1024, context: 65_536, experts: 4096)

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case layers, heads, context, altup, router, experts, topk, capacity, mpo
        case dModel = "d_model", altupMode = "altup_mode", mpoMask = "mpo_mask"
    }

    /// A file gives only the genes it changes (a search space's `genes:`, a program file's).
    public init(from decoder: Decoder) throws {
        self.init()
        let fields: [Field<Genes, CodingKeys>] = [
            .init(.layers, \.layers), .init(.dModel, \.dModel), .init(.heads, \.heads), .init(.context, \.context),
            .init(.altup, \.altup), .init(.altupMode, \.altupMode), .init(.router, \.router),
            .init(.experts, \.experts), .init(.topk, \.topk), .init(.capacity, \.capacity), .init(.mpo, \.mpo),
            .init(.mpoMask, \.mpoMask)]
        try decoder.read(fields, into: &self)
    }

    /// Whether the program has SPARSE_FFN layers (the router genes matter only then).
    func usesRouter(_ subprograms: [Subprogram]) -> Bool {
        subprograms.contains { $0.instructions.contains { $0.op == .sparseFFN } }
    }
}

/// Which AltUp block layer l computes: l mod K (alternating) or always block 0 (same).
public enum AltUpMode: String, Hashable, Codable, Sendable, CaseIterable {
    case alternating, same
}

/// A program (Primer's "DNA"): model genes plus a bank of subprograms. Subprogram 0 is the
/// decoder block, applied `layers` times to the residual stream [B, T, d_model].
public struct Program: Hashable, Codable, Sendable {
    public var name: String
    public var genes: Genes
    public var subprograms: [Subprogram]

    public init(name: String, genes: Genes = Genes(), subprograms: [Subprogram]) {
        self.name = name; self.genes = genes; self.subprograms = subprograms
    }

    enum CodingKeys: String, CodingKey { case name, genes, subprograms }

    /// `genes` may be left out of a file (the defaults: the baseline's shape).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        genes = try c.decodeIfPresent(Genes.self, forKey: .genes) ?? Genes()
        subprograms = try c.decode([Subprogram].self, forKey: .subprograms)
    }
}
