import Foundation

/// The frame every page has, in `evolve report`'s file and in `evolve serve`'s responses: one
/// style sheet, the body in `<main>`; a served page also loads the script that keeps it live.
public enum Page {
    /// `title` and `body` are HTML already (escaped by whoever built them). `mark` is the
    /// store's change mark the page was drawn at; with it, the page is live.
    public static func html(title: String, body: String, links: Links = .none, mark: String? = nil) -> String {
        let live = links.root != nil && mark != nil
        let script = live ? "<script src=\"\(links.root!)assets/live.js\" defer></script>" : ""
        let nav = links.root.map { "<nav><a href=\"\($0)\">studies</a><span id=\"live\"></span></nav>\n" } ?? ""
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(title)</title>
            <style>\(css)</style>\(script)</head>
            <body\(live ? " data-mark=\"\(escape(mark!))\"" : "")>
            \(nav)<main>
            \(body)</main></body></html>

            """
    }

    static let css = """
        body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 760px; color: #222; }
        svg.plot { display: block; margin: 1.5em 0; }
        table { border-collapse: collapse; margin: 0.5em 0; }
        td, th { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
        pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
        div.pair { display: flex; gap: 16px; align-items: flex-start; overflow-x: auto; }
        nav { display: flex; gap: 1em; margin-bottom: 1em; color: #666; }
        #live.down, p.down { color: #b00; font-weight: bold; }
        td.reason { max-width: 420px; overflow-wrap: anywhere; }
        """
}

/// Where a page's links point. A file written by `evolve report` has none (`root` nil: no
/// server behind it); `evolve serve` links studies, candidates and downloads under `root`.
public struct Links: Sendable {
    public var root: String?

    public init(root: String?) { self.root = root }

    public static let none = Links(root: nil)
    public static let served = Links(root: "/")

    public func study(_ name: String) -> String? { root.map { "\($0)study/\(Links.component(name))" } }
    public func candidate(_ study: String, _ id: Int64) -> String? { self.study(study).map { "\($0)/candidate/\(id)" } }
    public func export(_ study: String, _ id: Int64, _ format: String) -> String? {
        candidate(study, id).map { "\($0)/export/\(format)" }
    }
    public func compare(_ names: [String]) -> String? {
        root.map { "\($0)compare?" + names.map { "study=" + Links.component($0) }.joined(separator: "&") }
    }

    /// `text` as one URL path component or query value: everything but letters, digits and `-._~` percent-encoded.
    public static func component(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? ""
    }

    /// `label` (HTML already) as a link to `href`, or as it is where there is none.
    func a(_ href: String?, _ label: String) -> String {
        href.map { "<a href=\"\(escape($0))\">\(label)</a>" } ?? label
    }
}

/// Text made safe for HTML and SVG.
public func escape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(ch)
        }
    }
    return out
}
