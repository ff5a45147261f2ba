import Foundation
import Primitives
import Program

/// The compiler's second back end: a program as a self-contained PyTorch module that
/// computes what the engine computes, with the engine's parameter names (so evolve's
/// `model.safetensors` loads with `load_state_dict`) and its initialisation (so the module
/// trains from scratch as evolve would). Each subprogram is a class; each instruction is a
/// line naming the state it makes; an instruction's parameters live in a small module named
/// after its state (`self.s2.dense` is `h0.s2.dense`), and a called subprogram is a module
/// at its call site (`h0.s11.s9.scale`). A norm the compiler fuses is a call of
/// `layer_norm` / `rms_norm`; fused attention is written out as its four instructions.
/// The helpers those lines call are Python, in `Resources/runtime.py`.
public enum PyTorchExport {
    public struct ExportError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The Python source of `program` for a vocabulary of `vocabulary` tokens.
    public static func source(_ program: Program, vocabulary: Int, initStd: Double = 0.02, header: [String] = []) throws -> String {
        try program.validate()
        var writer = Writer(program: program, initStd: initStd, vocabulary: vocabulary)
        let block = try writer.subprogramClass(0, input: .residual)
        var out = prelude(program, header: header)
        out += writer.classes.joined(separator: "\n\n") + "\n\n"
        out += model(writer, block: block)
        return out
    }

    static func prelude(_ p: Program, header: [String]) -> String {
        // The program's name and text go in comments, never in a string literal: no name or
        // path can break the Python.
        let comment = { (text: String) in text.split(separator: "\n", omittingEmptySubsequences: false).map { "# " + $0 }.joined(separator: "\n") }
        return comment("\(p.name), exported from evolve: the program below as a PyTorch module." + header.map { "\n" + $0 }.joined())
            + "\n#\n" + comment(p.text.trimmingCharacters(in: .newlines)) + "\n" + runtime + "\n\n"
    }

    /// The Python every exported module starts with (`Resources/runtime.py`: the helpers the
    /// instructions' lines call; linted and unit-tested on its own).
    static let runtime: String = {
        guard let url = Bundle.module.url(forResource: "runtime", withExtension: "py"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            fatalError("evolve's PyTorch runtime (runtime.py) is missing from its resources")
        }
        return text
    }()

    /// The Model class: embeddings, the layers of the block (or AltUp's stream), the final
    /// norm and the tied head.
    static func model(_ w: Writer, block: String) -> String {
        let g = w.genes, k = g.altup
        var layers = (0..<g.layers).map { "        self.h\($0) = \(block)()" }
        if k > 1 {
            // AltUp's learned scalars live beside each layer's block: h0.altup.p01, h0.altup.g1, …
            let scalars = (0..<k).flatMap { i in (0..<k).map { j in "\"p\(i)\(j)\": \(w.tensor(.altupMix(identity: i == j), [1]))" } }
                + (0..<k).map { "\"g\($0)\": \(w.tensor(.altupGain, [1]))" }
            layers += (0..<g.layers).map { "        self.h\($0).altup = Params({\(scalars.joined(separator: ", "))})" }
        }
        // MPO experts' shared central cores lose their gradient at a step with mpo_mask's probability.
        let gradientMask = g.mpo > 0 && g.mpoMask > 0 ? """


                # The shared central cores of MPO experts: a training step drops each one's gradient
                # with this probability (evolve's mpo_mask).
                GRADIENT_MASK = {"central": \(py(g.mpoMask))}
            """ : ""
        return """
        class Model(ExportedModel):
            \"\"\"Token and learned position embeddings, \(g.layers) × \(block) on the residual stream\(k > 1 ? " (AltUp, \(k) copies)" : ""), a final
            layer norm and the output head tied to the token embedding.\"\"\"

            vocabulary, context, d_model, layers = \(w.vocabulary), \(g.context), \(g.dModel), \(g.layers)

            # Parameters AdamW decays, as evolve decays them (matrices, not gains, shifts or
            # depthwise filters).
            DECAYED = {\(w.decayed.map { "\"\($0)\"" }.joined(separator: ", "))}\(gradientMask)
            def __init__(self):
                super().__init__()
                self.wte = nn.Parameter(\(w.tensor(.embedding, [w.vocabulary, g.dModel])))
                self.wpe = nn.Parameter(\(w.tensor(.embedding, [g.context, g.dModel])))
        \(layers.joined(separator: "\n"))
                self.ln_f = nn.Parameter(\(w.tensor(.finalNorm, [g.dModel])))

            def forward(self, idx, targets=None):
                t = idx.shape[1]
                x = F.embedding(idx, self.wte) + self.wpe[:t]
                aux = []
        \(k == 1 ? residualStream : altUpStream(g))
                logits = layer_norm(x, self.ln_f) @ self.wte.t()
                loss = None if targets is None else F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
                # Routing's load-balancing terms, kept apart from the loss: training adds them.
                self.aux_loss = sum(aux) if aux else None
                return logits, loss

        """
    }

    static let residualStream = """
                for l in range(self.layers):
                    x = getattr(self, f"h{l}")(x, idx, aux)
        """

    static func altUpStream(_ g: Genes) -> String {
        let k = g.altup
        return """
                # Recycled AltUp: \(k) copies of the stream; each layer predicts every copy from all of them,
                # runs the block on one (\(g.altupMode == .alternating ? "copy l mod \(k)" : "copy 0")), and corrects each
                # prediction by a learned share of what the block changed. The copies are averaged at the end.
                blocks = [x] * \(k)
                for l in range(self.layers):
                    h = getattr(self, f"h{l}")
                    star = \(g.altupMode == .alternating ? "l % \(k)" : "0")
                    predicted = [sum(blocks[j] * getattr(h.altup, f"p{i}{j}") for j in range(\(k))) for i in range(\(k))]
                    delta = h(blocks[star], idx, aux) - predicted[star]
                    blocks = [predicted[i] + delta * getattr(h.altup, f"g{i}") for i in range(\(k))]
                x = sum(blocks) * \(py(Double(Float(1 / Double(k)))))
        """
    }

    /// A Python float literal that reads back to the same Float32.
    static func py(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(format: "%.1f", x) }
        return "\(x)"
    }
}
