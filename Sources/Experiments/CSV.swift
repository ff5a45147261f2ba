/// Comma-separated values as RFC 4180 has them. Labels are free text (a variant may be named
/// "ReLU, squared" or hold a quote), and a table must read back into the fields it was
/// written from: a field holding a quote, comma, CR or LF is quoted with its quotes doubled;
/// any other is written as it is. Text is handled by Unicode scalar, so a quote followed by a
/// combining mark is still a quote.
public enum CSV {
    /// One field as written.
    public static func field(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 == "\"" || $0 == "," || $0 == "\r" || $0 == "\n" }) else { return text }
        var out = String.UnicodeScalarView()
        out.append("\"")
        for u in text.unicodeScalars {
            out.append(u)
            if u == "\"" { out.append(u) }
        }
        out.append("\"")
        return String(out)
    }

    /// One record: its fields, separated by commas, and a line feed.
    public static func line(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\n"
    }

    /// The records of a text (records end in LF or CRLF; blank lines are skipped); throws on
    /// a quote that opens or closes in the wrong place.
    public static func records(_ text: String) throws -> [[String]] {
        var reader = Reader()
        for u in text.unicodeScalars { try reader.read(u) }
        return try reader.finish()
    }

    /// The parser's state, one scalar at a time.
    struct Reader {
        var records = [[String]](), record = [String](), field = String.UnicodeScalarView()
        /// Inside quotes; the field began with one; a quote just read inside quotes (closing, or the first of a pair).
        var quoted = false, wasQuoted = false, quoteSeen = false, carriageReturn = false

        mutating func read(_ u: Unicode.Scalar) throws {
            if carriageReturn {
                carriageReturn = false
                if u == "\n" { return }
            }
            if quoteSeen {
                quoteSeen = false
                if u == "\"" { field.append(u); return }
                quoted = false
            }
            if quoted {
                if u == "\"" { quoteSeen = true } else { field.append(u) }
                return
            }
            switch u {
            case "\"":
                guard field.isEmpty && !wasQuoted else { throw CSVError(record: records.count + 1, "a quote inside an unquoted field") }
                quoted = true; wasQuoted = true
            case ",": endField()
            case "\n", "\r": endRecord(); carriageReturn = u == "\r"
            default:
                guard !wasQuoted else { throw CSVError(record: records.count + 1, "text after a closing quote") }
                field.append(u)
            }
        }

        mutating func endField() {
            record.append(String(field))
            field = String.UnicodeScalarView(); wasQuoted = false
        }

        mutating func endRecord() {
            let blank = record.isEmpty && field.isEmpty && !wasQuoted
            endField()
            if !blank { records.append(record) }
            record = []
        }

        mutating func finish() throws -> [[String]] {
            if quoteSeen { quoteSeen = false; quoted = false }
            guard !quoted else { throw CSVError(record: records.count + 1, "a quoted field is not closed") }
            endRecord()
            return records
        }
    }
}

public struct CSVError: Error, CustomStringConvertible {
    public let record: Int, problem: String
    init(record: Int, _ problem: String) { self.record = record; self.problem = problem }
    public var description: String { "CSV record \(record): \(problem)" }
}
