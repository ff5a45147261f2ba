import CGemm
import Primitives

/// What the products of a run (every GEMM; attention's block products excepted) multiply in.
/// `bfloat16` rounds both operands to bfloat16 — 8 bits of mantissa, float32's range — and
/// accumulates in float32, as mixed-precision training on accelerators does; parameters,
/// gradients, optimizer state and every other kernel stay float32. On a CPU with AMX
/// (Sapphire Rapids and later) the products then run on its tiles, several times faster; with
/// AVX512-BF16 (AMD Zen 4) on its dot products, twice an FMA's work an instruction; elsewhere
/// the operands are rounded and multiplied by the float32 kernel, so a run's numbers are the
/// same kind everywhere, only slower.
public enum Precision: String, Codable, Sendable, NamedCases {
    case float32, bfloat16

    /// What multiplies bfloat16 on this CPU (CGemm/bgemm.c; asked once per process).
    public enum Kernel: Int32, Sendable {
        /// Operands rounded to bfloat16, then the float32 kernel: the same numbers, slower.
        case rounded
        /// AVX512-BF16's VDPBF16PS.
        case avx512
        /// AMX's tiles.
        case amx
    }

    public static let kernel: Kernel = Kernel(rawValue: evolve_bgemm_kind()) ?? .rounded

    /// `float32`, `bfloat16-amx`, `bfloat16-avx512` or `bfloat16-rounded`: the precision and
    /// what runs it here.
    public var label: String { self == .float32 ? "float32" : "bfloat16-\(Self.kernel)" }
}
