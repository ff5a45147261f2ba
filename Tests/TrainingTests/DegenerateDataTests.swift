import Foundation
import Program
import Testing
@testable import Training
import TestSupport

/// Degenerate text trains where training means something and is refused in one line where
/// it does not — never a trap: one symbol repeated, tiny alphabets, NUL bytes, a validation
/// split just one window long (shorter than the probe's two windows).
@Suite("degenerate data")
struct DegenerateDataTests {
    static var texts: [(String, String)] {
        [("one symbol", String(repeating: "a", count: 3000)),
         ("two symbols", String(repeating: "ab", count: 1500)),
         ("NUL bytes", String(repeating: "a\u{0}b\u{0}\u{0}", count: 600)),
         ("one emoji", String(repeating: "🙂", count: 3000)),
         ("short validation", String(repeating: "abc", count: 60))]   // 180 chars: validation 18 = one window of 16 and its target
    }

    @Test(arguments: [Tokenizer.Kind.char, .byte]) func degenerateTextTrainsOrIsRefused(_ kind: Tokenizer.Kind) throws {
        var p = try seed("vanilla")
        (p.genes.layers, p.genes.dModel, p.genes.heads, p.genes.context) = (1, 16, 2, 16)
        var r = Recipe()
        (r.batchSize, r.steps, r.tokenizer) = (2, 2, kind)
        for (name, text) in Self.texts {
            let data = Dataset(text: text, tokenizer: kind)
            do {
                let run = try Run(p, recipe: r, data: data, threads: 1)
                let result = try run.train()
                #expect(result.losses.count == 2 && result.losses.allSatisfy(\.isFinite), "\(name): \(result.losses)")
                #expect(result.valLoss.isFinite && result.valBitsPerByte.isFinite, "\(name)")
            } catch {
                // Only a split too short for a window may be refused, and in one line.
                #expect("\(error)".contains("needs") && !"\(error)".contains("\n"), "\(name): \(error)")
            }
        }
    }
}
