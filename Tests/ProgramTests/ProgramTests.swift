import Foundation
import Primitives
import Testing
@testable import Program
import Tensor
import TestSupport

/// Parses a program body: instruction lines of subprogram 0, `|` starting the next subprogram.
func program(_ body: String, genes: String = "") throws -> Program {
    var text = "program t\ngenes \(genes.isEmpty ? "layers=1" : genes)\nsubprogram 0\n"
    var k = 0, n = 0
    for part in body.split(separator: "\n") {
        let line = part.trimmingCharacters(in: .whitespaces)
        if line == "|" { k += 1; n = 0; text += "subprogram \(k)\n"; continue }
        n += 1
        text += "  s\(n) = \(line)\n"
    }
    return try Program(text: text)
}

@Suite("program IR")
struct ProgramTests {
    @Test func vanillaSeedValidates() throws {
        let p = try seed("vanilla")
        #expect(p.subprograms.count == 2)
        #expect(try p.shapes(subprogram: 0, input: .residual)[5] == .scores)
    }

    @Test func textRoundTrips() throws {
        let p = try seed("vanilla")
        #expect(try Program(text: p.text) == p)
        var q = p
        q.subprograms[0].instructions.append(Instruction(.cMul, 15, constant: 0.1 + 0.2))
        #expect(try Program(text: q.text) == q)   // constants survive exactly
    }

    @Test func fileFormRoundTrips() throws {
        let p = try seed("vanilla")
        #expect(try Program(yaml: p.yaml) == p)
        let json = String(decoding: try JSONEncoder().encode(p), as: UTF8.self)
        #expect(try Program(yaml: json) == p)     // JSON is YAML
    }

    @Test func hashIgnoresOrderNumberingAndDeadCode() throws {
        let a = try program("DENSE s0 dim=8\nDENSE s0 dim=32\nRELU s2\nDENSE s3 dim=8\nADD s1 s4")
        // Independent instructions swapped (states renumbered accordingly).
        let b = try program("DENSE s0 dim=32\nRELU s1\nDENSE s2 dim=8\nDENSE s0 dim=8\nADD s3 s4")
        // A commutative op's inputs swapped, and a dead instruction added.
        let c = try program("DENSE s0 dim=8\nSIN s0\nDENSE s0 dim=32\nRELU s3\nDENSE s4 dim=8\nADD s5 s1")
        #expect(a.hash == b.hash)
        #expect(a.hash == c.hash)
        #expect(a.canonical == c.canonical.renamed("t"))
        // Different graphs hash differently.
        #expect(try program("DENSE s0 dim=8\nDENSE s0 dim=32\nRELU s2\nDENSE s3 dim=8\nDIFFERENCE s1 s4").hash != a.hash)
        #expect(try program("DENSE s0 dim=8\nDENSE s0 dim=32\nGELU s2\nDENSE s3 dim=8\nADD s1 s4").hash != a.hash)
    }

    /// Two equal expressions used differently: the canonical order must not depend on
    /// which of them was written first.
    @Test func hashSeparatesTwinsByUse() throws {
        let a = try program("DENSE s0 dim=8\nDENSE s0 dim=8\nRELU s1\nADD s3 s2")
        let b = try program("DENSE s0 dim=8\nDENSE s0 dim=8\nRELU s2\nADD s3 s1")
        #expect(a.hash == b.hash)
        let c = try program("DENSE s0 dim=8\nDENSE s0 dim=8\nRELU s1\nADD s3 s1")
        #expect(c.hash != a.hash)
    }

    @Test func hashIgnoresSubprogramNumbering() throws {
        let a = try program("CALL s0 sub=1\nCALL s1 sub=2\n|\nSIN s0\n|\nTANH s0")
        let b = try program("CALL s0 sub=2\nCALL s1 sub=1\n|\nTANH s0\n|\nSIN s0")
        let c = try program("CALL s0 sub=1\nCALL s1 sub=2\n|\nTANH s0\n|\nSIN s0")
        #expect(a.hash == b.hash)
        #expect(a.hash != c.hash)
        // An uncalled subprogram is dead code.
        let d = try program("CALL s0 sub=1\nCALL s1 sub=2\n|\nSIN s0\n|\nTANH s0\n|\nEXP s0")
        #expect(d.hash == a.hash)
        #expect(d.canonical.subprograms.count == 3)
    }

