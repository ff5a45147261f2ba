import Primitives
import Program

extension PyTorchExport {
    /// Writes the classes of a program's subprograms, one per (subprogram, input width).
    struct Writer {
        let program: Program
        let initStd: Double
        let vocabulary: Int
        var classes: [String] = []
        var names: [String: String] = [:]   // "k@shape" → class name
        /// The kinds of parameter AdamW decays, as their names end (Model.DECAYED).
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

        /// A new parameter of `kind` as Python, from the initialisation table.
        func tensor(_ kind: ParameterKind, _ shape: [Int]) -> String {
            let dims = shape.count == 1 ? "\(shape[0])" : "(\(shape.map(String.init).joined(separator: ", ")))"
            switch kind.initialisation {
            case .normal(let std): return "normal(\(dims), \(pythonStd(std)))"
            case .constant(let x) where shape == [1]: return "torch.tensor([\(py(x))])"
            case .constant(1): return "torch.ones(\(dims))"
            case .constant(0): return "torch.zeros(\(dims))"
            case .constant(let x): return "torch.full(\(dims), \(py(x)))"
            case .mdha(let taps):
                let c = shape[1]
                return "torch.cat([torch.full((1, \(c)), \(py(Initialisation.mdha(0, channels: c, taps: taps)))), "
                    + "torch.full((\(taps - 1), \(c)), \(py(Initialisation.mdha(c, channels: c, taps: taps))))])"
            }
        }

        func pythonStd(_ std: InitStd) -> String { std.python(initStd: py(initStd), layers: genes.layers) }

        /// Notes a decayed kind for Model.DECAYED.
        mutating func decay(_ kind: String) { if !decayed.contains(kind) { decayed.append(kind) } }

        /// `self.sN = Params({"kind": tensor})` for an instruction's one parameter.
        mutating func params(_ s: String, _ kind: ParameterKind, _ shape: [Int]) -> String {
            if kind.decays { decay(kind.suffix) }
            return "self.\(s) = Params({\"\(kind.suffix)\": \(tensor(kind, shape))})"
        }

        /// The class of subprogram k for input `shape`, written if new; its name.
        mutating func subprogramClass(_ k: Int, input: StateShape) throws -> String {
            let key = "\(k)@\(input)"
            if let n = names[key] { return n }
            let name = k == 0 ? "Block" : "Subprogram\(k)" + (names.keys.contains { $0.hasPrefix("\(k)@") } ? "W\(width(input))" : "")
            names[key] = name
            var body = Body(shapes: try program.shapes(subprogram: k, input: input),
                            plan: SubprogramPlan(program.subprograms[k], isBlock: k == 0))
            for (i, ins) in program.subprograms[k].instructions.enumerated() {
                let expr = try expression(ins, at: i, &body)
                body.lines.append("        s\(i + 1) = \(expr)  # s\(i + 1) = \(ins.text)")
            }
            let kind = k == 0 ? "the decoder block, run once per layer on the residual stream" : "called where its call sites name it"
            var text = "class \(name)(nn.Module):\n    \"\"\"Subprogram \(k): \(kind); input \(input).\"\"\"\n\n"
            text += "    def __init__(self):\n        super().__init__()\n"
            text += body.members.isEmpty ? "        pass\n" : body.members.map { "        " + $0 + "\n" }.joined()
            text += "\n    def forward(self, s0, idx, aux):\n" + body.lines.joined(separator: "\n")
                + "\n        return s\(program.subprograms[k].instructions.count)\n"
            classes.append(text)
            return name
        }

        /// What a subprogram's class is being written with: its states' shapes, the compiler's
        /// plan of it, the members of `__init__` and the lines of `forward`.
        struct Body {
            let shapes: [StateShape]
            let plan: SubprogramPlan
            var members: [String] = []
            var lines: [String] = []
            var groupsSeen = Set<Int>()
        }

        /// The Python expression of instruction i, by its op's kernel kind (the compiler's
        /// `Lowering.lower` switches over the same kinds); its parameters join the members.
        mutating func expression(_ ins: Instruction, at i: Int, _ body: inout Body) throws -> String {
            let s = "s\(i + 1)", a = "s\(ins.input1)", b = "s\(ins.input2)"
            let wa = width(body.shapes[ins.input1]), out = width(body.shapes[i + 1])
            switch ins.op.spec.kernel {
            case .unary(let f): return unary(f, a)
            case .binary(let f): return binary(f, a, b)
            case .reduce(let r): return "\(a).\(reduction(r))(-1, keepdim=True)"
            case .mulConstant: return unary(.mulConstant(ins.constant), a)
            case .addConstant: return unary(.addConstant(ins.constant), a)
            case .softmax: return "softmax(\(a))"
            case .causalMask: return "causal_mask(\(a))"
            case .cumSum: return "\(a).cumsum(1)"
            case .learnedScale:
                body.members.append(params(s, .scale, [wa])); return "\(a) * self.\(s).scale"
            case .learnedShift:
                body.members.append(params(s, .shift, [wa])); return "\(a) + self.\(s).shift"
            case .dense: return dense(ins, at: i, input: wa, output: out, &body)
            case .conv(let taps):
                body.members.append(params(s, .conv(taps: taps), [taps, wa, out])); return "causal_conv(\(a), self.\(s).conv)"
            case .depthwiseConv(let taps):
                body.members.append(params(s, .depthwiseConv(taps: taps), [taps, wa])); return "depthwise_conv(\(a), self.\(s).dconv)"
            case .scores:
                let d = Double(wa / genes.heads)
                return "heads(\(a), \(genes.heads)) @ heads(\(b), \(genes.heads)).transpose(-2, -1) * \(py(Double(Float(1 / d.squareRoot()))))"
            case .attend: return "merge_heads(\(a) @ heads(\(b), \(genes.heads)))"
            case .call:
                if let kind = Pattern.norm(program, ins.dim) {
                    body.members.append(params(s, .normGain, [wa]))
                    return "\(kind == .layer ? "layer_norm" : "rms_norm")(\(a), self.\(s).norm)"
                }
                body.members.append("self.\(s) = \(try subprogramClass(ins.dim, input: body.shapes[ins.input1]))()")
                return "self.\(s)(\(a), idx, aux)"
            case .sparseFFN:
                return sparseFFN(s, a, input: wa, block: ins.dim * genes.dModel / 8,
                                 residual: body.plan.residualProjections.contains(i), &body)
            }
        }

