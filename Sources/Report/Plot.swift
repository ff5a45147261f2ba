import Foundation

/// A small scatter/line chart rendered as inline SVG: no script, no external file, so the
/// report opens anywhere and prints as it shows.
public struct Plot {
    public struct Series {
        public var name: String
        public var color: String
        public var points: [(x: Double, y: Double)]
        /// A step line through the points instead of dots (a running best).
        public var line = false
        /// Dots joined by straight segments (a curve).
        public var joined = false

        public init(name: String, color: String, points: [(x: Double, y: Double)], line: Bool = false, joined: Bool = false) {
            self.name = name; self.color = color; self.points = points; self.line = line; self.joined = joined
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    public var width = 720.0, height = 300.0
    let left = 64.0, right = 16.0, top = 44.0, bottom = 44.0

    public init(title: String, xLabel: String, yLabel: String, series: [Series], height: Double = 300) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series; self.height = height
    }

    /// A palette of distinguishable colours, by index.
    public static func color(_ i: Int) -> String {
        ["#4a7bd0", "#d0502a", "#3a9a5b", "#8d6cc4", "#d09a2a", "#555555", "#2ab0c0", "#c02a7a"][i % 8]
    }

    public func svg() -> String {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">\n"
        out += text(left, 18, title, anchor: "start", weight: "bold")
        guard !all.isEmpty else { return out + text(width / 2, height / 2, "no data yet", anchor: "middle") + "</svg>\n" }
        let xs = Plot.range(all.map(\.x)), ys = Plot.range(all.map(\.y))
        let pw = width - left - right, ph = height - top - bottom
        func px(_ x: Double) -> Double { left + (x - xs.lowerBound) / (xs.upperBound - xs.lowerBound) * pw }
        func py(_ y: Double) -> Double { top + (1 - (y - ys.lowerBound) / (ys.upperBound - ys.lowerBound)) * ph }
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#999\"/>\n"
        for t in Plot.ticks(xs) {
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top + ph))\" x2=\"\(f(px(t)))\" y2=\"\(f(top + ph + 4))\" stroke=\"#999\"/>"
            out += text(px(t), top + ph + 16, Plot.label(t), anchor: "middle")
        }
        for t in Plot.ticks(ys) {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(left + pw))\" y2=\"\(f(py(t)))\" stroke=\"#eee\"/>"
            out += text(left - 6, py(t) + 4, Plot.label(t), anchor: "end")
        }
        out += text(left + pw / 2, height - 8, xLabel, anchor: "middle")
        out += "<text x=\"14\" y=\"\(f(top + ph / 2))\" transform=\"rotate(-90 14 \(f(top + ph / 2)))\" text-anchor=\"middle\" font-size=\"12\">\(escape(yLabel))</text>\n"
        var legendX = left + pw
        for s in series.reversed() {
            legendX -= Double(s.name.count) * 7 + 24
            out += "<circle cx=\"\(f(legendX))\" cy=\"30\" r=\"4\" fill=\"\(s.color)\"/>" + text(legendX + 8, 34, s.name, anchor: "start")
        }
        for s in series {
            let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            if s.line {
                // A step line: the value holds until the next point.
                var d = ""
                for (i, p) in pts.enumerated() {
                    d += i == 0 ? "M\(f(px(p.x))),\(f(py(p.y)))" : "H\(f(px(p.x)))V\(f(py(p.y)))"
                }
                out += "<path class=\"series\" d=\"\(d)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"/>\n"
            } else {
                if s.joined {
                    let d = pts.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(f(px($0.element.x))),\(f(py($0.element.y)))" }.joined()
                    out += "<path class=\"series\" d=\"\(d)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.5\"/>\n"
                }
                if pts.count > Plot.dotsInOnePath {
                    // Thousands of dots as one path of round zero-length strokes: one element to
                    // parse and paint instead of one each, and a third of the bytes.
                    var d = ""
                    d.reserveCapacity(pts.count * 16)
                    for p in pts { d += "M\(f(px(p.x))) \(f(py(p.y)))h0" }
                    out += "<path class=\"series dots\" data-points=\"\(pts.count)\" d=\"\(d)\" fill=\"none\" stroke=\"\(s.color)\" "
                        + "stroke-opacity=\"0.7\" stroke-width=\"6\" stroke-linecap=\"round\"/>\n"
                } else {
                    out += "<g class=\"series\" fill=\"\(s.color)\" fill-opacity=\"0.7\">"
                    for p in pts { out += "<circle class=\"point\" cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\"/>" }
                    out += "</g>\n"
                }
            }
        }
        return out + "</svg>\n"
    }

    /// The data's range, padded by 5% (and widened when it is a single value).
    static func range(_ v: [Double]) -> ClosedRange<Double> {
        let lo = v.min()!, hi = v.max()!
        let pad = hi > lo ? (hi - lo) * 0.05 : max(abs(lo) * 0.05, 0.5)
        return (lo - pad)...(hi + pad)
    }

    /// About five round tick values inside the range.
    static func ticks(_ r: ClosedRange<Double>) -> [Double] {
        let raw = (r.upperBound - r.lowerBound) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var t = ceil(r.lowerBound / step) * step, out = [Double]()
        while t <= r.upperBound { out.append(t); t += step }
        return out
    }

    static func label(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e6 ? String(Int(v)) : String(format: "%.3g", v)
    }

    private func text(_ x: Double, _ y: Double, _ s: String, anchor: String, weight: String = "normal") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" font-size=\"12\" font-weight=\"\(weight)\">\(escape(s))</text>\n"
    }

    private func f(_ v: Double) -> String { Plot.oneDecimal(v) }

    /// Above this many points a series' dots are drawn as one path.
    static let dotsInOnePath = 500

    /// `v` with one decimal, as "%.1f" writes it, without Foundation's formatter (a page of a
    /// large study writes tens of thousands of coordinates).
    static func oneDecimal(_ v: Double) -> String {
        guard v.isFinite, abs(v) < 1e15 else { return String(format: "%.1f", v) }
        let tenths = Int((abs(v) * 10).rounded())
        return (v.sign == .minus ? "-" : "") + String(tenths / 10) + "." + String(tenths % 10)
    }
}
