#if canImport(Glibc)
import Glibc
#else
import Darwin
private typealias Glibc = Darwin
#endif

/// A small, fast, seedable generator (xoshiro256**, seeded through SplitMix64), so that the
/// same seed gives the same initial weights, batches and mutations on every machine and
/// binary. Here, below the engine and the search, so that both use it and neither reaches
/// into the other.
public struct Xoshiro: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal: Box–Muller on two of this generator's uniforms.
    public mutating func normal() -> Double {
        let u1 = max(uniform(), 0x1p-60), u2 = uniform()
        return Xoshiro.boxMuller(u1, u2)
    }

    /// Box–Muller: a standard normal from u1 in (0, 1) and u2 in [0, 1). The one transform
    /// for every normal evolve draws: initial weights (through `normal()`) and mutated
    /// constants (whose uniforms come from the standard library, so that a search's children
    /// stay what they were).
    public static func boxMuller(_ u1: Double, _ u2: Double) -> Double {
        (-2 * _log(u1)).squareRoot() * _cos(2 * .pi * u2)
    }

    /// Uniform integer in 0..<n.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// The generator's whole state (a checkpoint saves it, so a resumed run draws on).
    public var state: [UInt64] {
        get { [s.0, s.1, s.2, s.3] }
        set { precondition(newValue.count == 4, "a Xoshiro state is 4 words"); s = (newValue[0], newValue[1], newValue[2], newValue[3]) }
    }
}

@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
