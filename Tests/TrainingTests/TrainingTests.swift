import Foundation
import Testing
import Config
import Model
import Primitives
import Program
import Tensor
@testable import Training
import TestSupport

func tinyConfig() -> TrainConfig {
    var c = TrainConfig()
    (c.model.genes.layers, c.model.genes.dModel, c.model.genes.heads, c.model.genes.context) = (2, 32, 2, 16)
    c.recipe.batchSize = 8; c.recipe.steps = 150; c.recipe.warmupSteps = 10
    c.recipe.learningRate = 3e-3
    return c
}

/// The baseline a config describes, compiled and trained.
func model(_ c: TrainConfig, _ data: Dataset, threads: Int) -> ReplicatedModel {
    try! replicated(c.model.program, vocabulary: data.tokenizer.vocabularySize, recipe: c.recipe, threads: threads)
}

func train(_ c: TrainConfig, _ data: Dataset, steps: Int? = nil, threads: Int = 2) -> TrainResult {
    Trainer(model: model(c, data, threads: threads), recipe: c.recipe).train(data, steps: steps)
}

@Suite("training")
struct TrainingTests {
    @Test func tokenizersRoundTrip() {
        let text = "Hello, wörld!\nÅ"
        for kind in [Tokenizer.Kind.char, .byte] {
            let t = Tokenizer(kind: kind, text: text)
            #expect(t.decode(t.encode(text)) == text)
        }
        let chars = Tokenizer(kind: .char, text: "cabca")
        #expect(chars.vocabularySize == 3)
        #expect(chars.encode("abc") == [0, 1, 2])
    }

    @Test func splitIsNinetyTen() {
        let d = Dataset(text: String(repeating: "ab", count: 50))
        #expect(d.train.count == 90 && d.validation.count == 10)
    }

    @Test func sha256KnownVectors() {
        #expect(sha256Hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(sha256Hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex(Data(String(repeating: "a", count: 1000).utf8))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func scheduleMatchesReference() {
        let r = Recipe()
        #expect(Swift.abs(learningRate(step: 0, total: 2000, r) - 1e-3 / 101) < 1e-12)
        #expect(Swift.abs(learningRate(step: 100, total: 2000, r) - 1e-3) < 1e-12)
        #expect(Swift.abs(learningRate(step: 1050, total: 2000, r) - 5.5e-4) < 1e-12)
        #expect(Swift.abs(learningRate(step: 2000, total: 2000, r) - 1e-4) < 1e-12)
    }

    @Test func adamWFirstStep() {
        let g = Graph<Float>()
        let w = g.parameter([2], name: "w", decays: true)
        let b = g.parameter([2], name: "b")
        w.set([1, -2]); b.set([0.5, 0.5])
        w.storage.grad![0] = 0.1; w.storage.grad![1] = -0.3
        b.storage.grad![0] = 0.2; b.storage.grad![1] = 0
        let opt = AdamW([w, b], beta1: 0.9, beta2: 0.99, weightDecay: 0.1)
        opt.update(learningRate: 0.01)
        // First step: m̂ = g, v̂ = g², so the update is lr·g/(|g| + eps) = ±lr; decay only on w.
        #expect(Swift.abs(w[0] - (1 * (1 - 0.001) - 0.01)) < 1e-6)
        #expect(Swift.abs(w[1] - (-2 * (1 - 0.001) + 0.01)) < 1e-6)
        #expect(Swift.abs(b[0] - (0.5 - 0.01)) < 1e-6)
        #expect(b[1] == 0.5)
    }

    @Test func clippingBoundsTheNorm() {
        let g = Graph<Float>()
        let w = g.parameter([2], name: "w")
        w.storage.grad![0] = 3; w.storage.grad![1] = 4
        let (norm, scale) = clipFactor([w], maxNorm: 1, threads: 2)
        #expect(norm == 5)
        #expect(Swift.abs(scale - 0.2) < 1e-6)
        #expect(clipFactor([w], maxNorm: 10).scale == 1)
    }

