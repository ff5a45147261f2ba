import ArgumentParser
import Foundation
import Program
import Store

@main
struct Evolve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evolve",
        abstract: "Search for better transformer architectures, Primer-style, on a CPU.",
        subcommands: [SearchCommand.self, WorkerCommand.self, Copy.self, StoreBench.self, Status.self, Top.self, Show.self, Export.self, ReportCommand.self, ServeCommand.self, Mutations.self, Scale.self,
                      Reproduce.self, Claims.self, Train.self, Bench.self, DataCommand.self],
        defaultSubcommand: SearchCommand.self)
}

/// A user-facing failure: printed as one line, exit code 1.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(description: String) { self.description = oneLine(description) }
}

/// Runs `body`, turning any error into one line on standard error and exit status 1 (75
/// where the database server stayed out of reach).
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let code as ExitCode { throw code } catch {
        FileHandle.standardError.write("evolve: \(oneLine("\(error)"))\n".data(using: .utf8)!)
        throw error is DatabaseUnreachable ? ExitCode(unreachableStatus) : ExitCode.failure
    }
}

/// The closing line of a command: key=value pairs that scripts can parse.
func keyValues(_ pairs: KeyValuePairs<String, String>) -> String {
    pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
}

/// A debug build cannot inline the engine's helpers across files: say so before training.
func warnIfDebugBuild() {
    #if DEBUG
    FileHandle.standardError.write(
        "evolve: this is a debug build and trains several times slower; use `swift run -c release evolve …`\n"
            .data(using: .utf8)!)
    #endif
}

/// Refuses, before a long run, an output path that `write` could not write at its end.
func checkCanWrite(_ path: String) throws {
    let fm = FileManager.default
    let dir = (path as NSString).deletingLastPathComponent, folder = dir.isEmpty ? "." : dir
    try? fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var isDir: ObjCBool = false
    if fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
        throw CommandError(description: "\(path) is a folder: name the file to write")
    }
    guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue, fm.isWritableFile(atPath: folder) else {
        throw CommandError(description: "\(path): cannot write into \(folder)")
    }
}

/// Writes a file a command produces, making its folder; a failure is one line.
func write(_ text: String, to path: String) throws {
    try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
        throw CommandError(description: "\(path): cannot write (\(error.localizedDescription))")
    }
}
