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
public enum PyTorchExport {
    public struct ExportError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The Python source of `program` for a vocabulary of `vocabulary` tokens.
    public static func source(_ program: Program, vocabulary: Int, initStd: Double = 0.02, header: [String] = []) throws -> String {
        let g = program.genes
        try program.validate()
        var writer = Writer(program: program, initStd: initStd, vocabulary: vocabulary)
        let block = try writer.subprogramClass(0, input: .residual)
        var out = prelude(program, header: header)
        out += writer.classes.joined(separator: "\n\n") + "\n\n"
        out += model(program, vocabulary: vocabulary, block: block, initStd: initStd, decayed: writer.decayed)
        return out
    }

    static func prelude(_ p: Program, header: [String]) -> String {
        // The program's name and text go in comments, never in a string literal: no name or
        // path can break the Python.
        let comment = { (text: String) in text.split(separator: "\n", omittingEmptySubsequences: false).map { "# " + $0 }.joined(separator: "\n") }
        return """
        \(comment("\(p.name), exported from evolve: the program below as a PyTorch module." + header.map { "\n" + $0 }.joined()))
        #
        \(comment(p.text.trimmingCharacters(in: .newlines)))
        \"\"\"A program exported from evolve as a PyTorch module (its text is in the comments above).

        Model() is initialised as evolve initialises it; Model.from_checkpoint(DIR) loads the
        weights of `evolve train ... --save DIR`. forward(idx, targets) returns (logits, loss),
        loss the mean cross-entropy, as nanoGPT's model does.
        \"\"\"
        import math
        import os

        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        def normal(shape, std):
            return torch.randn(shape) * std


        class Params(nn.Module):
            \"\"\"The parameters (and fixed buffers) one instruction owns, named as evolve names them;
            a dotted name nests ("ffn.keys" is self.ffn.keys).\"\"\"

            def __init__(self, tensors, buffers=None):
                super().__init__()
                for name, value in tensors.items():
                    self.put(name, nn.Parameter(value))
                for name, value in (buffers or {}).items():
                    self.put(name, value, buffer=True)

            def put(self, dotted, value, buffer=False):
                *path, leaf = dotted.split(".")
                module = self
                for part in path:
                    if not hasattr(module, part):
                        module.add_module(part, nn.Module())
                    module = getattr(module, part)
                (module.register_buffer if buffer else module.register_parameter)(leaf, value)


        def heads(x, h):
            \"\"\"[B, T, W] -> [B, H, T, W/H].\"\"\"
            b, t, w = x.shape
            return x.view(b, t, h, w // h).transpose(1, 2)


        def merge_heads(x):
            \"\"\"[B, H, T, D] -> [B, T, H*D].\"\"\"
            b, h, t, d = x.shape
            return x.transpose(1, 2).reshape(b, t, h * d)


        def causal_mask(x):
            \"\"\"Scores [..., T, T] with every later position set to -inf.\"\"\"
            t = x.shape[-1]
            return x.masked_fill(torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1), float("-inf"))


        def softmax(x):
            \"\"\"Over the last axis; a row that is -inf throughout gives zeros, as evolve computes it.\"\"\"
            y = torch.softmax(x, -1)
            return torch.where(torch.isneginf(x).all(-1, keepdim=True), torch.zeros_like(y), y)


        def layer_norm(x, gain):
            return F.layer_norm(x, (x.shape[-1],), gain, None, 1e-5)


        def rms_norm(x, gain):
            return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + 1e-5) * gain


        def causal_conv(x, w):
            \"\"\"y[t] = sum_s x[t - s] @ w[s] (x before the window is 0); x [B, T, I], w [S, I, O].\"\"\"
            taps, t = w.shape[0], x.shape[1]
            padded = F.pad(x, (0, 0, taps - 1, 0))
            return sum(padded[:, taps - 1 - s:taps - 1 - s + t] @ w[s] for s in range(taps))


        def depthwise_conv(x, w):
            \"\"\"y[t, c] = sum_s w[s, c] * x[t - s, c]; x [B, T, C], w [S, C].\"\"\"
            taps, t = w.shape[0], x.shape[1]
            padded = F.pad(x, (0, 0, taps - 1, 0))
            return sum(padded[:, taps - 1 - s:taps - 1 - s + t] * w[s] for s in range(taps))


        def top_k(scores, k):
            \"\"\"Each row's k largest columns, best first; ties go to the lower column.\"\"\"
            return torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]


        def mpo_matrix(cores, rows, cols):
            \"\"\"A matrix [prod(rows), prod(cols)] from its matrix-product-operator cores
            T_k [r_{k-1}, rows[k], cols[k], r_k], contracted left to right.\"\"\"
            acc = cores[0].reshape(-1, cores[0].shape[-1])
            for core in cores[1:]:
                acc = (acc @ core.reshape(core.shape[0], -1)).reshape(-1, core.shape[-1])
            n = len(rows)
            x = acc.reshape([d for pair in zip(rows, cols) for d in pair])  # (i1 j1 ... in jn)
            return x.permute(*range(0, 2 * n, 2), *range(1, 2 * n, 2)).reshape(math.prod(rows), math.prod(cols))


        def mpo_experts(module, experts, rows, cols):
            \"\"\"Every expert's matrix, each an MPO sharing the central core: [E, prod(rows), prod(cols)].\"\"\"
            n, centre = len(rows), len(rows) // 2
            return torch.stack([
                mpo_matrix([module.central if k == centre else getattr(getattr(module, f"e{e}"), f"core{k}") for k in range(n)], rows, cols)
                for e in range(experts)])


        def mpo_cores(rows, cols, std):
            \"\"\"The cores of a random N(0, std) matrix by successive SVDs (exact, full bonds), as
            evolve starts every expert.\"\"\"
            n = len(rows)
            w = torch.randn(math.prod(rows), math.prod(cols), dtype=torch.float64) * std
            rest = w.reshape(list(rows) + list(cols)).permute([a for k in range(n) for a in (k, n + k)]).reshape(-1)
            cores, bond = [], 1
            for k in range(n - 1):
                m = bond * rows[k] * cols[k]
                u, s, vt = torch.linalg.svd(rest.reshape(m, -1), full_matrices=False)
                cores.append(u.reshape(bond, rows[k], cols[k], -1))
                rest, bond = (s[:, None] * vt).reshape(-1), s.shape[0]
            cores.append(rest.reshape(bond, rows[-1], cols[-1], 1))
            return [c.float() for c in cores]


        def sparse_ffn(x, p, router, k, capacity, idx, aux, keys=None, values=None):
            \"\"\"evolve's SPARSE_FFN: E blocks of g memory cells (keys [E, C, g], values [E, g, C]). The
            router picks each token's k blocks; tokens claim a block's `capacity` share of slots
            in time order (every sequence's position 0, then position 1, ...), and a token past a
            full block is dropped there (its residual path carries it). Switch gates a block's
            output by its probability and adds its load-balancing loss to `aux`.\"\"\"
            keys = p.keys if keys is None else keys        # MPO experts come contracted
            values = p.values if values is None else values
            b, t, c = x.shape
            n, e = b * t, keys.shape[0]
            x2 = x.reshape(n, c)
            gates = None
            if router == "switch":
                probs = torch.softmax(x2 @ p.router, -1)
                choice = top_k(probs, k)
                gates = probs.gather(1, choice)
                routed = torch.bincount(choice.reshape(-1), minlength=e).to(x.dtype) / choice.numel()
                aux.append(0.01 * e * (routed * probs.mean(0)).sum())
            elif router == "hash":
                table = p.table.long()[idx.reshape(-1)]
                choice = torch.stack([(table + i) % e for i in range(k)], 1)
            else:  # avgk: scores against each block's mean key
                choice = top_k(x2 @ keys.mean(-1).t(), k)
            slots = math.ceil(capacity * n * k / e)
            order = torch.arange(n * k, device=x.device).view(b, t, k).transpose(0, 1).reshape(-1)  # choices in time order
            chosen = choice.reshape(-1)[order]
            place = (F.one_hot(chosen, e).cumsum(0) - 1).gather(1, chosen[:, None]).squeeze(1)  # its place in its block's queue
            kept = place < slots
            flat, block, slot = order[kept], chosen[kept], place[kept]
            rows = flat // k
            xin = x2.new_zeros(e, slots, c)
            xin[block, slot] = x2[rows]
            y = (F.gelu(xin @ keys) @ values)[block, slot]
            if gates is not None:
                y = y * gates.reshape(-1)[flat][:, None]
            return x2.new_zeros(n, c).index_add(0, rows, y).reshape(b, t, c)



        """
    }