    @Test(arguments: [
        ("FOO s0", "t:4: unknown op 'FOO'"),
        ("ADD s0", "t:4: ADD takes 2 inputs, found 1"),
        ("DENSE s0", "t:4: DENSE needs dim=D"),
        ("C_MUL s0 c=x", "t:4: C_MUL: cannot read 'c=x'"),
    ])
    func parseErrors(_ line: String, _ message: String) {
        #expect(throws: ProgramError(message)) {
            try Program(text: "program t\ngenes layers=1\nsubprogram 0\n  s1 = \(line)\n", file: "t")
        }
    }

    @Test(arguments: [
        ("ADD s0 s2", "subprogram 0, s1 = ADD s0 s2: s2 is not an earlier state (s0…s0)"),
        ("DENSE s0 dim=5", "subprogram 0, s1 = DENSE s0 dim=5: dim=5 is not one of 1, 2, 4, 8, 12, 16, 24, 32, 48, 64"),
        ("DENSE s0 dim=16", "subprogram 0 returns [B,T,2C], the residual stream needs [B,T,C]"),
        ("T_MAT_MUL s0 s0\nADD s0 s1", "subprogram 0, s2 = ADD s0 s1: shapes [B,T,C] and [B,H,T,T] do not combine"),
        ("MASK s0", "subprogram 0, s1 = MASK s0: MASK needs scores [B,H,T,T], found [B,T,C]"),
        ("CALL s0 sub=0", "subprogram 0, s1 = CALL s0 sub=0: sub=0: a subprogram calls only higher-numbered ones (1…0)"),
        ("CALL s0 sub=1\n|\nCALL s0 sub=1", "subprogram 1, s1 = CALL s0 sub=1: sub=1: a subprogram calls only higher-numbered ones (2…1)"),
    ])
    func validationErrors(_ body: String, _ message: String) throws {
        let p = try program(body)
        #expect(throws: ProgramError(message)) { try p.validate() }
    }

    @Test func fileFormErrorsNameThePlace() throws {
        #expect(try Program(yaml: "name: v\nsubprograms:\n- [DENSE s0 dim=8, ADD s0 s1]\n").genes == Genes())
        #expect(throws: ProgramError("f: subprograms[0][1]: unknown op 'FOO'")) {
            try Program(yaml: "name: v\nsubprograms:\n- [DENSE s0 dim=8, FOO s0]\n", file: "f")
        }
        #expect(throws: ProgramError("f: missing 'subprograms'")) { try Program(yaml: "name: v\n", file: "f") }
    }

    @Test func badGenes() throws {
        #expect(throws: ProgramError.self) { try program("SIN s0", genes: "d_model=100 heads=3").validate() }
        #expect(throws: ProgramError.self) { try program("SIN s0", genes: "widht=3") }
    }

    /// Random and mutated programs: parsing and validation either succeed or throw a
    /// ProgramError; nothing crashes. The valid ones round-trip and hash consistently.
    @Test func fuzzParserAndValidator() throws {
        var rng = Xoshiro(seed: 42)   // seeded: the same 2000 programs every run
        let vanilla = try seed("vanilla").text
        let tokens = Op.allCases.map(\.rawValue) + ["s0", "s1", "s3", "s99", "s-1", "dim=8", "dim=3", "dim=32",
                                                     "c=0.5", "sub=1", "sub=7", "=", "subprogram", "1", "#"]
        var valid = 0
        for trial in 0..<2000 {
            var lines = vanilla.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for _ in 0..<(1 + trial % 4) {
                let i = Int.random(in: 0..<lines.count, using: &rng)
                var words = lines[i].split(separator: " ").map(String.init)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0 where !words.isEmpty: words[Int.random(in: 0..<words.count, using: &rng)] = tokens.randomElement(using: &rng)!
                case 1: words.insert(tokens.randomElement(using: &rng)!, at: Int.random(in: 0...words.count, using: &rng))
                case 2: lines.remove(at: i); continue
                default: lines.insert(lines[Int.random(in: 0..<lines.count, using: &rng)], at: i)
                }
                if i < lines.count { lines[i] = words.joined(separator: " ") }
            }
            do {
                let p = try Program(text: lines.joined(separator: "\n"))
                try p.validate()
                valid += 1
                #expect(try Program(text: p.text) == p)
                #expect(p.canonical.hash == p.hash)
                try p.canonical.validate()
            } catch is ProgramError {
                continue
            }
        }
        #expect(valid > 0)
    }
}

extension Program {
    func renamed(_ n: String) -> Program { var p = self; p.name = n; return p }
}

@Suite("program cost")
struct CostTests {
    /// The vanilla seed has the baseline's parameters: 4 layers of
    /// (2 norm gains + qkv + proj + 4x MLP) + embeddings + the final norm = 804,096.
    @Test func vanillaMatchesTheBaseline() throws {
        let p = try seed("vanilla")
        let c = 128, v = 65, t = 64
        let perLayer = 2 * c + 3 * c * c + c * c + 2 * 4 * c * c
        #expect(try p.cost(vocabulary: v).parameters == 4 * perLayer + v * c + t * c + c)
        #expect(try p.cost(vocabulary: v).parameters == 804_096)
        // FLOPs: the four projections and the MLP dominate: 2·(3C² + C² + 8C²) per layer.
        let flops = try p.cost(vocabulary: v).flopsPerToken
        #expect(flops > 4 * 2 * 12 * c * c && flops < 4 * 2 * 12 * c * c + 2 * c * v + 4 * 200_000)
    }
}
