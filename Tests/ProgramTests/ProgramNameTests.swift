import Foundation
import Testing
@testable import Program
import TestSupport

/// A program's name is written as one word of its text form: a name the text form could not
/// read back (a '#', which starts a comment, white space, nothing, a name too long) is refused
/// by validation, from any file form; every other name reads back as itself.
@Suite("program names")
struct ProgramNameTests {
    @Test func namesTheTextFormCannotReadBackAreRefused() throws {
        let vanilla = try seed("vanilla")
        for bad in ["va#nilla", "#", "a b", "tab\there", "new\nline", "", String(repeating: "x", count: 201)] {
            var p = vanilla
            p.name = bad
            #expect(throws: ProgramError.self, "\(bad.debugDescription)") { try p.validate() }
            let yaml = p.yaml
            #expect(throws: (any Error).self, "\(bad.debugDescription) from YAML") { try Program(yaml: yaml).validate() }
        }
        for good in ["vanilla", "a\"\"\"b\\N{x}'''", "é-ü_1.2", "primer-fixed-144", String(repeating: "x", count: 200)] {
            var p = vanilla
            p.name = good
            try p.validate()
            #expect(try Program(text: p.text).name == good)
        }
    }
}
