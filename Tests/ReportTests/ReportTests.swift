import Foundation
import Primitives
import Program
import Testing
@testable import Report
@testable import Store
import TestSupport

/// A study with `n` completed candidates in a line of descent, two bands each (some stopped
/// at the hurdle), and one failure — made directly in the store, no training needed.
func syntheticStudy(_ n: Int) throws -> (Store, Study) {
    let path = temporaryDatabase()
    let store = try openStore(path)
    let study = try store.study(named: "demo <&>", space: "name: demo\npopulation: 10\n", seed: 1)
    var parent: Int64?
    for i in 0..<n {
        let c = try store.makeCandidate(study: study.id!, limit: n, recent: 10, worker: testWorker(1)) { number, _ in
            Candidate(studyId: study.id!, program: "program p\(number)\nsubprogram 0\n  s1 = ADD s0 s0",
                      hash: "h\(number)", parentId: parent, mutation: number == 0 ? nil : "insert <\(number)>",
                      generation: number, seed: Int64(number))
        }!
        if i == 3 {
            try store.complete(c.id!, fitness: .nan, failure: Failure(.diverged, "test"))
            continue
        }
        let loss = 3.0 - 0.05 * Double(i) + (i % 2 == 0 ? 0 : 0.2)
        for band in 0..<(i % 2 == 0 ? 2 : 1) {
            try store.record(Evaluation(candidateId: c.id!, band: band, loss: loss + 0.1 * Double(1 - band), steps: 100 * (band + 1),
                                        tokens: 1000, seconds: 1, parameters: 100, flopsPerToken: 1000 + 10 * i))
        }
        try store.complete(c.id!, fitness: loss)
        if i % 2 == 0 { parent = c.id }
    }
    return (store, study)
}

@Suite("report")
struct ReportTests {
    @Test func pageHoldsThePlotsTheBestAndItsLineage() throws {
        let (store, study) = try syntheticStudy(12)
        let html = try StudyReport(store: store, study: study, population: 10).html()
        #expect(html.components(separatedBy: "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\"").count - 1 == 3)
        // 11 finite candidates in "fitness over time"; the last 10 completed, less the failed one, in the population.
        #expect(html.components(separatedBy: "class=\"point\"").count - 1 == 11 + 9 + 17)
        #expect(html.contains("Best: #11, validation loss 2.5000"))
        #expect(html.contains("insert &lt;10&gt;"))           // escaped, in the lineage
        #expect(html.contains("<td>diverged</td><td>1</td>"))
        #expect(!html.contains("demo <&>"))
    }

    /// The fast coordinate formatter writes what "%.1f" writes (but on exact halves of a
    /// tenth, where printf's binary rounding may go either way), never more than 0.05 off.
    @Test func coordinatesAsPrintfWritesThem() {
        var rng = Xoshiro(seed: 3)
        let values = [0.0, 0.04, 12.34, 99.96, 719.94, -0.04, -3.26, 300] + (0..<2000).map { _ in Double.random(in: -50...800, using: &rng) }
        for v in values {
            let text = Plot.oneDecimal(v), half = abs(abs(v * 10).truncatingRemainder(dividingBy: 1) - 0.5) < 1e-6
            #expect(half || text == String(format: "%.1f", v), "\(v)")
            #expect(abs((Double(text) ?? .nan) - v) <= 0.05 + 1e-9, "\(v) → \(text)")
        }
    }

    /// A series of thousands of points is one path of dots, each point a stroke.
    @Test func manyPointsAreOnePath() {
        let points = (0..<2000).map { (x: Double($0), y: Double($0 % 7)) }
        let svg = Plot(title: "t", xLabel: "x", yLabel: "y", series: [.init(name: "s", color: "#000", points: points)]).svg()
        #expect(!svg.contains("<circle class=\"point\"") && svg.contains("data-points=\"2000\""))
        #expect(svg.components(separatedBy: "h0").count - 1 == 2000)
    }

    @Test func ticksAreRoundAndInside() {
        let t = Plot.ticks(0.93...4.17)
        #expect(t.allSatisfy { (0.93...4.17).contains($0) })
        #expect(t == [1, 2, 3, 4])
    }

