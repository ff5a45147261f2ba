import Compiler
import Foundation

extension Run {
    /// The training loop of `Trainer.train`, run by PyTorch: the program exported as a
    /// module, the recipe, the schedule, the marks and the validation windows written to a
    /// job file for `Resources/trainer.py`, whose lines drive the same hooks — `step` after
    /// every step (heartbeats; a throw kills the child), `mark` after each evaluation (its
    /// answer goes back on the child's stdin: a hurdle can end the run), `stop` polled on every
    /// line. The child is killed on every way out but its own end.
    func trainInTorch(_ torch: TorchEngine, schedule: Int?, marks: [Int], hooks: TrainingHooks) throws -> TrainResult {
        let schedule = schedule ?? recipe.steps
        let total = min(schedule, recipe.stopAfter ?? schedule)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-torch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let job = try writeJob(in: folder, torch: torch, schedule: schedule, total: total, marks: marks)

        let p = Process(), input = Pipe(), output = Pipe()
        let errors = folder.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        p.executableURL = URL(fileURLWithPath: torch.python)
        p.arguments = [TorchEngine.trainer.path, job.path]
        p.standardInput = input; p.standardOutput = output
        p.standardError = try FileHandle(forWritingTo: errors)
        try p.run()
        // SIGKILL, not SIGTERM: the child inherits the signals a worker blocks (its stop signals).
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) }; p.waitUntilExit() }

        var result = TrainResult(), finished = false
        let tokensPerStep = Double(tokensPerStep)
        var evaluating = 0.0, lastLine = Date()
        let start = Date()
        func elapsed() -> Double { Date().timeIntervalSince(start) - evaluating }
        let lines = LineReader(output.fileHandleForReading)
        while let line = lines.next() {
            if hooks.stop() { throw TrainingStopped() }
            let fields = keyValues(line)
            if let step = fields["step"].flatMap(Int.init), let loss = fields["loss"].flatMap(Float.init) {
                result.losses.append(loss)
                try hooks.step?(step, total, loss, Double(step) * tokensPerStep / max(elapsed(), 1e-9), elapsed())
            } else if let step = fields["mark"].flatMap(Int.init), let loss = fields["val_loss"].flatMap(Double.init) {
                // The seconds since the step's line were the evaluation's.
                evaluating += Date().timeIntervalSince(lastLine)
                result.curve.append((step, loss))
                let goOn = try hooks.mark?(step, loss) ?? true
                // A child that died meanwhile ends the line loop (its exit status says why).
                _ = writeToChild(input.fileHandleForWriting.fileDescriptor, goOn ? "go\n" : "stop\n")
            } else if let step = fields["diverged"].flatMap(Int.init) {
                result.losses.append(fields["loss"].flatMap(Float.init) ?? .nan)
                result.divergedAt = step
            } else if line == "done" {
                finished = true
            }
            lastLine = Date()
        }
        p.waitUntilExit()
        guard p.terminationStatus == 0, finished || result.divergedAt != nil else {
            let text = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            let why = text.split(separator: "\n").last.map(String.init) ?? "exit status \(p.terminationStatus)"
            throw TorchError(description: "\(program.name): PyTorch's trainer failed: \(why)")
        }
        result.summarise(seconds: elapsed(), tokensPerStep: tokensPerStep, validation: validation)
        return result
    }

    /// The job file (and what it names: the module, the validation windows' starts, the splits
    /// that are not files already) in `folder`.
    private func writeJob(in folder: URL, torch: TorchEngine, schedule: Int, total: Int, marks: [Int]) throws -> URL {
        let module = folder.appendingPathComponent("model.py")
        let vocabulary = data.tokenizer.vocabularySize
        try PyTorchExport.source(program, vocabulary: vocabulary, initStd: recipe.initStd).write(to: module, atomically: true, encoding: .utf8)
        var starts = Data(capacity: validation.starts.count * 8)
        for s in validation.starts { withUnsafeBytes(of: Int64(s).littleEndian) { starts.append(contentsOf: $0) } }
        let startsFile = folder.appendingPathComponent("validation-starts.bin")
        try starts.write(to: startsFile)
        func split(_ s: TokenSplit, _ name: String) throws -> [String: Any] {
            if let f = s.file { return ["path": f.path, "dtype": f.width.dtype] }
            let path = folder.appendingPathComponent("\(name).bin")
            try TokenSplit.Width.uint32.bytes(s.ids(0..<s.count)).write(to: path)
            return ["path": path.path, "dtype": TokenSplit.Width.uint32.dtype]
        }
        let r = recipe
        let job: [String: Any] = [
            "module": module.path, "device": torch.device, "threads": torch.threads, "seed": Int(r.seed % (1 << 62)),
            "train": try split(data.train, "train"), "val": try split(data.validation, "val"),
            "validation_starts": startsFile.path, "replicas": replicas,
            "schedule": schedule, "steps": total, "marks": Array(Set(marks.filter { $0 < total } + [total])).sorted(),
            "recipe": ["batch_size": r.batchSize, "learning_rate": r.learningRate, "min_learning_rate": r.minLearningRate,
                       "warmup_steps": r.warmupSteps, "beta1": r.beta1, "beta2": r.beta2, "weight_decay": r.weightDecay,
                       "grad_clip": r.gradClip, "precision": r.products(on: .pytorch(torch)).rawValue] as [String: Any]]
        let file = folder.appendingPathComponent("job.json")
        try JSONSerialization.data(withJSONObject: job, options: [.sortedKeys]).write(to: file)
        return file
    }
}

/// Writes `text` to a child's pipe; false if it could not (the child is gone). SIGPIPE is
/// blocked in this thread for the write, and one it raised is taken back, so a child that died
/// gives EPIPE here instead of ending the worker.
private func writeToChild(_ fd: Int32, _ text: String) -> Bool {
    var pipeSignal = sigset_t(), before = sigset_t()
    sigemptyset(&pipeSignal)
    sigaddset(&pipeSignal, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &pipeSignal, &before)
    defer { pthread_sigmask(SIG_SETMASK, &before, nil) }
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    if written < 0 && errno == EPIPE {
        var now = timespec()
        _ = sigtimedwait(&pipeSignal, nil, &now)
    }
    return written == bytes.count
}

/// "step=3 loss=4.1" as ["step": "3", "loss": "4.1"].
private func keyValues(_ line: String) -> [String: String] {
    var out = [String: String]()
    for word in line.split(separator: " ") {
        let kv = word.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { out[String(kv[0])] = String(kv[1]) }
    }
    return out
}

/// The lines of a pipe, read as they come.
private final class LineReader {
    let handle: FileHandle
    var buffer = Data()
    init(_ handle: FileHandle) { self.handle = handle }

    func next() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                return line
            }
            let chunk = handle.availableData
            if chunk.isEmpty {
                guard !buffer.isEmpty else { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            buffer.append(chunk)
        }
    }
}
