import CGemm
import Primitives

/// What the products of a run (every GEMM; attention's block products excepted) multiply in.
/// `bfloat16` rounds both operands to bfloat16 — 8 bits of mantissa, float32's range — and
/// accumulates in float32, as mixed-precision training on accelerators does; parameters,
/// gradients, optimizer state and every other kernel stay float32. On a CPU with AMX
/// (Sapphire Rapids and later) the products then run on its tiles, several times faster;
/// elsewhere the operands are rounded and multiplied by the float32 kernel, so a run's
/// numbers are the same kind everywhere, only slower.
public enum Precision: String, Codable, Sendable, NamedCases {
    case float32, bfloat16

    /// Whether this CPU multiplies bfloat16 on AMX tiles (asking Linux for the tile state
    /// once per process).
    public static let amx: Bool = evolve_bgemm_available() != 0

    /// `float32`, `bfloat16-amx` or `bfloat16-rounded`: the precision and what runs it here.
    public var label: String { self == .float32 ? "float32" : Self.amx ? "bfloat16-amx" : "bfloat16-rounded" }
}