    /// AdamW's update in eight lanes gives the scalar formula's bits (37 elements: four
    /// lane groups split across two threads, and tails).
    @Test func adamWLanesMatchTheFormula() {
        let g = Graph<Float>()
        let w = g.parameter([37], name: "w", decays: true)
        var rng = Xoshiro(seed: 4)
        var weights = (0..<37).map { _ in Float(rng.normal()) }
        w.set(weights)
        var m = [Float](repeating: 0, count: 37), v = m
        let opt = AdamW([w], beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
        for step in 1...3 {
            let grads = (0..<37).map { _ in Float(rng.normal()) }
            for j in 0..<37 { w.storage.grad![j] = grads[j] }
            opt.update(learningRate: 0.01, gradScale: 0.7, threads: 2)
            let c1 = 1 - pow(Float(0.9), Float(step)), c2 = 1 - pow(Float(0.95), Float(step))
            let stepSize = Float(0.01) / c1, rc2 = 1 / c2.squareRoot(), decay = 1 - Float(0.01) * 0.1
            for j in 0..<37 {
                let gj = grads[j] * 0.7
                m[j] = 0.9 * m[j] + (1 - 0.9) * gj
                v[j] = 0.95 * v[j] + (1 - 0.95) * gj * gj
                weights[j] = weights[j] * decay - stepSize * m[j] / (v[j].squareRoot() * rc2 + 1e-8)
            }
            let same = w.values.map { $0.bitPattern } == weights.map { $0.bitPattern }
            #expect(same, "step \(step)")
        }
    }

    /// The replica merge sums the merged gradient's squares on the way; they equal a
    /// separate pass's exactly, so clipping is unchanged.
    @Test func mergeSumsTheSquares() {
        let c = tinyConfig(), d = Dataset(text: syntheticText())
        let m = model(c, d, threads: 2)
        var sampler = BatchSampler(seed: 1)
        sampler.fill(m, from: d.train)
        m.forwardBackward()
        #expect(m.mergedSquares == squaredNormParts(m.parameters, threads: 2))
        #expect(m.mergedSquares!.joined().contains { $0 > 0 })
    }

    @Test func lossFallsOnAPattern() {
        let c = tinyConfig()
        let r = train(c, Dataset(text: syntheticText()))
        #expect(r.losses.first! > 2.0)
        #expect(r.trainLoss < 1.0, "train loss \(r.trainLoss)")
        #expect(r.valLoss < 1.0, "val loss \(r.valLoss)")
    }

    @Test func sameSeedSameLosses() {
        let c = tinyConfig(), d = Dataset(text: syntheticText())
        let a = train(c, d, steps: 20), b = train(c, d, steps: 20)
        #expect(a.losses == b.losses)
        #expect(a.valLoss == b.valLoss)
        var other = c
        other.recipe.seed = 7
        #expect(train(other, d, steps: 20).losses != a.losses)
    }

    /// A run's numbers are its own: the same losses alone as beside a run of other threads
    /// in the same process. (The engine's per-op threads split reductions; when they were
    /// one setting of the process, the model built last set them for both, and tests,
    /// which run side by side, saw resumed runs drift from uninterrupted ones.)
    @Test func runsBesideOthersKeepTheirNumbers() {
        let d = Dataset(text: syntheticText())
        var wide = tinyConfig()
        wide.recipe.batchSize = 2   // 4 threads over 2 rows: 2 engine threads per replica
        let configs = [(tinyConfig(), 1), (wide, 4)]
        let alone = configs.map { train($0.0, d, steps: 12, threads: $0.1).losses }
        let trainers = configs.map { Trainer(model: model($0.0, d, threads: $0.1), recipe: $0.0.recipe) }
        let beside = UnsafeMutableBufferPointer<[Float]>.allocate(capacity: 2)
        defer { beside.deallocate() }
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            (beside.baseAddress! + i).initialize(to: trainers[i].train(d, steps: 12).losses)
        }
        #expect(beside[0] == alone[0] && beside[1] == alone[1])
        beside.baseAddress!.deinitialize(count: 2)
    }

    /// The validation loss is the same whatever batch, and however many replicas, the
    /// windows are evaluated in.
    @Test func evaluationIgnoresPaddingAndReplicas() {
        var c = tinyConfig()
        let d = Dataset(text: syntheticText())
        c.recipe.batchSize = 5
        let context = c.model.genes.context
        let set = d.validationSet(context: context, limit: .max), sample = d.validationSet(context: context, limit: 3 * context)
        let a = evaluate(model(c, d, threads: 1), on: set), s5 = evaluate(model(c, d, threads: 1), on: sample)
        c.recipe.batchSize = 12
        let b = evaluate(model(c, d, threads: 2), on: set), s12 = evaluate(model(c, d, threads: 2), on: sample)
        #expect(Swift.abs(a - b) < 1e-5 && Swift.abs(s5 - s12) < 1e-5)
        #expect(sample.sampled && s5 != a)
    }

