import Foundation
import Program
import Testing
import TestSupport

/// Both back ends compute the same function: every op's example of the op table, and the
/// sparse layer with every router and with MPO experts, trained a few steps by evolve,
/// exported, and evaluated by PyTorch on evolve's weights, give evolve's validation loss.
@Suite("PyTorch parity", .serialized)
struct PyTorchParityTests {
    @Test(.enabled(if: pythonChecksRun, "needs a Python with torch, numpy and safetensors (EVOLVE_PYTHON)"))
    func everyOpAndRouterGivesTheEnginesLoss() throws {
        let python = try requirePythonWithTorch()
        let corpus = try syntheticCorpusFile()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-parity-\(UUID())").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let programs = try Op.allCases.map { try OpExamples.block($0) } + OpExamples.routed()
        var ours = [String: Double]()
        for p in programs {
            let dir = "\(root)/\(p.name)", file = "\(root)/\(p.name).program"
            try p.text.write(toFile: file, atomically: true, encoding: .utf8)
            let trained = try runEvolve(["train", file, "--steps", "3", "--threads", "1", "--precision", "float32", "--corpus", corpus, "--save", dir, "--allow-noncausal"])
            #expect(trained.status == 0, "\(p.name): \(trained.output)")
            let exported = try runEvolve(["export", dir, "--format", "pytorch", "--output", dir + "/model.py"])
            #expect(exported.status == 0, "\(p.name): \(exported.output)")
            ours[p.name] = Double(value("val_loss", in: trained.lastLine))
        }
        // One Python process evaluates every checkpoint as scripts/pytorch_check.py's `val` does.
        let check = try runPython(python, """
            import json, os, sys
            sys.path.insert(0, os.path.dirname(sys.argv[1]))
            import pytorch_check as pc
            _, val, _ = pc.split(sys.argv[2])
            for name in sys.argv[4:]:
                d = os.path.join(sys.argv[3], name)
                model = pc.load_module(os.path.join(d, "model.py")).Model.from_checkpoint(d)
                state = json.load(open(os.path.join(d, "state.json")))
                print(name, f"{pc.val_loss(model, val, model.context, state.get('batch', 12), state['replicas']):.6f}")
            """, [packageRoot.appendingPathComponent("scripts/pytorch_check.py").path, corpus, root] + programs.map(\.name))
        #expect(check.status == 0, "\(check.output)")
        var theirs = [String: Double]()
        for line in check.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let x = Double(parts[1]) { theirs[String(parts[0])] = x }
        }
        for p in programs {
            let a = ours[p.name] ?? .nan, b = theirs[p.name] ?? .nan
            #expect(abs(a - b) <= 1e-4 * max(1, abs(a)), "\(p.name): evolve \(a), PyTorch \(b)")
        }
    }
}
