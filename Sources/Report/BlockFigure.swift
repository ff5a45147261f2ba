import Program
import Store

/// A candidate's block drawn beside another's (its seed, or its parent), subprogram by
/// subprogram, with the structural diff marked.
enum BlockFigure {
    /// Against the seed its lineage starts from; empty for a seed, or a program that does not parse.
    static func against(seedOf c: Candidate, in s: StudySnapshot) -> String {
        guard let root = s.lineage(c.id!).first, root.id != c.id else { return "" }
        return figure(c, against: root, in: s, heading: "The block against its seed")
    }

    static func against(parentOf c: Candidate, in s: StudySnapshot) -> String {
        guard let p = c.parentId.flatMap(s.candidate) else { return "" }
        return figure(c, against: p, in: s, heading: "The block against its parent")
    }

    static func figure(_ c: Candidate, against base: Candidate, in s: StudySnapshot, heading: String) -> String {
        guard let old = try? Program(text: base.program), let new = try? Program(text: c.program) else { return "" }   // the texts as stored: a study's name need not be a program name
        var html = "<h3>\(heading)</h3>\n<p>Added: orange; changed (other operands or constant): yellow; removed: dashed.</p>\n"
        for k in 0..<max(old.subprograms.count, new.subprograms.count) {
            let (a, b) = ProgramGraph.pair(best: new, seed: old, subprogram: k)
            html += "<div class=\"pair\">" + a.svg(title: "#\(base.id!), subprogram \(k)") + b.svg(title: "#\(c.id!), subprogram \(k)") + "</div>\n"
        }
        return html
    }
}
