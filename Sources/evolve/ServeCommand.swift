import ArgumentParser
import Config
import Foundation
import Serve
import Store

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a store's studies as live web pages and a JSON API, read-only.",
        discussion: "Pages: / (the studies), /study/NAME, /study/NAME/candidate/ID, /compare?study=A&study=B; the JSON API under /api (README). Open pages update as candidates complete; the store is never written.")

    @Option(help: "The study database: a file or a postgres:// URL (default: $EVOLVE_DB, else the only .db file in results/).")
    var db: String?

    @Option(help: "The address to listen on. Anything but 127.0.0.1 lets whoever reaches the port read the studies.")
    var host = "127.0.0.1"

    @Option(parsing: .unconditional, help: "The port (0: any free one).")
    var port = 8080

    func run() throws {
        try reportingErrors {
            guard (0...65535).contains(port) else { throw CommandError(description: "--port \(port): not a port (0 to 65535)") }
            let path = try db ?? databaseFromEnvironment ?? StudyOptions().onlyDatabase()
            guard isPostgresURL(path) || FileManager.default.fileExists(atPath: path) else {
                throw CommandError(description: "\(path): no such database")
            }
            let store = try openStore(path, readOnly: true)
            _ = try store.studies()   // a store that cannot be read is refused before listening
            if (store.database as? SQLiteDatabase)?.readsACopy == true {
                FileHandle.standardError.write("evolve: \(path) was written by an older evolve: serving a migrated copy of it as it is now (the file is not written; an older evolve's later writes are not shown)\n".data(using: .utf8)!)
            }
            if !["127.0.0.1", "localhost", "::1"].contains(host) {
                FileHandle.standardError.write("evolve: warning: listening on \(host): anyone who can reach port \(port) can read every study in \(path)\n".data(using: .utf8)!)
            }
            let dashboard = Dashboard(source: StoreSource(location: path), hooks: ServeCommand.hooks)
            let app = dashboard.application(host: host, port: port) { [host] bound in
                print("serving \(path) at http://\(host.contains(":") ? "[\(host)]" : host):\(bound)/ (Ctrl-C stops)")
                fflush(stdout)
            }
            let finished = DispatchSemaphore(value: 0)
            let failure = Failure()
            Task {
                do { try await app.runService() } catch { failure.error = "\(error)" }
                finished.signal()
            }
            finished.wait()
            if let e = failure.error { throw CommandError(description: "serving \(path) on \(host):\(port): \(e)") }
        }
    }

    /// What the server asks of the layers above Report: a study's population (its space's P) and a candidate's export.
    static let hooks = Dashboard.Hooks(
        population: { study in (try? YAMLFile.decode(SpaceDocument.self, from: study.space, file: "the study's space"))?.population ?? 100 },
        export: { store, study, candidate, format in
            let file = try Export.file(store, study, candidate, format == "pytorch" ? .pytorch : .config)
            return (file.name, file.text)
        })

    final class Failure: @unchecked Sendable { var error: String? }
}
