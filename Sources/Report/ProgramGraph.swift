import Foundation
import Program

/// A subprogram's dataflow drawn as SVG, beside another's, with what differs marked — as
/// Primer's figures show a found block against the vanilla one. Nodes are live states, in
/// rows by depth (s0 at the top); an edge joins each input to its reader. Added nodes are
/// orange, changed ones yellow, removed ones dashed.
struct ProgramGraph {
    typealias Mark = BlockDiff.Mark

    let program: Program
    let subprogram: Int
    let marks: [Int: Mark]   // state → mark; states absent are dead (not drawn)

    /// The found program's and the base's graphs of subprogram k (the base: its seed or its
    /// parent), each node marked by the structural diff (`BlockDiff`).
    static func pair(best: Program, seed: Program, subprogram k: Int) -> (seed: ProgramGraph, best: ProgramGraph) {
        let b = k < best.subprograms.count ? best.subprograms[k].instructions : []
        let s = k < seed.subprograms.count ? seed.subprograms[k].instructions : []
        let (newMarks, oldMarks) = BlockDiff.marks(new: b, old: s)
        return (ProgramGraph(program: seed, subprogram: k, marks: oldMarks), ProgramGraph(program: best, subprogram: k, marks: newMarks))
    }

    /// The op with its constant and dim: what a node does, apart from what it reads.
    static func key(_ ins: Instruction) -> String { ins.operatorText }

    func svg(title: String) -> String {
        let body = subprogram < program.subprograms.count ? program.subprograms[subprogram].instructions : []
        var depth = [0: 0], rows = [Int: [Int]]()
        for (i, ins) in body.enumerated() where marks[i + 1] != nil {
            depth[i + 1] = 1 + (ins.inputs.compactMap { depth[$0] }.max() ?? 0)
        }
        for s in depth.keys.sorted() { rows[depth[s]!, default: []].append(s) }
        let boxW = 132.0, boxH = 22.0, gapX = 12.0, gapY = 20.0
        let widest = rows.values.map(\.count).max() ?? 1
        let width = Double(widest) * (boxW + gapX) + gapX, height = Double(rows.count) * (boxH + gapY) + 40
        var at = [Int: (x: Double, y: Double)]()
        for (d, states) in rows {
            let offset = (width - Double(states.count) * (boxW + gapX) + gapX) / 2
            for (n, s) in states.enumerated() { at[s] = (offset + Double(n) * (boxW + gapX), 30 + Double(d) * (boxH + gapY)) }
        }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\" width=\"\(Int(width))\" height=\"\(Int(height))\">\n"
        out += "<text x=\"\(gapX)\" y=\"16\" font-size=\"12\" font-weight=\"bold\">\(escape(title))</text>\n"
        for (i, ins) in body.enumerated() {
            guard let to = at[i + 1] else { continue }
            for input in Set(ins.inputs).sorted() {   // sorted: the same page from the same study
                guard let from = at[input] else { continue }
                out += "<line x1=\"\(f(from.x + boxW / 2))\" y1=\"\(f(from.y + boxH))\" x2=\"\(f(to.x + boxW / 2))\" y2=\"\(f(to.y))\" stroke=\"#aaa\"/>\n"
            }
        }
        for (s, p) in at.sorted(by: { $0.key < $1.key }) {
            let label = s == 0 ? "s0 input" : "s\(s) \(ProgramGraph.key(body[s - 1]))"
            let (fill, stroke) = switch marks[s] ?? .same {
                case .same: ("#f4f4f4", "#999")
                case .added: ("#fde3d6", "#d0502a")
                case .removed: ("#e4e4e4", "#777")
                case .changed: ("#fff3c4", "#b08a00")
            }
            let dash = marks[s] == .removed ? " stroke-dasharray=\"4 3\"" : ""
            out += "<g class=\"node \(marks[s].map { "\($0)" } ?? "same")\"><rect x=\"\(f(p.x))\" y=\"\(f(p.y))\" width=\"\(f(boxW))\" height=\"\(f(boxH))\" rx=\"4\" "
                + "fill=\"\(fill)\" stroke=\"\(stroke)\"\(dash)/>"
                + "<text x=\"\(f(p.x + 6))\" y=\"\(f(p.y + 15))\" font-size=\"11\" font-family=\"monospace\">\(escape(String(label.prefix(20))))</text></g>\n"
        }
        return out + "</svg>\n"
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
