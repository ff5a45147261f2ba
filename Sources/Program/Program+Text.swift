import Foundation

/// The readable text form, one instruction per line as in Primer's program listings:
///
///     program vanilla
///     genes layers=4 d_model=128 heads=4 context=64
///     subprogram 0
///       s1 = DENSE s0 dim=8
///       s2 = ADD s0 s1
///       s3 = C_MUL s2 c=0.5
///
/// State s0 is the subprogram's input; the line writing sN is instruction N−1; the last
/// state is the output. `#` starts a comment. Printing then parsing gives the same program.
extension Program {
    public var text: String {
        var genesLine = "genes layers=\(genes.layers) d_model=\(genes.dModel) heads=\(genes.heads) context=\(genes.context)"
        if genes.altup > 1 { genesLine += " altup=\(genes.altup) altup_mode=\(genes.altupMode.rawValue)" }
        if genes.usesRouter(subprograms) {
            genesLine += " router=\(genes.router.rawValue) experts=\(genes.experts) topk=\(genes.topk) capacity=\(genes.capacity)"
            if genes.mpo > 0 { genesLine += " mpo=\(genes.mpo)" }
            if genes.mpo > 0 && genes.mpoMask > 0 { genesLine += " mpo_mask=\(genes.mpoMask)" }
        }
        var lines = ["program \(name)", genesLine]
        for (k, sub) in subprograms.enumerated() {
            lines.append("subprogram \(k)")
            for (i, ins) in sub.instructions.enumerated() { lines.append("  s\(i + 1) = \(ins.text)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses the text form; errors name the file and line.
    public init(text: String, file: String = "program") throws {
        var name: String?, genes = Genes(), subprograms = [Subprogram](), instructions = 0
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let head = words.first else { continue }
            do {
                switch head {
                case "program":
                    guard words.count == 2 else { throw ProgramError("expected `program NAME`") }
                    name = words[1]
                case "genes":
                    for w in words.dropFirst() { try genes.read(w) }
                case "subprogram":
                    guard words.count == 2, Int(words[1]) == subprograms.count else {
                        throw ProgramError("expected `subprogram \(subprograms.count)`")
                    }
                    guard subprograms.count < Program.limits.subprograms else {
                        throw ProgramError("more than \(Program.limits.subprograms) subprograms; evolve reads at most that many")
                    }
                    subprograms.append(Subprogram([]))
                default:
                    try Program.append(words, to: &subprograms)
                    instructions += 1
                    guard instructions <= Program.limits.instructions else {
                        throw ProgramError("more than \(Program.limits.instructions) instructions; evolve reads at most that many")
                    }
                }
            } catch let e as ProgramError {
                throw ProgramError("\(file):\(n + 1): \(e.description)")
            }
        }
        guard let name else { throw ProgramError("\(file): no `program NAME` line") }
        self.init(name: name, genes: genes, subprograms: subprograms)
    }

    /// An instruction line, `sN = OP INPUTS…`, added to the last subprogram.
    private static func append(_ words: [String], to subprograms: inout [Subprogram]) throws {
        guard !subprograms.isEmpty else { throw ProgramError("an instruction before any `subprogram` line") }
        let expected = "s\(subprograms[subprograms.count - 1].instructions.count + 1)"
        guard words.count >= 3, words[1] == "=" else { throw ProgramError("expected `\(expected) = OP INPUTS…`") }
        guard words[0] == expected else { throw ProgramError("this line writes \(expected), not \(words[0])") }
        subprograms[subprograms.count - 1].instructions.append(try Instruction(words: Array(words[2...])))
    }
}

extension Genes {
    /// One `key=value` of the text form's `genes` line.
    fileprivate mutating func read(_ word: String) throws {
        guard let (key, value) = keyValue(word) else { throw ProgramError("expected key=value, found '\(word)'") }
        switch key {
        case "altup_mode":
            guard let mode = AltUpMode(rawValue: value) else { throw ProgramError("altup_mode is alternating or same, found '\(value)'") }
            altupMode = mode
        case "router":
            guard let r = Router(rawValue: value) else { throw ProgramError("router is \(Router.names), found '\(value)'") }
            router = r
        case "mpo_mask":
            guard let m = Double(value), m >= 0, m < 1 else { throw ProgramError("mpo_mask is a probability in [0, 1), found '\(value)'") }
            mpoMask = m
        case "capacity":
            guard let c = Double(value), c > 0 else { throw ProgramError("capacity must be a positive number, found '\(value)'") }
            capacity = c
        default:
            guard let v = Int(value), v > 0 else { throw ProgramError("\(key) must be a positive integer, found '\(value)'") }
            switch key {
            case "layers": layers = v
            case "d_model": dModel = v
            case "heads": heads = v
            case "context": context = v
            case "altup": altup = v
            case "experts": experts = v
            case "topk": topk = v
            case "mpo": mpo = v
            default:
                throw ProgramError("unknown gene '\(key)' (known: altup, altup_mode, capacity, context, d_model, experts, heads, layers, mpo, mpo_mask, router, topk)")
            }
        }
    }
}

extension Instruction {
    /// `OP s1 [s2] [c=CONSTANT] [dim=D]`; a CALL reads `sub=K` for its subprogram.
    public var text: String {
        ([op.rawValue] + inputs.map { "s\($0)" } + operands).joined(separator: " ")
    }

    /// What the instruction does apart from what it reads: the op with its constant and dim
    /// (or callee). The canonical form hashes it; the report matches nodes by it.
    public var operatorText: String { ([op.rawValue] + operands).joined(separator: " ") }

    private var operands: [String] {
        var parts = [String]()
        if op.usesConstant { parts.append("c=\(constant)") }
        if op.usesDim { parts.append(op == .call ? "sub=\(dim)" : "dim=\(dim)") }
        return parts
    }

    /// The text form with the constant to 4 significant digits, for logs and mutation
    /// descriptions (`text` keeps every digit, so that a program reads back exactly).
    public var brief: String {
        guard op.usesConstant else { return text }
        return text.replacingOccurrences(of: "c=\(constant)", with: "c=" + String(format: "%.4g", constant))
    }

    init(words: [String]) throws {
        guard let first = words.first else { throw ProgramError("an empty instruction") }
        guard let op = Op(rawValue: first) else {
            throw ProgramError("unknown op '\(first)'")
        }
        var states = [Int](), constant: Double?, dim: Int?
        for w in words.dropFirst() {
            if w.hasPrefix("s"), let i = Int(w.dropFirst()) {
                states.append(i)
            } else if let (k, v) = keyValue(w), k == "c", let c = Double(v), op.usesConstant {
                guard c.isFinite else { throw ProgramError("\(op.rawValue): c must be a finite number, found '\(v)'") }
                constant = c
            } else if let (k, v) = keyValue(w), k == (op == .call ? "sub" : "dim"), let d = Int(v), op.usesDim {
                dim = d
            } else {
                throw ProgramError("\(op.rawValue): cannot read '\(w)'")
            }
        }
        guard states.count == op.arity else {
            throw ProgramError("\(op.rawValue) takes \(op.arity) input\(op.arity == 1 ? "" : "s"), found \(states.count)")
        }
        if op.usesConstant && constant == nil { throw ProgramError("\(op.rawValue) needs c=CONSTANT") }
        if op.usesDim && dim == nil { throw ProgramError("\(op.rawValue) needs \(op == .call ? "sub=K" : "dim=D")") }
        self.init(op, states[0], states.count > 1 ? states[1] : 0, constant: constant ?? 0, dim: dim ?? 0)
    }
}

private func keyValue(_ word: String) -> (String, String)? {
    let parts = word.split(separator: "=", maxSplits: 1)
    return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
}

/// A malformed or invalid program: one line naming the place and the reason.
public struct ProgramError: Error, CustomStringConvertible, Equatable {
    public let description: String
    /// Line breaks (a path or a value that holds one) are written as \n: an error is one line.
    public init(_ description: String) { self.description = oneLine(description) }
}

/// Text with its line breaks written as \n, for one-line messages.
public func oneLine(_ s: String) -> String {
    s.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
}
