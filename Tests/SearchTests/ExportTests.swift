import Foundation
import Testing
import TestSupport

/// A program carried into PyTorch: `evolve export --format pytorch` on a trained checkpoint,
/// run by scripts/pytorch_check.py on the same weights, gives evolve's validation loss.
@Suite("export to PyTorch", .serialized)
struct ExportTests {
    static let exportable = ["vanilla", "primer-ez", "relu", "squared-relu", "mdha", "switch-moe", "hash-ffn", "avgk-sffn",
                             "altup-recycled-k2"]
    static let notYet = ["mpo-moe"]

    @Test(arguments: exportable) func sameLossInPyTorch(_ name: String) throws {
        guard let python = checkingPython(), try runPython(python, "import torch, safetensors").status == 0 else {
            if runningInCI { Issue.record("no Python with torch and safetensors (.ci/run makes ~/.cache/evolve-venv)") }
            else { print("export to PyTorch: no Python with torch and safetensors; set EVOLVE_PYTHON") }
            return
        }
        let corpus = try syntheticCorpusFile()   // a short validation split: PyTorch evaluates it quickly
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-export-\(UUID())").path
        let program = packageRoot.appendingPathComponent("search-spaces/seeds/\(name).program").path
        let trained = try runEvolve(["train", program, "--steps", "15", "--corpus", corpus, "--save", dir])
        #expect(trained.status == 0, "\(trained.output)")
        let module = dir + "/model.py"
        let exported = try runEvolve(["export", dir, "--format", "pytorch", "--output", module])
        #expect(exported.status == 0, "\(exported.output)")
        let check = try runPython(python, "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
                                  [packageRoot.appendingPathComponent("scripts/pytorch_check.py").path, "val", module, dir, "--corpus", corpus])
        let ours = Double(value("val_loss", in: trained.lastLine)) ?? .nan
        let theirs = Double(value("val_loss", in: check.output.split(separator: "\n").last.map(String.init) ?? "")) ?? .nan
        #expect(abs(ours - theirs) <= 1e-4, "\(name): evolve \(ours), PyTorch \(theirs)\n\(check.output)")
    }

    @Test func whatCannotBeExportedYetSaysSo() throws {
        for name in Self.notYet {
            let program = packageRoot.appendingPathComponent("search-spaces/seeds/\(name).program").path
            let r = try runEvolve(["export", program, "--format", "pytorch", "--output", "/dev/null"])
            #expect(r.status == 1 && r.output.contains("cannot be exported to PyTorch yet"), "\(name): \(r.output)")
        }
    }
}