    static func model(_ p: Program, vocabulary: Int, block: String, initStd: Double, decayed: [String]) -> String {
        let g = p.genes
        let k = g.altup
        var layers = (0..<g.layers).map { "        self.h\($0) = \(block)()" }
        if k > 1 {
            // AltUp's learned scalars live beside each layer's block: h0.altup.p01, h0.altup.g1, …
            let scalars = (0..<k).flatMap { i in (0..<k).map { j in "\"p\(i)\(j)\": torch.tensor([\(i == j ? "1.0" : "0.0")])" } }
                + (0..<k).map { "\"g\($0)\": torch.tensor([1.0])" }
            layers += (0..<g.layers).map { "        self.h\($0).altup = Params({\(scalars.joined(separator: ", "))})" }
        }
        let stream = k == 1 ? """
                    for l in range(self.layers):
                        x = getattr(self, f"h{l}")(x, idx, aux)
            """ : """
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
        return """
        class Model(nn.Module):
            \"\"\"Token and learned position embeddings, \(g.layers) × \(block) on the residual stream\(k > 1 ? " (AltUp, \(k) copies)" : ""), a final
            layer norm and the output head tied to the token embedding.\"\"\"

            vocabulary, context, d_model, layers = \(vocabulary), \(g.context), \(g.dModel), \(g.layers)

            def __init__(self):
                super().__init__()
                self.wte = nn.Parameter(normal((\(vocabulary), \(g.dModel)), \(py(initStd))))
                self.wpe = nn.Parameter(normal((\(g.context), \(g.dModel)), \(py(initStd))))
        \(layers.joined(separator: "\n"))
                self.ln_f = nn.Parameter(torch.ones(\(g.dModel)))

            def forward(self, idx, targets=None):
                t = idx.shape[1]
                x = F.embedding(idx, self.wte) + self.wpe[:t]
                aux = []
        \(stream)
                logits = layer_norm(x, self.ln_f) @ self.wte.t()
                loss = None if targets is None else F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
                # Routing's load-balancing terms, kept apart from the loss: training adds them.
                self.aux_loss = sum(aux) if aux else None
                return logits, loss

            # Parameters AdamW decays, as evolve decays them (matrices, not gains, shifts or
            # depthwise filters).
            DECAYED = {\(decayed.map { "\"\($0)\"" }.joined(separator: ", "))}

            def parameter_groups(self, weight_decay):
                named = list(self.named_parameters())
                decay = [p for n, p in named if self.decays(n)]
                other = [p for n, p in named if not self.decays(n)]
                return [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]

            def decays(self, name):
                return name in ("wte", "wpe") or name.rsplit(".", 1)[-1] in self.DECAYED

            @classmethod
            def from_checkpoint(cls, folder):
                \"\"\"The model with the weights of `evolve train … --save FOLDER`.\"\"\"
                from safetensors.torch import load_file
                model = cls()
                model.load_state_dict(load_file(os.path.join(folder, "model.safetensors")))
                return model

        """
    }

    /// A Python float literal that reads back to the same Float32.
    static func py(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(format: "%.1f", x) }
        return "\(x)"
    }

    /// Writes the classes of a program's subprograms, one per (subprogram, input width).
    struct Writer {
        let program: Program
        let initStd: Double
        let vocabulary: Int
        var classes: [String] = []
        var names: [String: String] = [:]   // "k@shape" → class name
        var decayed: [String] = []

        init(program: Program, initStd: Double, vocabulary: Int) {
            self.program = program; self.initStd = initStd; self.vocabulary = vocabulary
        }

        var genes: Genes { program.genes }

        func width(_ s: StateShape) -> Int {
            switch s {
            case .hidden(let e): return e * genes.dModel / 8
            case .perPosition: return 1
            case .scores: return genes.context
            }
        }

        mutating func decay(_ kind: String) { if !decayed.contains(kind) { decayed.append(kind) } }

        /// The class of subprogram k for input `shape`, written if new; its name.
        mutating func subprogramClass(_ k: Int, input: StateShape) throws -> String {
            let key = "\(k)@\(input)"
            if let n = names[key] { return n }
            let name = k == 0 ? "Block" : "Subprogram\(k)" + (names.keys.contains { $0.hasPrefix("\(k)@") } ? "W\(width(input))" : "")
            names[key] = name
            let shapes = try program.shapes(subprogram: k, input: input)
            let plan = SubprogramPlan(program.subprograms[k], isBlock: k == 0)
            var members = [String](), lines = [String]()
            var groupSeen = Set<Int>()
            for (i, ins) in program.subprograms[k].instructions.enumerated() {
                let s = "s\(i + 1)", a = "s\(ins.input1)", b = "s\(ins.input2)"
                let wa = width(shapes[ins.input1]), out = width(shapes[i + 1])
                let comment = "  # \(s) = \(ins.text)"
                func params(_ kind: String, _ value: String) { members.append("self.\(s) = Params({\"\(kind)\": \(value)})") }
                let expr: String
                switch ins.op.spec.kernel {
                case .unary(let f): expr = unary(f, a)
                case .binary(let f): expr = binary(f, a, b)
                case .reduce(let r): expr = "\(a).\(["sum": "sum", "mean": "mean", "max": "amax"][r.rawValue]!)(-1, keepdim=True)"
                case .mulConstant: expr = "\(a) * \(py(Double(Float(ins.constant))))"
                case .addConstant: expr = "\(a) + \(py(Double(Float(ins.constant))))"
                case .softmax: expr = "softmax(\(a))"
                case .causalMask: expr = "causal_mask(\(a))"
                case .cumSum: expr = "\(a).cumsum(1)"
                case .learnedScale:
                    params("scale", "torch.ones(\(wa))"); expr = "\(a) * self.\(s).scale"
                case .learnedShift:
                    params("shift", "torch.zeros(\(wa))"); expr = "\(a) + self.\(s).shift"
                case .dense:
                    decay("dense")
                    if let first = plan.groupOf[i] {
                        // One weight for the group (q, k, v side by side), each member a slice of it.
                        let group = plan.denseGroups[first]!, n = group.firstIndex(of: i)!
                        if !groupSeen.contains(first) {
                            groupSeen.insert(first)
                            params("dense", "normal((\(wa), \(out * group.count)), \(py(initStd)))")
                            lines.append("        g\(first + 1) = \(a) @ self.s\(first + 1).dense  # one product for \(group.map { "s\($0 + 1)" }.joined(separator: ", "))")
                        }
                        expr = "g\(first + 1)[..., \(n * out):\((n + 1) * out)]"
                    } else {
                        let residual = plan.residualProjections.contains(i)
                        let std = residual ? "\(py(initStd)) / math.sqrt(2 * \(genes.layers))" : py(initStd)
                        params("dense", "normal((\(wa), \(out)), \(std))")
                        expr = "\(a) @ self.\(s).dense"
                    }
                case .conv(let taps):
                    decay("conv")
                    params("conv", "normal((\(taps), \(wa), \(out)), \(py(initStd)) / math.sqrt(\(taps)))")
                    expr = "causal_conv(\(a), self.\(s).conv)"
                case .depthwiseConv(let taps):
                    params("dconv", "torch.cat([torch.full((1, \(wa)), 0.5), torch.full((\(taps - 1), \(wa)), \(py(0.5 / Double(taps))))])")
                    expr = "depthwise_conv(\(a), self.\(s).dconv)"
                case .scores:
                    let d = Double(wa / genes.heads)
                    expr = "heads(\(a), \(genes.heads)) @ heads(\(b), \(genes.heads)).transpose(-2, -1) * \(py(Double(Float(1 / d.squareRoot()))))"
                case .attend:
                    expr = "merge_heads(\(a) @ heads(\(b), \(genes.heads)))"
                case .call:
                    if let kind = Pattern.norm(program, ins.dim) {
                        params("norm", "torch.ones(\(wa))")
                        expr = "\(kind == .layer ? "layer_norm" : "rms_norm")(\(a), self.\(s).norm)"
                    } else {
                        let callee = try subprogramClass(ins.dim, input: shapes[ins.input1])
                        members.append("self.\(s) = \(callee)()")
                        expr = "self.\(s)(\(a), idx, aux)"
                    }
                case .sparseFFN:
                    let (e, gw) = (genes.experts, ins.dim * genes.dModel / 8), std = plan.residualProjections.contains(i) ? "\(py(initStd)) / math.sqrt(2 * \(genes.layers))" : py(initStd)
                    var tensors = ["\"ffn.keys\": normal((\(e), \(wa), \(gw)), \(py(initStd)))", "\"ffn.values\": normal((\(e), \(gw), \(wa)), \(std))"]
                    var buffers = "", contracted = ""
                    if genes.mpo > 0 {
                        // Each expert matrix an MPO of `mpo` cores sharing the central one.
                        tensors = []
                        for (which, rows, cols, std) in [("keys", wa, gw, py(initStd)), ("values", gw, wa, std)] {
                            let shapes = mpoCoreShapes(rows: rows, cols: cols, cores: genes.mpo)
                            let rf = "(\(shapes.map { "\($0[1])" }.joined(separator: ", ")))", cf = "(\(shapes.map { "\($0[2])" }.joined(separator: ", ")))"
                            let centre = genes.mpo / 2
                            // Every expert starts from the cores of one random matrix, as in evolve.
                            members.append("\(which)_cores = mpo_cores(\(rf), \(cf), \(std))")
                            tensors.append("\"ffn.\(which).central\": \(which)_cores[\(centre)]")
                            for x in 0..<e { for k in 0..<genes.mpo where k != centre {
                                tensors.append("\"ffn.\(which).e\(x).core\(k)\": \(which)_cores[\(k)].clone()")
                            } }
                            contracted += ", \(which)=mpo_experts(self.\(s).ffn.\(which), \(e), \(rf), \(cf))"
                        }
                        decay("central"); for k in 0..<genes.mpo { decay("core\(k)") }
                    }
                    switch genes.router {
                    case .switch: tensors.append("\"ffn.router\": normal((\(wa), \(e)), math.sqrt(0.1 / \(wa)))")
                    case .hash: buffers = ", buffers={\"ffn.table\": torch.randint(0, \(e), (\(vocabulary),)).float()}"
                    case .avgk: break
                    }
                    decay("keys"); decay("values"); decay("router")
                    members.append("self.\(s) = Params({\(tensors.joined(separator: ", "))}\(buffers))")
                    expr = "sparse_ffn(\(a), self.\(s).ffn, \"\(genes.router.rawValue)\", \(genes.topk), \(py(genes.capacity)), idx, aux\(contracted))"
                }
                lines.append("        \(s) = \(expr)" + comment)
            }
            let kind = k == 0 ? "the decoder block, run once per layer on the residual stream" : "called where its call sites name it"
            var text = "class \(name)(nn.Module):\n    \"\"\"Subprogram \(k): \(kind); input \(input).\"\"\"\n\n"
            text += "    def __init__(self):\n        super().__init__()\n"
            text += members.isEmpty ? "        pass\n" : members.map { "        " + $0 + "\n" }.joined()
            text += "\n    def forward(self, s0, idx, aux):\n" + lines.joined(separator: "\n") + "\n        return s\(program.subprograms[k].instructions.count)\n"
            classes.append(text)
            return name
        }

        func unary(_ f: UnaryOp, _ a: String) -> String {
            switch f {
            case .negate: return "-\(a)"
            case .abs: return "\(a).abs()"
            case .square: return "\(a).square()"
            case .sqrt: return "\(a).sqrt()"
            case .absRoot: return "\(a).abs().sqrt()"
            case .exp: return "\(a).exp()"
            case .logAbs: return "\(a).abs().log()"
            case .sin: return "\(a).sin()"
            case .cos: return "\(a).cos()"
            case .sign: return "\(a).sign()"
            case .reciprocal: return "1 / \(a)"
            case .relu: return "F.relu(\(a))"
            case .squaredRelu: return "F.relu(\(a)).square()"
            case .gelu: return "F.gelu(\(a))"
            case .swish: return "F.silu(\(a))"
            case .sigmoid: return "\(a).sigmoid()"
            case .tanh: return "\(a).tanh()"
            case .mulConstant(let c): return "\(a) * \(py(Double(Float(c))))"
            case .addConstant(let c): return "\(a) + \(py(Double(Float(c))))"
            }
        }

        func binary(_ f: BinaryOp, _ a: String, _ b: String) -> String {
            switch f {
            case .add: return "\(a) + \(b)"
            case .subtract: return "\(a) - \(b)"
            case .multiply: return "\(a) * \(b)"
            case .divide: return "\(a) / \(b)"
            case .max: return "torch.maximum(\(a), \(b))"
            case .min: return "torch.minimum(\(a), \(b))"
            }
        }
    }
}
