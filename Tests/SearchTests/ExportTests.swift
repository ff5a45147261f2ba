import Foundation
import Testing
import TestSupport

/// A program carried into PyTorch: `evolve export --format pytorch` on a trained checkpoint,
/// run by scripts/pytorch_check.py on the same weights, gives evolve's validation loss. In
/// float32: PyTorch evaluates in float32, and bfloat16 products move a loss by ~1e-3.
@Suite("export to PyTorch", .serialized)
struct ExportTests {
    static let seeds = ["vanilla", "primer-ez", "relu", "squared-relu", "mdha", "switch-moe", "hash-ffn", "avgk-sffn", "avgk-sffn-g32",
                        "mpo-moe", "altup-recycled-k2"]

    @Test(.enabled(if: pythonChecksRun, "needs a Python with torch, numpy and safetensors (EVOLVE_PYTHON)"), arguments: seeds)
    func sameLossInPyTorch(_ name: String) throws {
        let python = try requirePythonWithTorch()
        let corpus = try syntheticCorpusFile()   // a short validation split: PyTorch evaluates it quickly
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-export-\(UUID())").path
        let program = packageRoot.appendingPathComponent("search-spaces/seeds/\(name).program").path
        let trained = try runEvolve(["train", program, "--steps", "15", "--precision", "float32", "--corpus", corpus, "--save", dir])
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

    /// A name or header with quotes and backslashes cannot break the Python: they go in comments.
    @Test(.enabled(if: pythonChecksRun, "needs a Python with torch, numpy and safetensors (EVOLVE_PYTHON)"))
    func namesCannotBreakThePython() throws {
        let python = try requirePythonWithTorch()
        let text = try String(contentsOf: packageRoot.appendingPathComponent("search-spaces/seeds/vanilla.program"), encoding: .utf8)
            .replacingOccurrences(of: "program vanilla", with: #"program a\"""b\N{x}'''"#)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-\(UUID()).program").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let module = file + ".py"
        let r = try runEvolve(["export", file, "--format", "pytorch", "--output", module])
        #expect(r.status == 0, "\(r.output)")
        let parsed = try runPython(python, "import ast, sys; ast.parse(open(sys.argv[1]).read()); print('ok')", [module])
        #expect(parsed.output.contains("ok"), "\(parsed.output)")
    }

    /// The module builds from scratch with evolve's parameter count, and a forward pass runs.
    @Test(.enabled(if: pythonChecksRun, "needs a Python with torch, numpy and safetensors (EVOLVE_PYTHON)"))
    func modulesBuildFromScratch() throws {
        let python = try requirePythonWithTorch()
        for name in Self.seeds {
            let program = packageRoot.appendingPathComponent("search-spaces/seeds/\(name).program").path
            let module = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-\(UUID()).py").path
            #expect(try runEvolve(["export", program, "--format", "pytorch", "--output", module]).status == 0)
            let params = value("params", in: try runEvolve(["show", program]).lastLine)
            let r = try runPython(python, """
                import importlib.util, sys, torch
                spec = importlib.util.spec_from_file_location("m", sys.argv[1]); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
                model = m.Model(); idx = torch.randint(0, model.vocabulary, (2, model.context))
                logits, loss = model(idx, idx)
                print(sum(p.numel() for p in model.parameters()), tuple(logits.shape), loss.item() > 0)
                """, [module])
            #expect(r.status == 0 && r.output.contains("(2, 64, 65) True"), "\(name): \(r.output)")
            #expect(!params.isEmpty && r.output.hasPrefix(params + " "), "\(name): evolve counts \(params); \(r.output)")
        }
    }
}
