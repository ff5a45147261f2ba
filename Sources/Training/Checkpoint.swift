import Foundation
import Model
import Program

/// Where a training run stands: enough, with the weights and the optimizer's moments, for a
/// resumed run to take exactly the steps the uninterrupted one would have.
public struct TrainingState: Codable, Sendable, Equatable {
    /// Steps taken.
    public var step: Int
    /// The length of the learning-rate schedule.
    public var schedule: Int
    /// The batch stream's generator.
    public var sampler: [UInt64]
    /// Every step's batch loss so far.
    public var losses: [Float]
    /// Replicas the run trains with: the order its gradients are summed in, so a resumed run
    /// must use as many.
    public var replicas: Int
    public var seed: UInt64
    /// Rows per step (all replicas): with the replica count, how the batch is split — a
    /// routed layer's capacity depends on its replica's rows.
    public var batch: Int?
}

/// A checkpoint folder: `model.safetensors` (the weights, named as the program's
/// parameters), `optimizer.safetensors` (AdamW's moments `m.NAME`, `v.NAME` and its step),
/// `state.json` (`TrainingState`) and the files the run was made from (its program and
/// config, to retrain or resume it). It is written whole into `DIR.tmp` and then renamed
/// into place, so a run killed while saving leaves the previous checkpoint (`DIR`, or
/// `DIR.old` between the two renames) intact.
public enum Checkpoint {
    public struct CheckpointError: Error, CustomStringConvertible {
        public let description: String
        init(description: String) { self.description = oneLine(description) }
    }

    /// The folder as one path, without a trailing slash (`ckpt/` and `ckpt` are one folder).
    public static func folder(_ dir: String) -> String { URL(fileURLWithPath: dir).standardizedFileURL.path }

    /// Refuses, before anything trains, a folder that exists and holds something other than
    /// a checkpoint: a save replaces the folder whole.
    public static func checkWritable(_ dir: String) throws {
        let d = folder(dir), fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: d, isDirectory: &isDir) else { return }
        guard isDir.boolValue else { throw CheckpointError(description: "\(d) is a file; --save needs a folder for the checkpoint") }
        let entries = (try? fm.contentsOfDirectory(atPath: d)) ?? []
        if !entries.isEmpty && !entries.contains("state.json") {
            throw CheckpointError(description: "\(d) holds other files (\(entries.sorted().prefix(3).joined(separator: ", "))); a checkpoint replaces its folder whole: name a new or empty one")
        }
    }

    public static func save(_ trainer: Trainer, _ state: TrainingState, files: [String: String], to dir: String) throws {
        let fm = FileManager.default
        let dir = folder(dir)
        let tmp = dir + ".tmp", old = dir + ".old"
        try? fm.removeItem(atPath: tmp)
        do { try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true) } catch {
            throw CheckpointError(description: "\(dir): cannot write a checkpoint here (\(error.localizedDescription))")
        }
        let parameters = trainer.model.parameters
        // The weights, and the fixed tables the model computes with (Hash routing's), which
        // another framework needs as buffers; evolve rebuilds those itself.
        let fixed = trainer.model.primary.buffers.map { ($0.name, Safetensors.Tensor(shape: $0.shape, values: $0.values)) }
        try Safetensors.write(parameters.map { ($0.name, Safetensors.Tensor(shape: $0.shape, values: $0.values)) } + fixed,
                              metadata: ["format": "pt", "written_by": "evolve"], to: tmp + "/model.safetensors")
        var moments = [(name: String, tensor: Safetensors.Tensor)]()
        for (i, p) in parameters.enumerated() {
            let (m, v) = trainer.optimizer.moments(i)
            moments.append(("m." + p.name, Safetensors.Tensor(shape: p.shape, values: Array(m))))
            moments.append(("v." + p.name, Safetensors.Tensor(shape: p.shape, values: Array(v))))
        }
        try Safetensors.write(moments, metadata: ["step": "\(trainer.optimizer.step)"], to: tmp + "/optimizer.safetensors")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(state).write(to: URL(fileURLWithPath: tmp + "/state.json"))
        for (name, text) in files { try text.write(toFile: tmp + "/" + name, atomically: false, encoding: .utf8) }
        // Last: what every file holds, so a resume can prove the folder whole and unchanged.
        try Manifest.write(tmp)
        // A save cut between its renames left the last checkpoint in DIR.old: put it back
        // first, so that a whole checkpoint exists at every moment below.
        if !fm.fileExists(atPath: dir) && fm.fileExists(atPath: old) { try fm.moveItem(atPath: old, toPath: dir) }
        try? fm.removeItem(atPath: old)
        if fm.fileExists(atPath: dir) { try fm.moveItem(atPath: dir, toPath: old) }
        try fm.moveItem(atPath: tmp, toPath: dir)
        try? fm.removeItem(atPath: old)
    }

    /// The folder holding a whole checkpoint: `dir`, or `dir.old` if a save was cut between its renames.
    public static func complete(_ dir: String) throws -> String {
        let dir = folder(dir)
        for d in [dir, dir + ".old"] where FileManager.default.fileExists(atPath: d + "/state.json") { return d }
        throw CheckpointError(description: "\(dir): no checkpoint here (no state.json); make one with evolve train --save \(dir)")
    }

    public static func state(_ dir: String) throws -> TrainingState {
        let d = try complete(dir)
        do { return try JSONDecoder().decode(TrainingState.self, from: Data(contentsOf: URL(fileURLWithPath: d + "/state.json"))) } catch {
            throw CheckpointError(description: "\(d)/state.json: not a checkpoint's state (\(oneLine("\(error)"))); the checkpoint is damaged, not the recipe")
        }
    }

    /// A text file the run was made from (its program or config), if it was saved.
    public static func file(_ name: String, in dir: String) throws -> String? {
        try? String(contentsOfFile: complete(dir) + "/" + name, encoding: .utf8)
    }

    /// Loads the weights and the optimizer's moments and step into `trainer`, checking that
    /// every parameter is there with its shape; returns the state to resume from.
    public static func restore(_ trainer: Trainer, from dir: String) throws -> TrainingState {
        let d = try complete(dir)
        try Manifest.check(d)
        let state = try self.state(dir)
        try state.check(against: trainer, in: d)
        guard state.replicas == trainer.model.replicas.count else {
            throw CheckpointError(description: "\(d) was trained with \(state.replicas) replica(s), this run has \(trainer.model.replicas.count); resume with the same --threads")
        }
        let weights = try Safetensors.read(d + "/model.safetensors"), optimizer = try Safetensors.read(d + "/optimizer.safetensors")
        func take(_ t: [String: Safetensors.Tensor], _ name: String, _ shape: [Int], _ file: String) throws -> [Float] {
            guard let x = t[name] else { throw CheckpointError(description: "\(d)/\(file) has no tensor \(name): a checkpoint of another program") }
            guard x.shape == shape else { throw CheckpointError(description: "\(d)/\(file): \(name) is \(x.shape), the program's is \(shape)") }
            guard x.values.allSatisfy(\.isFinite) else {
                throw CheckpointError(description: "\(d)/\(file): \(name) holds a non-finite value; the checkpoint is damaged, not the recipe")
            }
            return x.values
        }
        for (i, p) in trainer.model.parameters.enumerated() {
            p.set(try take(weights.tensors, p.name, p.shape, "model.safetensors"))
            let (m, v) = trainer.optimizer.moments(i)
            _ = m.update(from: try take(optimizer.tensors, "m." + p.name, p.shape, "optimizer.safetensors"))
            _ = v.update(from: try take(optimizer.tensors, "v." + p.name, p.shape, "optimizer.safetensors"))
        }
        guard let step = optimizer.metadata["step"].flatMap(Int.init) else {
            throw CheckpointError(description: "\(d)/optimizer.safetensors has no step in its metadata")
        }
        trainer.optimizer.step = step
        return state
    }
}

