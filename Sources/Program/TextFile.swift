import Foundation

/// Reads a text file that a user named (a program, a config, a space file), saying in one
/// line which of the ways it can fail it met: no such file, a folder, unreadable, too large,
/// not UTF-8. Every file reader of evolve goes through it.
public enum TextFile {
    /// Above this a program, config or space file is refused before it is read: far beyond
    /// any real one (the largest shipped is a few kilobytes).
    public static let largest = 16 << 20

    public static func read(_ path: String) throws -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw FileError("\(path): no such file") }
        guard !isFolder.boolValue else { throw FileError("\(path) is a folder; name a file") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FileError("\(path): cannot read the file (permission?)") }
        defer { try? handle.close() }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size <= largest else { throw FileError("\(path): \(size) bytes; evolve reads files of at most \(largest) bytes") }
        let data = (try? handle.readToEnd()) ?? Data()
        guard let text = String(data: data, encoding: .utf8) else { throw FileError("\(path): not UTF-8 text") }
        return text
    }
}

public struct FileError: Error, CustomStringConvertible {
    public let description: String
    /// One line: a path with a line break in it (a seed named in a YAML file may hold one) is written with \n.
    public init(_ description: String) { self.description = oneLine(description) }
}
