import ArgumentParser
import Foundation
import Store

/// Which study a command reads: `--db` (default: the one database in results/) and, if the
/// database holds several studies, `--study`.
struct StudyOptions: ParsableArguments {
    @Option(help: "The study database: a file or a postgres:// URL (default: $EVOLVE_DB, else the only .db file in results/).")
    var db: String?

    @Option(help: "The study's name, if the database holds several.")
    var study: String?

    /// The study, its database opened read-only unless `writing`; a lost server is retried
    /// as `reconnection` says.
    func open(writing: Bool = false, reconnection: Reconnection = .never) throws -> (Store, Study) {
        let path = try db ?? databaseFromEnvironment ?? onlyDatabase()
        guard isPostgresURL(path) || FileManager.default.fileExists(atPath: path) else {
            throw CommandError(description: "\(path): no such database")
        }
        let store = try openStore(path, readOnly: !writing, reconnection: reconnection)
        let all = try store.studies()
        if let study {
            guard let s = all.first(where: { $0.name == study }) else {
                throw CommandError(description: "\(path) has no study '\(study)' (it has: \(all.map(\.name).joined(separator: ", ")))")
            }
            return (store, s)
        }
        guard let s = all.first else { throw CommandError(description: "\(path) holds no study yet") }
        guard all.count == 1 else {
            throw CommandError(description: "\(path) holds several studies (\(all.map(\.name).joined(separator: ", "))); pick one with --study")
        }
        return (store, s)
    }

    func onlyDatabase() throws -> String {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: "results")) ?? []).filter { $0.hasSuffix(".db") }.sorted()
        switch files.count {
        case 0:
            let shipped = ((try? FileManager.default.contentsOfDirectory(atPath: "results/studies")) ?? []).filter { $0.hasSuffix(".db") }.sorted()
            let hint = shipped.isEmpty ? "" : " (the studies that come with evolve: \(shipped.map { "--db results/studies/\($0)" }.joined(separator: ", ")))"
            throw CommandError(description: "no database in results/; run a search first or pass --db PATH\(hint)")
        case 1: return "results/\(files[0])"
        default: throw CommandError(description: "several databases in results/ (\(files.joined(separator: ", "))); pick one with --db")
        }
    }
}

/// `$EVOLVE_DB`, where set: the database every study command uses without `--db`.
var databaseFromEnvironment: String? {
    ProcessInfo.processInfo.environment["EVOLVE_DB"].flatMap { $0.isEmpty ? nil : $0 }
}