extension TrainingState {
    /// Every field against the others and against the run resuming it: a state edited,
    /// half-copied or from another run is refused, naming the field.
    func check(against trainer: Trainer, in dir: String) throws {
        func fail(_ why: String) -> Checkpoint.CheckpointError {
            Checkpoint.CheckpointError(description: "\(dir)/state.json: \(why); the checkpoint is damaged, not the recipe")
        }
        guard (1...1_000_000_000).contains(schedule) else { throw fail("schedule \(schedule) is outside 1...1e9 steps") }
        guard step == losses.count else { throw fail("step \(step) but \(losses.count) losses recorded") }
        guard (0...schedule).contains(step) else { throw fail("step \(step) is past the schedule's \(schedule)") }
        guard losses.allSatisfy(\.isFinite) else { throw fail("a recorded loss is not finite") }
        guard sampler.count == 4, sampler.contains(where: { $0 != 0 }) else { throw fail("the batch stream's state is not a generator's (4 words, not all zero)") }
        guard (1...1024).contains(replicas) else { throw fail("replicas \(replicas) is outside 1...1024") }
        if let batch, batch != trainer.model.batch { throw fail("batch \(batch), the recipe's is \(trainer.model.batch)") }
        guard seed == trainer.recipe.seed else { throw fail("seed \(seed), the run's is \(trainer.recipe.seed)") }
    }
}

/// `manifest.json`: each file of a checkpoint with its size and sha256, written last
/// (before the rename that publishes the folder) and checked before a resume.
enum Manifest {
    struct Entry: Codable, Equatable { var bytes: Int; var sha256: String }

    static func entries(_ dir: String) throws -> [String: Entry] {
        var out = [String: Entry]()
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where name != "manifest.json" {
            guard let data = FileManager.default.contents(atPath: dir + "/" + name) else { continue }
            out[name] = Entry(bytes: data.count, sha256: sha256Hex(data))
        }
        return out
    }

    static func write(_ dir: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(try entries(dir)).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
    }

    static func check(_ dir: String) throws {
        func fail(_ why: String) -> Checkpoint.CheckpointError {
            Checkpoint.CheckpointError(description: "\(dir): \(why); the checkpoint is damaged or incomplete, not the recipe")
        }
        // Checkpoints saved before evolve wrote manifests have none: nothing proves them whole.
        guard let data = FileManager.default.contents(atPath: dir + "/manifest.json") else {
            throw Checkpoint.CheckpointError(description: "\(dir) has no manifest.json, so its files cannot be verified (a checkpoint saved before evolve wrote one, or a copy that left it out); it is not resumed: train again with --save")
        }
        guard let listed = try? JSONDecoder().decode([String: Entry].self, from: data) else {
            throw fail("manifest.json is not readable as each file's size and sha256")
        }
        let found = try entries(dir)
        for (name, entry) in listed.sorted(by: { $0.key < $1.key }) {
            guard let f = found[name] else { throw fail("\(name) is missing") }
            guard f == entry else { throw fail("\(name) is not the file that was saved (\(f.bytes) bytes, sha256 \(f.sha256.prefix(12))…; the manifest says \(entry.bytes), \(entry.sha256.prefix(12))…)") }
        }
    }
}
