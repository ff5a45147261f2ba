import Foundation
import Testing
@testable import Program
import TestSupport

/// A program is bounded in what it makes evolve build: subprograms, instructions, and the
/// instructions of a layer with its CALLs expanded. Each family of programs past a limit is
/// refused in one line naming it — the text form while it is read, any form at validation —
/// and programs at the limits still validate.
@Suite("program limits")
struct ProgramLimitsTests {
    static let genes = "genes layers=1 d_model=32 heads=2 context=16"

    /// `levels` subprograms, each calling the next `fanout` times: the layer expands to about
    /// fanout^levels instructions while the text holds levels × fanout lines.
    static func chain(levels: Int, fanout: Int) -> String {
        var lines = ["program chain", genes]
        for k in 0..<levels {
            lines.append("subprogram \(k)")
            if k == levels - 1 { lines.append("  s1 = TANH s0"); continue }
            for i in 1...fanout { lines.append("  s\(i) = CALL s\(i - 1) sub=\(k + 1)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func flat(_ n: Int) -> String {
        (["program flat", genes, "subprogram 0"] + (1...n).map { "  s\($0) = TANH s\($0 - 1)" }).joined(separator: "\n") + "\n"
    }

    /// The layer's instructions with CALLs expanded: the last subprogram's one, then each level
    /// `fanout` CALLs of the level below (capped: 4^40 would overflow).
    static func expanded(levels: Int, fanout: Int) -> Int {
        (1..<levels).reduce(1) { below, _ in min(fanout * (1 + below), 1 << 40) }
    }

    @Test(arguments: [2, 3, 4]) func callChainsAreBoundedByTheirExpansion(fanout: Int) throws {
        for levels in 2...40 {
            let text = Self.chain(levels: levels, fanout: fanout)
            guard levels * fanout <= Program.limits.instructions, levels <= Program.limits.subprograms else { continue }
            let p = try Program(text: text)
            if Self.expanded(levels: levels, fanout: fanout) <= Program.limits.expanded {
                try p.validate()
            } else {
                do { try p.validate(); Issue.record("\(levels) levels of \(fanout) calls validated") } catch {
                    #expect("\(error)".contains("expands to more than \(Program.limits.expanded)") && !"\(error)".contains("\n"))
                }
            }
        }
    }

    @Test func longProgramsAreRefusedWhileRead() throws {
        let most = Program.limits.instructions
        try Program(text: Self.flat(most)).validate()
        for n in [most + 1, 3 * most, 20 * most] {
            do { _ = try Program(text: Self.flat(n), file: "big.program"); Issue.record("\(n) instructions read") } catch {
                // Refused at the first line past the limit, not after reading the rest.
                #expect("\(error)".hasPrefix("big.program:\(most + 4): more than \(most) instructions"), "\(error)")
            }
        }
        // Any other form is refused at validation.
        var p = try Program(text: Self.flat(most))
        p.subprograms[0].instructions.append(p.subprograms[0].instructions[0])
        #expect(throws: ProgramError.self) { try p.validate() }
    }

    @Test func subprogramsAreCounted() throws {
        let most = Program.limits.subprograms
        for n in [most, most + 1, 4 * most] {
            let text = (["program many", Self.genes] + (0..<n).flatMap { ["subprogram \($0)", "  s1 = TANH s0"] }).joined(separator: "\n")
            do {
                try Program(text: text).validate()
                #expect(n <= most)
            } catch {
                #expect(n > most && "\(error)".contains("more than \(most) subprograms"), "\(error)")
            }
        }
    }
}
