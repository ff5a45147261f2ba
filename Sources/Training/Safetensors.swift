import Foundation
import Program

/// The safetensors format (Hugging Face's): an 8-byte little-endian header length N, N bytes
/// of JSON naming each tensor's dtype, shape and byte range (`data_offsets`, relative to the
/// end of the header), then the tensors' raw little-endian bytes. Float32 only, as the
/// engine is. The header is padded with spaces to a multiple of 8, as the reference writer
/// does, so the data is aligned.
public enum Safetensors {
    public struct Tensor: Sendable, Equatable {
        public var shape: [Int]
        public var values: [Float]
        public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
    }

    public struct FormatError: Error, CustomStringConvertible {
        public let description: String
        init(description: String) { self.description = oneLine(description) }
    }

    /// Writes `tensors` (in this order) with `metadata` (string → string) to `path`.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to path: String) throws {
        var header = [String: Any]()
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, t) in tensors {
            guard header[name] == nil else { throw FormatError(description: "\(path): two tensors named \(name)") }
            guard t.shape.reduce(1, *) == t.values.count else {
                throw FormatError(description: "\(path): \(name) has \(t.values.count) values for shape \(t.shape)")
            }
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]] as [String: Any]
            offset += 4 * t.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in tensors {
            #if _endian(little)
            t.values.withUnsafeBytes { out.append(contentsOf: $0) }
            #else
            for x in t.values { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            #endif
        }
        try out.write(to: URL(fileURLWithPath: path))
    }

    /// Reads every tensor of a file (Float32), and its metadata.
    public static func read(_ path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw FormatError(description: "\(path): cannot read") }
        let fail = { (why: String) in FormatError(description: "\(path): not a safetensors file (\(why))") }
        guard data.count >= 8 else { throw fail("shorter than its header length") }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(data.count - 8) else { throw fail("a header of \(n) bytes in a file of \(data.count)") }
        let body = data.count - 8 - Int(n)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + Int(n)))) as? [String: Any] else {
            throw fail("its header is not a JSON object")
        }
        var tensors = [String: Tensor]()
        for (name, value) in header where name != "__metadata__" {
            guard let e = value as? [String: Any], let dtype = e["dtype"] as? String, let shape = e["shape"] as? [Int],
                  let range = e["data_offsets"] as? [Int], range.count == 2 else { throw fail("\(name) is not a tensor entry") }
            guard dtype == "F32" else { throw FormatError(description: "\(path): \(name) is \(dtype); evolve reads F32 only") }
            // Checked before any sum or product of them: a file's numbers may overflow 64 bits.
            guard let bytes = byteCount(shape), range[0] >= 0, range[1] >= range[0], range[1] <= body, range[1] - range[0] == bytes else {
                throw fail("\(name)'s shape \(shape) and bytes \(range) disagree")
            }
            let count = bytes / 4, start = 8 + Int(n) + range[0]
            let values = data.withUnsafeBytes { raw in
                (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * $0, as: UInt32.self))) }
            }
            tensors[name] = Tensor(shape: shape, values: values)
        }
        return (tensors, header["__metadata__"] as? [String: String] ?? [:])
    }

    /// The bytes of a Float32 tensor of `shape`; nil where a dimension is negative or the
    /// size does not fit an Int.
    static func byteCount(_ shape: [Int]) -> Int? {
        var bytes = 4
        for d in shape {
            guard d >= 0 else { return nil }
            let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            bytes = product
        }
        return bytes
    }
}
