import Compiler
import Foundation
import Program

/// Which engine trains a run: evolve's own, or PyTorch — the program exported as a module
/// (`PyTorchExport`) and trained by `Resources/trainer.py` in a child process, on a GPU where
/// the host has one. Both follow the same recipe, marks and hooks (`Run.train`), so a search
/// can give its large rungs to GPU hosts while CPU hosts take rung 0.
public enum TrainingEngine: Sendable {
    case evolve
    case pytorch(TorchEngine)
}

/// A Python with torch and numpy, and the device its trainer runs on.
public struct TorchEngine: Sendable {
    public let python: String
    public let device: String
    public let threads: Int

    /// $EVOLVE_PYTHON, else the project's virtual environment (`scripts/setup.sh`): the Python
    /// evolve runs for PyTorch and for Hugging Face `tokenizers`.
    public static var defaultPython: String {
        ProcessInfo.processInfo.environment["EVOLVE_PYTHON"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/evolve-venv/bin/python").path
    }

    /// Checks, by running it, that `python` imports torch and numpy and has `device`: a
    /// one-line error otherwise, before a worker claims anything.
    public init(python: String = TorchEngine.defaultPython, device: String, threads: Int) throws {
        guard ["cpu", "cuda"].contains(device) || device.hasPrefix("cuda:") else {
            throw TorchError(description: "--device \(device): expected cpu, cuda or cuda:N")
        }
        let probe = """
            import sys, torch, numpy
            d = torch.device(sys.argv[1])
            if d.type == "cuda" and not torch.cuda.is_available(): sys.exit("torch " + torch.__version__ + " sees no CUDA device")
            torch.zeros(1, device=d)
            """
        let (status, errors) = try TorchEngine.run(python, ["-c", probe, device])
        guard status == 0 else {
            let why = errors.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
            throw TorchError(description: "--engine pytorch: \(python) cannot train on \(device): \(why)")
        }
        self.python = python; self.device = device; self.threads = threads
    }

    /// Runs `python` to its end: its status and standard error (standard output is dropped).
    static func run(_ python: String, _ arguments: [String]) throws -> (Int32, String) {
        var folder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: python, isDirectory: &folder), !folder.boolValue,
              FileManager.default.isExecutableFile(atPath: python) else {
            throw TorchError(description: "--engine pytorch: \(python) is not an executable Python (set --python or EVOLVE_PYTHON)")
        }
        let p = Process(), err = Pipe()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice; p.standardError = err
        try p.run()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: errors, as: UTF8.self))
    }

    /// The trainer's Python source (`Resources/trainer.py`).
    static let trainer: URL = {
        guard let url = Bundle.module.url(forResource: "trainer", withExtension: "py") else {
            fatalError("evolve's PyTorch trainer (trainer.py) is missing from its resources")
        }
        return url
    }()
}

public struct TorchError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = oneLine(description) }
}
