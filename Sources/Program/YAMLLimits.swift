import Yams

/// What a YAML file evolve reads may build, checked before it is decoded: far above any real
/// program, config or space file (the largest shipped composes to a few hundred nodes), and
/// low enough that an alias bomb (anchors whose aliases expand exponentially) or a deep
/// nesting is refused at once instead of running for minutes or overflowing the stack.
public enum YAMLLimits {
    /// Bytes of text.
    public static let largestText = TextFile.largest
    /// Nodes of the document with every alias expanded.
    public static let largestNodeCount = 200_000
    /// Levels of nesting.
    public static let deepest = 64

    /// Throws a one-line error naming `file` and the limit it passes.
    public static func check(_ text: String, file: String) throws {
        guard text.utf8.count <= largestText else {
            throw FileError("\(file): \(text.utf8.count) bytes of YAML; evolve reads at most \(largestText)")
        }
        // Flow nesting ([[[…, {{{…) is counted on the text: composing it would recurse as deep.
        var depth = 0, quoted: Character? = nil
        for c in text {
            if let q = quoted { if c == q { quoted = nil }; continue }
            switch c {
            case "\"", "'": quoted = c
            case "[", "{": depth += 1
            case "]", "}": depth = max(0, depth - 1)
            default: break
            }
            if depth > deepest { throw FileError("\(file): YAML nested deeper than \(deepest) levels") }
        }
        guard let root = try? Yams.compose(yaml: text) else { return }   // a syntax error: the decoder says where
        var count = 0
        try walk(root, depth: 0, count: &count, file: file)
    }

    private static func walk(_ node: Node, depth: Int, count: inout Int, file: String) throws {
        count += 1
        guard count <= largestNodeCount else {
            throw FileError("\(file): the YAML expands to more than \(largestNodeCount) nodes (anchors and aliases?); evolve reads at most that many")
        }
        guard depth <= deepest else { throw FileError("\(file): YAML nested deeper than \(deepest) levels") }
        switch node {
        case .scalar: break
        case .sequence(let items): for item in items { try walk(item, depth: depth + 1, count: &count, file: file) }
        case .mapping(let pairs):
            for (key, value) in pairs {
                try walk(key, depth: depth + 1, count: &count, file: file)
                try walk(value, depth: depth + 1, count: &count, file: file)
            }
        }
    }
}
