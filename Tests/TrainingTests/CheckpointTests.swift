import Foundation
import Testing
import Config
@testable import Training
import TestSupport

@Suite("checkpoints")
struct CheckpointTests {
    func folder() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("evolve-ckpt-\(UUID())").path }

    @Test func safetensorsRoundTrip() throws {
        let path = folder() + ".safetensors"
        let a = Safetensors.Tensor(shape: [2, 3], values: [1, -2, 3.5, .pi, -0, 1e-30])
        let b = Safetensors.Tensor(shape: [1], values: [7])
        try Safetensors.write([("a.w", a), ("b", b)], metadata: ["k": "v"], to: path)
        let data = try #require(FileManager.default.contents(atPath: path))
        let n = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        #expect((8 + n) % 8 == 0 && data.count == 8 + n + 4 * 7, "header padded to 8 bytes, then 7 floats")
        let back = try Safetensors.read(path)
        #expect(back.tensors == ["a.w": a, "b": b] && back.metadata == ["k": "v"])
    }

    @Test func badSafetensorsAreOneLineErrors() throws {
        let path = folder() + ".safetensors"
        /// A file of this header and `data` bytes after it.
        func file(_ header: String, data: Int = 8) -> [UInt8] {
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init) + Array(header.utf8) + [UInt8](repeating: 0, count: data)
        }
        for (bytes, why) in [([UInt8](repeating: 0, count: 3), "shorter than its header length"),
                             ([255, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D], "a header of 255 bytes"),
                             (file("[]"), "not a JSON object"),
                             (file(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#), "disagree"),
                             (file(#"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#), "disagree"),
                             (file(#"{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#), "F32 only"),
                             // Sizes whose products or sums overflow 64 bits, and negative ones.
                             (file(#"{"x":{"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,0]}}"#), "disagree"),
                             (file(#"{"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}"#), "disagree"),
                             (file(#"{"x":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}"#), "disagree"),
                             (file(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775807,-9223372036854775805]}}"#), "disagree"),
                             (file(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[-9223372036854775807,4]}}"#), "disagree")] {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try Safetensors.read(path)
                Issue.record("read a bad file (\(why))")
            } catch {
                #expect("\(error)".contains(why) && !"\(error)".contains("\n"), "\(error)")
            }
        }
    }

    /// Trained k steps, saved, restored into a fresh model and trained on: the same losses,
    /// step for step, and the same weights as a run never stopped.
    @Test(arguments: [1, 2]) func resumedRunEqualsUninterrupted(threads: Int) throws {
        let data = Dataset(text: syntheticText())
        var c = tinyConfig()
        c.recipe.steps = 40
        let straight = Trainer(model: model(c, data, threads: threads), recipe: c.recipe)
        let whole = straight.train(data)
        let dir = folder()
        let first = Trainer(model: model(c, data, threads: threads), recipe: c.recipe)
        var saved = 0
        var hooks = TrainingHooks()
        hooks.saveEvery = 15
        hooks.save = { state in
            if state.step == 15 { try Checkpoint.save(first, state, files: ["note.txt": "x"], to: dir); saved += 1 }
        }
        _ = try first.train(data, hooks: hooks)
        #expect(saved == 1)
        let again = Trainer(model: model(c, data, threads: threads), recipe: c.recipe)   // fresh weights, moments and stream
        let state = try Checkpoint.restore(again, from: dir)
        #expect(state.step == 15 && state.losses == Array(whole.losses.prefix(15)))
        let rest = try again.train(data, resume: state, hooks: TrainingHooks())
        #expect(rest.losses == whole.losses)
        #expect(rest.valLoss == whole.valLoss)
        #expect(zip(again.model.parameters, straight.model.parameters).allSatisfy { $0.values == $1.values })
        #expect(try Checkpoint.file("note.txt", in: dir) == "x")
    }

    /// The tiny config trained `steps` steps on `threads` and saved at its end: the config,
    /// its data and the checkpoint's folder.
    func saved(steps: Int, threads: Int) throws -> (TrainConfig, Dataset, String) {
        let data = Dataset(text: syntheticText())
        var c = tinyConfig()
        c.recipe.steps = steps
        let dir = folder()
        let t = Trainer(model: model(c, data, threads: threads), recipe: c.recipe)
        var hooks = TrainingHooks()
        hooks.save = { try Checkpoint.save(t, $0, files: [:], to: dir) }
        _ = try t.train(data, hooks: hooks)
        return (c, data, dir)
    }

    /// A checkpoint of another program, or made with other threads, is refused by name.
    @Test func mismatchedCheckpointsAreRefused() throws {
        let (c, data, dir) = try saved(steps: 3, threads: 2)
        do {
            _ = try Checkpoint.restore(Trainer(model: model(c, data, threads: 1), recipe: c.recipe), from: dir)
            Issue.record("resumed with other threads")
        } catch { #expect("\(error)".contains("resume with the same --threads")) }
        var wider = c
        wider.model.genes.dModel = 48
        do {
            _ = try Checkpoint.restore(Trainer(model: model(wider, data, threads: 2), recipe: c.recipe), from: dir)
            Issue.record("loaded another program's weights")
        } catch { #expect("\(error)".contains("the program's is")) }
        do { _ = try Checkpoint.state(folder()); Issue.record("found a checkpoint in an empty folder") } catch {
            #expect("\(error)".contains("no checkpoint here"))
        }
    }

    /// A checkpoint edited after it was saved — by a disk error, a half copy or a hand — is
    /// refused before anything trains, in one line saying the checkpoint is at fault: any
    /// edit breaks the manifest; an edit whose manifest was rewritten too meets the state's
    /// own checks, the weights' and moments' finiteness, each naming what is wrong.
    @Test func damagedCheckpointsAreRefused() throws {
        let (c, data, good) = try saved(steps: 4, threads: 1)
        func state(_ edit: @escaping (inout [String: Any]) -> Void) -> (String) throws -> Void {
            { dir in
                let url = URL(fileURLWithPath: dir + "/state.json")
                var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
                edit(&json)
                try JSONSerialization.data(withJSONObject: json).write(to: url)
            }
        }
        func nonFinite(_ file: String, _ name: String) -> (String) throws -> Void {
            { dir in
                var (tensors, metadata) = try Safetensors.read(dir + "/" + file)
                tensors[name]!.values[0] = .nan
                try Safetensors.write(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, metadata: metadata, to: dir + "/" + file)
            }
        }
        let faults: [(String, (String) throws -> Void, Bool, String)] = [
            ("weights edited", nonFinite("model.safetensors", "wte"), false, "model.safetensors is not the file that was saved"),
            ("file removed", { try FileManager.default.removeItem(atPath: $0 + "/optimizer.safetensors") }, false, "optimizer.safetensors is missing"),
            ("no manifest", { try FileManager.default.removeItem(atPath: $0 + "/manifest.json") }, false, "has no manifest.json, so its files cannot be verified"),
            ("manifest garbled", { try "{".write(toFile: $0 + "/manifest.json", atomically: false, encoding: .utf8) }, false, "manifest.json is not readable"),
            ("non-finite weight", nonFinite("model.safetensors", "wte"), true, "wte holds a non-finite value"),
            ("non-finite moment", nonFinite("optimizer.safetensors", "v.ln_f"), true, "v.ln_f holds a non-finite value"),
            ("huge schedule", state { $0["schedule"] = 1_000_000_000_000 }, true, "schedule 1000000000000 is outside"),
            ("losses short", state { $0["losses"] = [2.0] }, true, "step 4 but 1 losses recorded"),
            ("step past schedule", state { $0["schedule"] = 2 }, true, "step 4 is past the schedule's 2"),
            ("sampler zeroed", state { $0["sampler"] = [0, 0, 0, 0] }, true, "the batch stream's state is not a generator's"),
            ("negative seed", state { $0["seed"] = -1 }, true, "state.json: not a checkpoint's state"),
            ("other seed", state { $0["seed"] = 99 }, true, "seed 99, the run's is"),
        ]
        for (name, fault, rewriteManifest, message) in faults {
            let dir = folder()
            try FileManager.default.copyItem(atPath: good, toPath: dir)
            try fault(dir)
            if rewriteManifest { try Manifest.write(dir) }
            let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0)) }
            do {
                _ = try Checkpoint.restore(Trainer(model: model(c, data, threads: 1), recipe: c.recipe), from: dir)
                Issue.record("\(name): resumed")
            } catch {
                let text = "\(error)"
                // A checkpoint older than manifests is not damaged, only unprovable: it says so instead.
                #expect(text.contains(message) && (text.contains("not the recipe") || name == "no manifest") && !text.contains("\n"), "\(name): \(text)")
            }
            let after = try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0)) }
            #expect(before == after, "\(name): the refusal changed the checkpoint")
        }
    }
}
