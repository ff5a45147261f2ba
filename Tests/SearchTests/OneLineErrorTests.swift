import Foundation
import Testing
import Config
import Program
import Search
import Training
import TestSupport

/// Every reader's error is one line, whatever the names in it hold: paths with line breaks,
/// given on the command line or inside a file (a space's seed named in a YAML string). The
/// fuzzer found a space whose seed path held a line break, echoed as two lines.
@Suite("one-line errors")
struct OneLineErrorTests {
    static let breaks = ["\n", "\r\n", "\r", "\n\n"]

    func oneLine(_ what: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("\(what): read a file that is not there")
        } catch {
            let line = "\(error)"
            #expect(!line.isEmpty && !line.contains("\n") && !line.contains("\r") && line.contains("missing"), "\(what): \(line.debugDescription)")
        }
    }

    @Test(arguments: breaks) func pathsWithLineBreaks(_ brk: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-oneline-\(UUID())").path
        let missing = dir + "/missing\(brk)file"
        oneLine("program") { _ = try Program.load(path: missing + ".program") }
        oneLine("config") { _ = try TrainConfig.load(path: missing + ".yaml") }
        oneLine("space") { _ = try SearchSpace.load(path: missing + ".yaml") }
        oneLine("data folder") { _ = try Dataset(folder: missing) }
        oneLine("corpus") { _ = try Dataset(path: missing + ".txt") }
        oneLine("checkpoint") { _ = try Checkpoint.state(missing) }
        oneLine("safetensors") { _ = try Safetensors.read(missing + ".safetensors") }

        // A seed named inside a space file, in a YAML string with the break escaped.
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let escaped = brk.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
        let space = dir + "/space.yaml"
        try "seeds: [\"missing\(escaped)seed.program\"]\n".write(toFile: space, atomically: true, encoding: .utf8)
        oneLine("space's seed") { _ = try SearchSpace.load(path: space) }
    }
}
