import ArgumentParser
import Foundation
import Program
import Store

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a program file, or a study's candidate by ID with its lineage: each state's shape, parameters and FLOPs per token.")

    @Argument(help: "A program file (the text form, or YAML / JSON), or a candidate's ID in a study.")
    var target: String

    @Option(parsing: .unconditional, help: "Vocabulary size for the embedding and head (tinyshakespeare's is 65).")
    var vocabulary = 65

    @OptionGroup var study: StudyOptions

    func run() throws {
        try reportingErrors {
            if let id = Int64(target), !FileManager.default.fileExists(atPath: target) {
                let (store, s) = try study.open()
                guard let c = try store.candidate(id), c.studyId == s.id else {
                    throw CommandError(description: "no candidate #\(id) in study \(s.name)")
                }
                try printLineage(store, c)
                try printRungs(store, s, subject: c.subject ?? c.id!)
                print("")
                try printProgram(try Program(text: c.listing(in: s)))
            } else {
                try printProgram(try Program.load(path: target))
            }
        }
    }

    /// Each ancestor from the seed down: its mutation and what it scored.
    func printLineage(_ store: Store, _ c: Candidate) throws {
        print("candidate #\(c.id!): \(c.status.rawValue)\(c.failed.map { " (\($0))" } ?? ""), "
              + "val_loss \(c.fitness.map { String(format: "%.4f", $0) } ?? "none")"
              + (c.bitsPerByte.map { String(format: " (%.4f bits per byte)", $0) } ?? "") + ", seed \(c.seed)"
              + (c.reusedFrom.map { ", same as #\($0) (its result taken)" } ?? "")
              + (c.rung > 0 ? ", a rung job: #\(c.subject ?? 0) at rung \(c.rung) (\(c.mutationKind ?? "job"))" : ""))
        for e in try store.evaluations(c.id!) {
            print(String(format: "  band %d: %d steps, val_loss %@%@, %.1fs", e.band, e.steps,
                         e.loss.map { String(format: "%.4f", $0) } ?? e.lossKind.rawValue,
                         e.bitsPerByte.map { String(format: ", val_bpb %.4f", $0) } ?? "", e.seconds))
        }
        print("lineage (seed first):")
        for a in try store.lineage(c.id!) {
            let gain = try store.changeAgainstParent(a).map { String(format: " (%+.4f at equal steps)", $0) } ?? ""
            print(String(format: "  #%lld gen %d  %@  %@%@", a.id!, a.generation,
                         a.fitness.map { String(format: "%.4f", $0) } ?? (a.failure?.rawValue ?? a.status.rawValue), a.mutation ?? "seed", gain))
        }
    }

    func printProgram(_ p: Program) throws {
        let cost = try p.cost(vocabulary: vocabulary)   // first: a program too large to count prints nothing
        for (k, sub) in p.subprograms.enumerated() {
            print(k == 0 ? "subprogram 0 (the decoder block, input s0 \(StateShape.residual))" : "subprogram \(k)")
            // Shapes for the first call site (subprogram 0: the residual stream).
            let input = p.inputShape(ofSubprogram: k) ?? .residual
            let shapes = (try? p.shapes(subprogram: k, input: input)) ?? []
            for (i, ins) in sub.instructions.enumerated() {
                let line = "  s\(i + 1) = \(ins.text)"
                let shape = i + 1 < shapes.count ? "\(shapes[i + 1])" : ""
                print(line.padding(toLength: max(36, line.count + 2), withPad: " ", startingAt: 0) + shape)
            }
        }
        let g = p.genes
        if p.subprograms.contains(where: { $0.instructions.contains { $0.op.spec.operand == .width } }) {
            print("(dim=N is a width of N eighths of d_model: dim=8 is \(g.dModel) channels here, dim=32 four times that)")
        }
        print(keyValues([
            "program": p.name, "hash": p.hash, "layers": "\(g.layers)", "d_model": "\(g.dModel)",
            "heads": "\(g.heads)", "context": "\(g.context)",
            "params": "\(cost.parameters)", "flops_per_token": "\(cost.flopsPerToken)",
        ]))
    }
}

