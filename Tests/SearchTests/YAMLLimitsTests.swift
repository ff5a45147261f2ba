import Config
import Foundation
import Program
import Search
import Testing
import TestSupport

/// Every YAML reader bounds what it builds: alias bombs of any branching and depth and
/// nestings past the limit, in a space file, a config and a program file, are refused at
/// once in one line naming the file; a file within the limits reads as before.
@Suite("YAML limits")
struct YAMLLimitsTests {
    /// Anchors each aliasing the one before `branching` times, over `levels` levels.
    static func bomb(branching: Int, levels: Int) -> String {
        var lines = ["a0: &a0 [" + Array(repeating: "\"x\"", count: branching).joined(separator: ",") + "]"]
        for l in 1..<levels { lines.append("a\(l): &a\(l) [" + Array(repeating: "*a\(l - 1)", count: branching).joined(separator: ",") + "]") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func nested(_ depth: Int, block: Bool) -> String {
        block ? (0..<depth).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1\n"
              : "k: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
    }

    static var inputs: [(String, String)] {
        var out = [(String, String)]()
        for (b, l) in [(2, 19), (3, 12), (10, 6), (50, 4), (400, 3)] { out.append(("bomb \(b)^\(l)", bomb(branching: b, levels: l))) }
        for d in [65, 200, 2000] { out.append(("flow depth \(d)", nested(d, block: false))); out.append(("block depth \(d)", nested(d, block: true))) }
        return out
    }

    @Test func everyReaderRefusesWhatExpandsPastItsLimits() throws {
        for (name, body) in Self.inputs {
            let readers: [(String, () throws -> Void)] = [
                ("space", { _ = try SearchSpace.parse("name: s\nseeds: [x.program]\n" + body, path: "s.yaml") }),
                ("config", { _ = try TrainConfig.parse("training: {steps: 3}\n" + body, file: "c.yaml") }),
                ("program", { _ = try Program(yaml: "name: p\n" + body, file: "p.yaml") }),
            ]
            for (reader, read) in readers {
                let start = Date()
                do { try read(); Issue.record("\(name) as a \(reader): accepted") } catch {
                    let text = "\(error)"
                    #expect((text.contains("expands to more than") || text.contains("nested deeper than") || text.contains("evolve reads at most")) && !text.contains("\n"),
                            "\(name) as a \(reader): \(text)")
                    #expect(text.hasPrefix(reader == "space" ? "s.yaml" : reader == "config" ? "c.yaml" : "p.yaml"), "\(text)")
                }
                #expect(Date().timeIntervalSince(start) < 10, "\(name) as a \(reader) took \(Date().timeIntervalSince(start)) s")
            }
        }
    }

    /// Aliases within the limits are read as usual.
    @Test func aliasesWithinTheLimitsRead() throws {
        let text = "a: &w {steps: 3}\ntraining: *w\n"
        #expect(throws: Never.self) { try YAMLLimits.check(text + Self.bomb(branching: 4, levels: 5), file: "ok.yaml") }
        #expect(try TrainConfig.parse("training: {steps: 3, batch_size: 4}\n", file: "c.yaml").recipe.steps == 3)
    }
}