    /// Two replicas compute the gradient of one: the losses agree to rounding.
    @Test func replicasMatchOneGraph() {
        let c = tinyConfig(), d = Dataset(text: syntheticText())
        let one = train(c, d, steps: 10, threads: 1), two = train(c, d, steps: 10, threads: 2)
        #expect(one.losses.count == 10 && two.losses.count == 10)
        for (a, b) in zip(one.losses, two.losses) { #expect(Swift.abs(a - b) < 1e-4) }
    }

    /// Replicas share one prologue (MPO experts contracted from their cores, Avg-K's mean
    /// keys) and send its gradient back through it once: the loss and every parameter's
    /// gradient of one batch equal one graph's (capacity large enough that no token is
    /// dropped, since capacity follows the rows a replica sees; hash routing, since Switch's
    /// balancing loss is a product of per-replica means and differs by design).
    @Test(arguments: ["mpo-moe", "avgk-sffn"])
    func replicasShareThePrologue(_ name: String) throws {
        var p = try seed(name)
        (p.genes.layers, p.genes.dModel, p.genes.heads, p.genes.context) = (2, 32, 2, 16)
        p.genes.capacity = Double(p.genes.experts)
        if p.genes.router == .switch { p.genes.router = .hash }
        var r = Recipe()
        r.batchSize = 4
        let d = Dataset(text: syntheticText())
        func run(threads: Int) throws -> (loss: Float, grads: [[Float]]) {
            let m = try replicated(p, vocabulary: d.tokenizer.vocabularySize, recipe: r, threads: threads)
            d.train.withWindow(from: 0, length: d.train.count) { tokens in
                for row in 0..<r.batchSize { m.setRow(row, tokens: tokens, start: row * 17) }
            }
            let loss = m.forwardBackward()
            return (loss, m.parameters.map { $0.grads })
        }
        let (one, two) = (try run(threads: 1), try run(threads: 2))
        #expect(Swift.abs(one.loss - two.loss) < 1e-5)
        for (i, (a, b)) in zip(one.grads, two.grads).enumerated() {
            let scale = max(a.map { Swift.abs($0) }.max()!, 1e-6)
            let worst = zip(a, b).map { Swift.abs($0 - $1) }.max()!
            #expect(worst <= 1e-4 * scale, "parameter \(i): gradients differ by \(worst) (largest \(scale))")
        }
    }

    @Test func configDefaultsAndErrors() throws {
        let baseline = try TrainConfig.load(path: packageRoot.appendingPathComponent("configs/baseline.yaml").path)
        #expect(baseline == TrainConfig())
        #expect(try TrainConfig.parse("model:\n  layers: 2\n").model.genes.layers == 2)
        #expect(try TrainConfig.parse("model:\n  activation: swish\n  norm: rms\n").model.program.text.contains("SWISH"))
        // Integers may be written as whole numbers (`1e3`, `2.0`), as configs always could.
        let whole = try TrainConfig.parse("model:\n  layers: 2.0\ntraining:\n  steps: 1e3\n  replicas: 2.0\n")
        #expect(whole.model.genes.layers == 2 && whole.recipe.steps == 1000 && whole.recipe.replicas == 2)
        func error(_ text: String) -> String {
            do { _ = try TrainConfig.parse(text, file: "x.yaml"); return "no error" } catch { return "\(error)" }
        }
        #expect(error("model:\n  layer: 2\n").hasPrefix("x.yaml: model: unknown key 'layer'"))
        #expect(error("model:\n  heads: three\n") == "x.yaml: model: 'heads' has the wrong type or value")
        #expect(error("model:\n  d_model: 10\n  heads: 3\n").hasPrefix("x.yaml: model: genes: d_model 10 must divide by 8"))
        #expect(error("model:\n  mlp_ratio: 5\n") == "x.yaml: model: mlp_ratio 5 is not one of 1, 2, 3, 4, 6, 8")
        #expect(error("model:\n  activation: relu6\n").hasPrefix("x.yaml: model: activation 'relu6' is not one of gelu"))
        // Every name a file gives from a fixed set: the key, the name and the names known.
        #expect(error("model:\n  norm: batch\n") == "x.yaml: model: norm 'batch' is not one of layer, rms")
        #expect(error("training:\n  precision: bf16\n") == "x.yaml: training: precision 'bf16' is not one of float32, bfloat16")
        #expect(error("training:\n  precision: 16\n") == "x.yaml: training: precision '16' is not one of float32, bfloat16")
        #expect(error("training:\n  tokenizer: bpe\n") == "x.yaml: training: tokenizer 'bpe' is not one of char, byte")
        #expect(try TrainConfig.parse("training:\n  precision: bfloat16\n  tokenizer: byte\n").recipe.precision == .bfloat16)
        #expect(error("- a list\n") == "x.yaml: expected a mapping with model: and training: sections")
        #expect(error("training:\n  steps: 10.5\n") == "x.yaml: training: 'steps' has the wrong type or value")
        #expect(error("model:\n  layers: .nan\n") == "x.yaml: model: 'layers' must be a finite number, found nan")
        #expect(error("program:\n  name: p\n  subprograms:\n  - [FOO s0]\n") == "x.yaml: program: subprograms[0][0]: unknown op 'FOO'")
        #expect(error("training:\n  stepz: 5\n") == "x.yaml: training: unknown key 'stepz' (known: batch_size, beta1, beta2, grad_clip, init_std, learning_rate, min_learning_rate, precision, replicas, seed, steps, stop_after, tokenizer, train_fraction, validation_tokens, warmup_steps, weight_decay)")
    }

    @Test func corpusErrors() throws {
        #expect(throws: CorpusError.self) { try Corpus.locate("/nonexistent/corpus.txt") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-\(UUID())")
        do {
            try Corpus.download(from: "http://127.0.0.1:9/none", to: dir.appendingPathComponent("c.txt"))
            Issue.record("a download from a closed port succeeded")
        } catch {
            #expect("\(error)".contains("pass --corpus PATH"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }
}

/// MPOE's gradient mask: with the mask always on, the shared central cores move only by
/// weight decay; with it off they learn; the auxiliary cores learn either way.
@Suite("MPO gradient mask")
struct GradientMaskTests {
    /// The largest change of any central-core and any auxiliary-core value over 6 steps, and
    /// the largest weight decay alone could make (lr · weight decay · |w| per step).
    func centralAndAuxiliaryChange(mask: Double) throws -> (central: Float, auxiliary: Float, decayBound: Float) {
        var p = try seed("mpo-moe")
        (p.genes.layers, p.genes.dModel, p.genes.heads, p.genes.context) = (1, 32, 2, 16)
        p.genes.mpoMask = mask
        try p.validate()
        var r = Recipe()
        r.batchSize = 4; r.warmupSteps = 1
        let data = Dataset(text: syntheticText())
        let m = try replicated(p, vocabulary: data.tokenizer.vocabularySize, recipe: r, threads: 1)
        let before: [[Float]] = m.parameters.map { $0.values }
        let trainer = Trainer(model: m, recipe: r)
        for it in 0..<6 { _ = trainer.step(it, total: 6, data: data.train) }
        func largest(_ pick: (String) -> Bool) -> Float {
            zip(m.parameters, before).filter { pick($0.0.name) }
                .map { t, b in zip(t.values, b).map { abs($0 - $1) }.max()! }.max()!
        }
        let centralScale = zip(m.parameters, before).filter { $0.0.name.hasSuffix(".central") }.map { $0.1.map(abs).max()! }.max()!
        return (largest { $0.hasSuffix(".central") }, largest { $0.contains(".core") },
                6 * Float(r.learningRate * r.weightDecay) * centralScale)
    }

    @Test func maskHoldsTheCentralCore() throws {
        let masked = try centralAndAuxiliaryChange(mask: 0.999_999_9)
        let open = try centralAndAuxiliaryChange(mask: 0)
        #expect(masked.central <= masked.decayBound * 1.01, "masked central core moved \(masked.central), decay alone \(masked.decayBound)")
        #expect(open.central > 5 * open.decayBound, "unmasked central core moved only \(open.central)")
        #expect(masked.auxiliary > 1e-4 && open.auxiliary > 1e-4)
    }

    @Test func maskIsAGene() throws {
        var p = try seed("mpo-moe")
        p.genes.mpoMask = 0.5
        let back = try Program(text: p.text)
        let plain = try seed("mpo-moe")
        #expect(back.genes.mpoMask == 0.5 && back.hash == p.hash && back.hash != plain.hash)
        p.genes.mpoMask = 1
        #expect(throws: (any Error).self) { try p.validate() }
        var dense = try seed("switch-moe")
        dense.genes.mpoMask = 0.5
        #expect(throws: (any Error).self) { try dense.validate() }
        #expect(throws: (any Error).self) { try Program(text: "program x\ngenes layers=1 mpo_mask=2\nsubprogram 0\n  s1 = RELU s0\n") }
    }
}