    /// Opened in headless Chromium: every plot is laid out at its size and every point drawn.
    @Test func rendersInAHeadlessBrowser() throws {
        let (store, study) = try syntheticStudy(12)
        let html = try StudyReport(store: store, study: study, population: 10).html()
        // The page as written, plus a script (for the test only) that reports what the engine laid out.
        let probe = """
            <script>
            const plots = [...document.querySelectorAll('svg.plot')].map(s => s.getBoundingClientRect());
            const points = [...document.querySelectorAll('circle.point')].filter(c => c.getBBox().width > 0);
            document.body.setAttribute('data-rendered', plots.map(r => Math.round(r.width) + 'x' + Math.round(r.height)).join(',') + ';' + points.length);
            </script></body>
            """
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-report-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let page = dir.appendingPathComponent("report.html")
        try html.replacingOccurrences(of: "</body>", with: probe).write(to: page, atomically: true, encoding: .utf8)
        let dom = try chromium(["--dump-dom", page.absoluteString])
        // What the page declares: each plot's size, and how many points it draws.
        let declared = html.components(separatedBy: "<svg ").dropFirst().filter { $0.contains("class=\"plot\"") }.map { svg -> String in
            func attribute(_ name: String) -> String {
                svg.components(separatedBy: "\(name)=\"").dropFirst().first?.components(separatedBy: "\"").first ?? "?"
            }
            return attribute("width") + "x" + attribute("height")
        }
        let points = html.components(separatedBy: "<circle class=\"point\"").count - 1
        #expect(declared.count == 3 && points > 12)
        #expect(dom.contains("data-rendered=\"\(declared.joined(separator: ","));\(points)\""), "\(dom.prefix(400))")
        // And a screenshot of the page as shipped: a real image, much larger than a blank page's.
        try html.write(to: page, atomically: true, encoding: .utf8)
        let blank = dir.appendingPathComponent("blank.html")
        try "<!DOCTYPE html><html><body></body></html>".write(to: blank, atomically: true, encoding: .utf8)
        var sizes = [Int]()
        for (name, url) in [("report.png", page), ("blank.png", blank)] {
            let png = dir.appendingPathComponent(name).path
            _ = try chromium(["--screenshot=\(png)", "--window-size=800,1400", url.absoluteString])
            sizes.append((try FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0)
        }
        #expect(sizes[0] > 5 * sizes[1], "screenshots: report \(sizes[0]) bytes, blank \(sizes[1]) bytes")
    }
}

/// Runs headless Chromium (installed by the README's install line) and returns its output.
func chromium(_ arguments: [String]) throws -> String {
    let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
    guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        Issue.record("no headless browser: install chromium (apt-get install -y chromium), as the README says")
        return ""
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"] + arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

@Suite("the block against its seed")
struct ProgramGraphTests {
    /// An insert is one added node, everything after it still matched; a delete is one
    /// removed node of the seed.
    @Test func marksWhatTheSearchChanged() throws {
        let seed = try TestSupport.seed("vanilla")
        var grown = seed
        // s13 = GELU s12 → s14 = SQUARE s13, read by the MLP's down projection.
        grown.subprograms[0].instructions = splice(seed.subprograms[0].instructions, Instruction(.square, 13), after: 13)
        let (a, b) = ProgramGraph.pair(best: grown, seed: seed, subprogram: 0)
        #expect(b.marks.values.filter { $0 == .added }.count == 1 && b.marks[14] == .added, "\(b.marks)")
        #expect(!a.marks.values.contains(.removed))
        var shrunk = seed
        shrunk.subprograms[0].instructions.remove(at: 12)                 // the GELU; the down projection reads s12
        shrunk.subprograms[0].instructions[12].input1 = 12
        shrunk.subprograms[0].instructions[13].input2 = 13
        let (c, d) = ProgramGraph.pair(best: shrunk, seed: seed, subprogram: 0)
        #expect(c.marks.values.filter { $0 == .removed }.count == 1 && c.marks[13] == .removed, "\(c.marks)")
        #expect(!d.marks.values.contains(.added), "\(d.marks)")
        #expect(c.svg(title: "seed").contains("stroke-dasharray") && b.svg(title: "best").contains("#d0502a"))
    }

    /// `body` with `ins` as state s+1, read in place of s by the instruction after it.
    func splice(_ body: [Instruction], _ ins: Instruction, after s: Int) -> [Instruction] {
        var out = body
        for j in s..<out.count {
            if out[j].input1 > s || (out[j].input1 == s && j == s) { out[j].input1 += 1 }
            if out[j].op.arity == 2, out[j].input2 > s { out[j].input2 += 1 }
        }
        out.insert(ins, at: s)
        return out
    }
}
