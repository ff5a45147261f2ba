import Foundation

extension BPE {
    /// The classes GPT-2's pattern tells apart: `\p{L}`, `\p{N}`, `\s`, and everything else.
    enum ScalarClass: UInt8 {
        case letter, number, space, other
    }

    /// The Unicode version of the character tables in `tokenizers`' regex engine (Oniguruma):
    /// a scalar assigned in a later version is unassigned there, hence `other`, whatever this
    /// platform's newer tables say. Checked against `tokenizers` 0.23 on every scalar.
    static let patternUnicodeVersion = (major: 16, minor: 0)

    /// The class of `scalar`: `\p{L}` is Lu Ll Lt Lm Lo, `\p{N}` is Nd Nl No, `\s` is the
    /// White_Space property. Needs this platform's Unicode tables to be at least as new as
    /// `patternUnicodeVersion`.
    static func scalarClass(of scalar: Unicode.Scalar) -> ScalarClass {
        let properties = scalar.properties
        if let age = properties.age,
           (age.major, age.minor) > (patternUnicodeVersion.major, patternUnicodeVersion.minor) {
            return .other
        }
        if properties.isWhitespace { return .space }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }

    /// The class of every scalar in the Basic Multilingual Plane, by value (surrogates `other`);
    /// scalars above it are looked up one at a time.
    static let basicPlaneClasses: [ScalarClass] = (0..<0x10000).map { value in
        Unicode.Scalar(UInt32(value)).map(scalarClass(of:)) ?? .other
    }

    /// The pieces `text` splits into before merging, as `tokenizers`' `ByteLevel` pre-tokenizer
    /// splits it (before its byte-to-character mapping). For tests and inspection.
    public static func preTokens(_ text: String) -> [String] {
        var text = text
        return text.withUTF8 { utf8 in
            var pieces = PreTokenizer(utf8)
            var result = [String]()
            while let piece = pieces.next() {
                result.append(String(decoding: UnsafeBufferPointer(rebasing: utf8[piece]), as: UTF8.self))
            }
            return result
        }
    }

    /// Splits valid UTF-8 as GPT-2's pattern
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// does under a backtracking engine (first alternative that matches wins), by hand: a scan
    /// over scalars is several times faster than a regex, and its classes are under our control.
    /// The pattern matches every scalar, so the pieces tile the text.
    struct PreTokenizer {
        private let bytes: UnsafeBufferPointer<UInt8>
        private let classes = BPE.basicPlaneClasses
        private var position = 0

        init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        /// The byte range of the next piece, or nil at the end.
        mutating func next() -> Range<Int>? {
            let start = position
            guard start < bytes.count else { return nil }
            position = end(from: start)
            return start..<position
        }

        /// Where the piece starting at `start` ends, the alternatives tried in the pattern's order.
        private func end(from start: Int) -> Int {
            if bytes[start] == 0x27, let length = contraction(at: start) { return start + length }
            let (first, firstLength) = scalarClass(at: start)
            if first != .space { return runEnd(of: first, from: start + firstLength) }
            // ` ?X+`: a plain space joins a following run of letters, digits or other symbols.
            if bytes[start] == 0x20, start + 1 < bytes.count {
                let (second, secondLength) = scalarClass(at: start + 1)
                if second != .space { return runEnd(of: second, from: start + 1 + secondLength) }
            }
            return spaceEnd(from: start)
        }

        /// The length of `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll` or `'d` at `i` (case-sensitive).
        private func contraction(at i: Int) -> Int? {
            guard i + 1 < bytes.count else { return nil }
            let third: UInt8? = i + 2 < bytes.count ? bytes[i + 2] : nil
            switch bytes[i + 1] {
            case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return 2
            case UInt8(ascii: "r"), UInt8(ascii: "v"): return third == UInt8(ascii: "e") ? 3 : nil
            case UInt8(ascii: "l"): return third == UInt8(ascii: "l") ? 3 : nil
            default: return nil
            }
        }

        /// The end of the run of scalars of class `kind` from `i`.
        private func runEnd(of kind: ScalarClass, from i: Int) -> Int {
            var i = i
            while i < bytes.count {
                let (next, length) = scalarClass(at: i)
                guard next == kind else { break }
                i += length
            }
            return i
        }

        /// `\s+(?!\S)|\s+`: a run of white space ending the text is one piece; a longer run before
        /// other text leaves its last scalar to the next piece (so that `' '` can prefix a word);
        /// a single white-space scalar is a piece by itself.
        private func spaceEnd(from start: Int) -> Int {
            var i = start, last = start, scalars = 0
            while i < bytes.count {
                let (next, length) = scalarClass(at: i)
                guard next == .space else { break }
                last = i
                i += length
                scalars += 1
            }
            return i == bytes.count || scalars == 1 ? i : last
        }

        /// The class and UTF-8 length of the scalar starting at `i`.
        @inline(__always)
        private func scalarClass(at i: Int) -> (ScalarClass, Int) {
            let lead = UInt32(bytes[i])
            if lead < 0x80 { return (classes[Int(lead)], 1) }
            if lead < 0xE0 {
                return (classes[Int((lead & 0x1F) << 6 | continuation(i + 1))], 2)
            }
            if lead < 0xF0 {
                return (classes[Int((lead & 0x0F) << 12 | continuation(i + 1) << 6 | continuation(i + 2))], 3)
            }
            let value = (lead & 0x07) << 18 | continuation(i + 1) << 12 | continuation(i + 2) << 6
                | continuation(i + 3)
            return (Unicode.Scalar(value).map(BPE.scalarClass(of:)) ?? .other, 4)
        }

        @inline(__always)
        private func continuation(_ i: Int) -> UInt32 { UInt32(bytes[i] & 0x3F) }
    }
}
