import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One split of token ids — in memory (a char-level corpus, tests), or a memory-mapped file of
/// little-endian uint16 or uint32 ids (nanoGPT's .bin layout), so that a corpus larger than
/// memory trains. Offsets and counts are 64-bit throughout. Training and evaluation read it
/// one window at a time (`withWindow`), so a mapped file is paged in as it is read.
public final class TokenSplit: @unchecked Sendable {
    /// How the ids are stored.
    public enum Width: Int, Sendable {
        case uint16 = 2, uint32 = 4

        /// The narrowest width that holds `vocabulary` ids.
        public init(vocabulary: Int) { self = vocabulary <= 1 << 16 ? .uint16 : .uint32 }

        /// Its name in meta.json and numpy: "uint16" or "uint32".
        public var dtype: String { self == .uint16 ? "uint16" : "uint32" }

        /// `ids` as a token file's bytes: little-endian, this width each (what `mapping` reads).
        public func bytes(_ ids: [Int32]) -> Data {
            var out = Data(capacity: ids.count * rawValue)
            for id in ids {
                if self == .uint16 { withUnsafeBytes(of: UInt16(id).littleEndian) { out.append(contentsOf: $0) } }
                else { withUnsafeBytes(of: UInt32(id).littleEndian) { out.append(contentsOf: $0) } }
            }
            return out
        }
    }

    public let count: Int
    /// The file a mapped split reads, with its width; nil for ids in memory (another
    /// process, PyTorch's trainer, maps the same file).
    public private(set) var file: (path: String, width: Width)?
    private enum Storage { case ids([Int32]), mapped(UnsafeRawPointer, bytes: Int, Width) }
    private let storage: Storage

    public init(_ ids: [Int32]) {
        storage = .ids(ids)
        count = ids.count
    }

    /// Maps `path`, whose size must be a whole number of ids.
    public init(mapping path: String, width: Width) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CorpusError(description: "\(path): cannot open the token file") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CorpusError(description: "\(path): cannot read its size") }
        let bytes = Int(info.st_size)
        guard bytes % width.rawValue == 0 else {
            throw CorpusError(description: "\(path): \(bytes) bytes is not a whole number of \(width.rawValue)-byte ids")
        }
        count = bytes / width.rawValue
        guard bytes > 0 else { storage = .ids([]); return }
        guard let p = mmap(nil, bytes, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CorpusError(description: "\(path): cannot map the token file")
        }
        storage = .mapped(UnsafeRawPointer(p), bytes: bytes, width)
        file = (path, width)
    }

    deinit {
        if case .mapped(let p, let bytes, _) = storage { munmap(UnsafeMutableRawPointer(mutating: p), bytes) }
    }

    /// The id at `i`.
    public subscript(_ i: Int) -> Int32 {
        switch storage {
        case .ids(let ids): return ids[i]
        case .mapped(let p, _, .uint16): return Int32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        case .mapped(let p, _, .uint32): return Int32(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
    }

    /// `length` ids from `start` as Int32, in place for ids in memory, converted for a file.
    public func withWindow<T>(from start: Int, length: Int, _ body: (UnsafeBufferPointer<Int32>) throws -> T) rethrows -> T {
        precondition(start >= 0 && length >= 0 && start + length <= count, "window \(start)..<\(start + length) outside 0..<\(count)")
        switch storage {
        case .ids(let ids):
            return try ids.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[start..<(start + length)])) }
        case .mapped:
            let window = (0..<length).map { self[start + $0] }
            return try window.withUnsafeBufferPointer { try body($0) }
        }
    }

    /// The ids from `range` as an array (the probe's windows, tests).
    public func ids(_ range: Range<Int>) -> [Int32] { withWindow(from: range.lowerBound, length: range.count) { Array($0) } }

    /// The largest id, or -1 for an empty split (a reader checks it against the vocabulary;
    /// one pass over a mapped file, in its own width).
    public func largestId() -> Int32 {
        switch storage {
        case .ids(let ids): return ids.max() ?? -1
        case .mapped(let p, let bytes, .uint16):
            let ids = UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt16.self), count: bytes / 2)
            return Int32(ids.reduce(0) { max($0, UInt16(littleEndian: $1)) })
        case .mapped(let p, let bytes, .uint32):
            let ids = UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt32.self), count: bytes / 4)
            let top = ids.reduce(0) { max($0, UInt32(littleEndian: $1)) }
            return top > UInt32(Int32.max) ? Int32.max : Int32(top)
        }
    }
}
