import Foundation
import Testing
import TestSupport

/// The PyTorch runtime that exported modules start with (Resources/runtime.py) is linted
/// and unit-tested in Python, with the scripts beside it.
@Suite("the PyTorch runtime")
struct PythonRuntimeTests {
    @Test(.enabled(if: pythonChecksRun, "needs a Python with torch, numpy and safetensors (EVOLVE_PYTHON)"))
    func runtimeUnitTestsPass() throws {
        let python = try requirePythonWithTorch()
        let r = try runPython(python, "import sys, unittest; sys.argv = ['unittest', 'discover', '-s', sys.argv[1], '-v']; unittest.main(module=None)",
                              [packageRoot.appendingPathComponent("Tests/python").path])
        #expect(r.status == 0 && r.output.contains("OK"), "\(r.output)")
    }

    @Test(.enabled(if: pythonChecksRun, "needs a Python with pyflakes (EVOLVE_PYTHON)"))
    func runtimeAndScriptsPassTheLinter() throws {
        let python = try requirePythonWithTorch()
        let files = ["Sources/Compiler/Resources/runtime.py", "Sources/Training/Resources/trainer.py", "Tests/python/test_runtime.py",
                     "scripts/pytorch_check.py"]
        let r = try runPython(python, "import sys; from pyflakes.api import main; main(args=sys.argv[1:])",
                              files.map { packageRoot.appendingPathComponent($0).path })
        #expect(r.status == 0, "pyflakes:\n\(r.output)")
    }
}
