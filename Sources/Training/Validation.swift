import Foundation
import Model
import Primitives

/// The windows a run is evaluated on: the whole validation split cut into non-overlapping
/// windows of the context while it holds at most `limit` predicted tokens, else a fixed
/// seeded sample of `limit / context` of those windows — the same for every run with the
/// same split, context and limit, so that every candidate of a study is measured on the same
/// text. It also knows how many UTF-8 bytes the predicted tokens stand for, which turns a
/// loss in nats per token into bits per byte.
public struct ValidationSet: Sendable {
    public let split: TokenSplit
    public let context: Int
    /// Each window's first id; a window is `context + 1` ids (inputs and their targets).
    public let starts: [Int]
    /// Whether the windows are a sample of the split's (it held more than the limit).
    public let sampled: Bool
    /// The UTF-8 bytes of the predicted tokens (each window's last `context` ids).
    public let bytes: Int

    /// The tokens whose loss is averaged.
    public var targets: Int { starts.count * context }

    /// Bits per byte of a mean loss over these windows: its nats over the bytes predicted, in
    /// bits. It compares runs across tokenizers, where nats per token cannot.
    public func bitsPerByte(_ loss: Double) -> Double {
        loss * Double(targets) / (Double(max(bytes, 1)) * log(2))
    }

    /// The windows of `split` for a `context`, at most `limit` predicted tokens (at least one
    /// window); `byteLengths[id]` is the UTF-8 length of token `id`.
    public init(_ split: TokenSplit, context: Int, limit: Int, byteLengths: [Int]) {
        self.split = split; self.context = context
        let windows = max(0, (split.count - 1) / context)
        let most = max(1, limit / context)
        sampled = windows > most
        starts = (sampled ? ValidationSet.sample(most, of: windows) : Array(0..<windows)).map { $0 * context }
        bytes = starts.reduce(0) { total, start in
            split.withWindow(from: start + 1, length: context) { $0.reduce(total) { $0 + byteLengths[Int($1)] } }
        }
    }

    /// `k` distinct numbers of `0..<n`, sorted, from a fixed seed (Floyd's algorithm: k draws).
    static func sample(_ k: Int, of n: Int) -> [Int] {
        var rng = Xoshiro(seed: 0x5A4D_91E5)
        var chosen = Set<Int>()
        for j in (n - k)..<n {
            let r = Int(rng.next() % UInt64(j + 1))
            chosen.insert(chosen.contains(r) ? j : r)
        }
        return chosen.sorted()
    }
}

extension Dataset {
    /// The validation windows of a run with this `context` and the recipe's limit.
    public func validationSet(context: Int, limit: Int) -> ValidationSet {
        ValidationSet(validation, context: context, limit: limit, byteLengths: tokenizer.byteLengths())
    }
}