        /// A DENSE: alone, one product; in a group feeding attention (q, k, v side by side),
        /// one weight for the group made at its first member, each member a slice of it.
        mutating func dense(_ ins: Instruction, at i: Int, input wa: Int, output out: Int, _ body: inout Body) -> String {
            let s = "s\(i + 1)", a = "s\(ins.input1)"
            guard let first = body.plan.groupOf[i] else {
                body.members.append(params(s, .dense(residual: body.plan.residualProjections.contains(i)), [wa, out]))
                return "\(a) @ self.\(s).dense"
            }
            let group = body.plan.denseGroups[first]!, n = group.firstIndex(of: i)!
            if body.groupsSeen.insert(first).inserted {
                body.members.append(params("s\(first + 1)", .dense(residual: false), [wa, out * group.count]))
                body.lines.append("        g\(first + 1) = \(a) @ self.s\(first + 1).dense  # one product for \(group.map { "s\($0 + 1)" }.joined(separator: ", "))")
            }
            return "g\(first + 1)[..., \(n * out):\((n + 1) * out)]"
        }

        /// A SPARSE_FFN's parameters (plain or MPO experts, the router's) and its call.
        mutating func sparseFFN(_ s: String, _ a: String, input wa: Int, block gw: Int, residual: Bool, _ body: inout Body) -> String {
            let e = genes.experts
            let keys = ParameterKind.expertKeys, values = ParameterKind.expertValues(residual: residual)
            var tensors = ["\"ffn.keys\": \(tensor(keys, [e, wa, gw]))", "\"ffn.values\": \(tensor(values, [e, gw, wa]))"]
            var buffers = "", contracted = ""
            if genes.mpo > 0 {
                tensors = []
                for (kind, rows, cols) in [(keys, wa, gw), (values, gw, wa)] {
                    contracted += mpoExperts(s, kind, rows: rows, cols: cols, &tensors, &body)
                }
            }
            decay(keys.suffix); decay(values.suffix)
            let router = genes.router.spec
            if router.learnedWeights {
                let kind = ParameterKind.router(inputs: wa)
                tensors.append("\"ffn.\(kind.suffix)\": \(tensor(kind, [wa, e]))")
                decay(kind.suffix)
            }
            if router.tokenTable { buffers = ", buffers={\"ffn.table\": torch.randint(0, \(e), (\(vocabulary),)).float()}" }
            body.members.append("self.\(s) = Params({\(tensors.joined(separator: ", "))}\(buffers))")
            return "sparse_ffn(\(a), self.\(s).ffn, route_\(genes.router.rawValue), \(genes.topk), \(py(genes.capacity)), idx, aux\(contracted))"
        }

        /// Each expert matrix of `kind` an MPO of `mpo` cores sharing the central one, every
        /// expert starting from the cores of one random matrix, as in evolve; returns the
        /// call's keyword argument that contracts them.
        mutating func mpoExperts(_ s: String, _ kind: ParameterKind, rows: Int, cols: Int,
                                 _ tensors: inout [String], _ body: inout Body) -> String {
            guard case .normal(let std) = kind.initialisation else { fatalError("MPO experts start from a normal matrix") }
            let which = kind.suffix, e = genes.experts, centre = genes.mpo / 2
            let shapes = mpoCoreShapes(rows: rows, cols: cols, cores: genes.mpo)
            let rf = "(\(shapes.map { "\($0[1])" }.joined(separator: ", ")))", cf = "(\(shapes.map { "\($0[2])" }.joined(separator: ", ")))"
            body.members.append("\(which)_cores = mpo_cores(\(rf), \(cf), \(pythonStd(std)))")
            tensors.append("\"ffn.\(which).central\": \(which)_cores[\(centre)]")
            for x in 0..<e { for k in 0..<genes.mpo where k != centre {
                tensors.append("\"ffn.\(which).e\(x).core\(k)\": \(which)_cores[\(k)].clone()")
            } }
            decay("central"); for k in 0..<genes.mpo { decay("core\(k)") }
            return ", \(which)=mpo_experts(self.\(s).ffn.\(which), \(e), \(rf), \(cf))"
        }

        func reduction(_ r: ReduceOp) -> String {
            switch r {
            case .sum: return "sum"
            case .mean: return "mean"
            case .max: return "amax"
            }
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
