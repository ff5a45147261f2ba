import Crypto
import Foundation
import Program
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public struct CorpusError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = oneLine(description) }
}

/// Where the training text comes from: `--corpus PATH`, else `EVOLVE_CORPUS`, else a cached
/// download of tinyshakespeare verified by its sha256.
public enum Corpus {
    public static let name = "tinyshakespeare.txt"
    public static let url = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
    public static let sha256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

    /// The cache folder: $XDG_CACHE_HOME/evolve or ~/.cache/evolve.
    public static var cacheDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("evolve")
    }

    /// The corpus path to use, downloading it once if neither flag nor variable names one.
    public static func locate(_ flag: String?) throws -> String {
        if let path = flag ?? ProcessInfo.processInfo.environment["EVOLVE_CORPUS"] {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw CorpusError(description: "corpus: cannot read \(path)")
            }
            return path
        }
        let cached = cacheDirectory.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: cached.path) { return cached.path }
        try download(from: url, to: cached)
        return cached.path
    }

    static func download(from url: String, to file: URL) throws {
        let offline = CorpusError(description:
            "corpus: no --corpus or EVOLVE_CORPUS given and \(name) could not be downloaded; "
            + "pass --corpus PATH (or set EVOLVE_CORPUS) to a local copy")
        FileHandle.standardError.write("downloading \(name) …\n".data(using: .utf8)!)
        let box = DownloadBox()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 30
        URLSession.shared.dataTask(with: request) { data, response, _ in
            if let http = response as? HTTPURLResponse, http.statusCode == 200 { box.data = data }
            done.signal()
        }.resume()
        done.wait()
        guard let data = box.data else { throw offline }
        let digest = sha256Hex(data)
        guard digest == sha256 else {
            throw CorpusError(description: "corpus: downloaded \(name) has sha256 \(digest), expected \(sha256)")
        }
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file, options: .atomic)
    }
}

private final class DownloadBox: @unchecked Sendable { var data: Data? }

/// The sha256 of some bytes as 64 hex digits (swift-crypto's: a well-kept implementation,
/// used where a corpus is checked or a study remembers its corpus).
public func sha256Hex(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}

/// A tokenised corpus split into training and validation ids (first fraction / rest).
public struct Dataset: Sendable {
    public let tokenizer: Tokenizer
    public let train: TokenSplit
    public let validation: TokenSplit
    /// Where it was read from, and the file's sha256 (a data folder's: its splits' and
    /// tokenizer's, in one); a study remembers it.
    public internal(set) var path: String?
    public internal(set) var sha256: String?

    public init(text: String, tokenizer kind: Tokenizer.Kind = .char, trainFraction: Double = 0.9) {
        tokenizer = Tokenizer(kind: kind, text: text)
        let ids = tokenizer.encode(text)
        let n = Int(trainFraction * Double(ids.count))
        train = TokenSplit(Array(ids[..<n]))
        validation = TokenSplit(Array(ids[n...]))
    }

    public init(path: String, tokenizer kind: Tokenizer.Kind = .char, trainFraction: Double = 0.9) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CorpusError(description: "corpus: cannot read \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CorpusError(description: "corpus: \(path) is not UTF-8 text")
        }
        self.init(text: text, tokenizer: kind, trainFraction: trainFraction)
        self.path = path
        sha256 = sha256Hex(data)
    }

    /// Both splits must hold a window of `context` tokens and its next token: a one-line
    /// error naming the minimum, before any model is built.
    public func check(context: Int, trainFraction: Double) throws {
        let name = path ?? "the corpus"
        let total = train.count + validation.count
        guard tokenizer.vocabularySize > 0, total > 0 else { throw CorpusError(description: "corpus: \(name) is empty") }
        let need = context + 1
        guard train.count >= need, validation.count >= need else {
            let minimum = Int((Double(need) / min(trainFraction, 1 - trainFraction)).rounded(.up))
            throw CorpusError(description: "corpus: \(name) has \(total) tokens; a context of \(context) needs \(need) in each split "
                              + "(training \(train.count), validation \(validation.count)): at least about \(minimum) tokens")
        }
    }
}

extension Dataset {
    /// A dataset over ids already tokenised (benchmarks, tests).
    public init(ids: [Int32], vocabularySize: Int, trainFraction: Double = 0.9) {
        tokenizer = Tokenizer(kind: .char, text: String(String.UnicodeScalarView(
            (0..<vocabularySize).map { Unicode.Scalar(UInt32(0x100 + $0))! })))
        let n = Int(trainFraction * Double(ids.count))
        train = TokenSplit(Array(ids[..<n]))
        validation = TokenSplit(Array(ids[n...]))
    }
}
