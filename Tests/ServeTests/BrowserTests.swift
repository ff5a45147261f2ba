import Foundation
import Hummingbird
import Report
@testable import Serve
import Store
import Testing
import TestSupport

/// A real browser on a live page: headless Chromium (Selenium) opens a study page, a
/// candidate completes in the store, and the page shows it without a reload; the laid-out
/// plots and a screenshot are checked as the report's test checks them.
@Suite("serve: in a browser")
struct BrowserTests {
    @Test func aPageShowsACompletedCandidateWithoutReloading() async throws {
        guard let python = ProcessInfo.processInfo.environment["EVOLVE_PYTHON"] ?? pythonWithTorch else {
            if runningInCI { Issue.record("set EVOLVE_PYTHON to the venv of scripts/setup.sh --tests (selenium)") }
            return
        }
        let f = try ServeFixture()
        let dashboard = Dashboard(source: StoreSource(location: f.path), hooks: ServeFixture.hooks, fastest: 0.2, slowest: 1)
        let port = Port()
        let app = dashboard.application(host: "127.0.0.1", port: 0) { port.set($0) }
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        let bound = try await port.wait()
        let shot = FileManager.default.temporaryDirectory.appendingPathComponent("evolve-serve-\(UUID()).png").path
        let url = "http://127.0.0.1:\(bound)/study/" + Links.component(ServeFixture.name)

        let p = Process(), input = Pipe(), output = Pipe()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [packageRoot.appendingPathComponent("Tests/python/serve_browser.py").path, url, shot]
        (p.standardInput, p.standardOutput, p.standardError) = (input, output, FileHandle.standardError)
        try p.run()
        let lines = output.fileHandleForReading
        let ready = await offThePool { readLine(lines) }
        #expect(ready == "ready", "the browser script said: \(ready ?? "nothing")")
        let id = try ServeFixture.complete(f.store, study: f.study, program: try TestSupport.seed("vanilla"), loss: 2.5, number: 9)
        input.fileHandleForWriting.write("go\n".data(using: .utf8)!)
        let answer = await offThePool { readLine(lines) ?? "" }
        await offThePool { p.waitUntilExit() }
        let seen = (try? JSONSerialization.jsonObject(with: Data(answer.utf8))) as? [String: Any] ?? [:]
        #expect(p.terminationStatus == 0 && !seen.isEmpty, "browser script: \(answer)")
        #expect((seen["after"] as? Int) == (seen["before"] as? Int).map { $0 + 1 }, "\(seen)")
        #expect(seen["reloaded"] as? Bool == false && (seen["updates"] as? Int ?? 0) >= 1, "\(seen)")
        #expect(seen["latest"] as? String == "#\(id)", "\(seen)")
        // Every plot laid out at its declared size, with points drawn.
        let plots = seen["plots"] as? [[Int]] ?? []
        #expect(plots.count == 3 && plots.allSatisfy { $0[0] == $0[2] && $0[1] == $0[3] }, "\(plots)")
        #expect(plots.first.map { $0[4] } == 8, "\(plots)")           // 8 finite candidates now, in "fitness over time"
        let size = { (path: String) in (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        #expect(size(shot) > 5 * size(shot + ".blank.png"), "screenshots: page \(size(shot)) bytes, blank \(size(shot + ".blank.png")) bytes")
    }

    /// Blocking work (a pipe, a process) on a thread of its own, so the server's tasks keep theirs.
    func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { done in DispatchQueue.global().async { done.resume(returning: body()) } }
    }

    /// One line of the script's output (without its newline), nil at its end.
    @Sendable func readLine(_ h: FileHandle) -> String? {
        var bytes = [UInt8]()
        while true {
            let d = h.readData(ofLength: 1)
            guard let b = d.first else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if b == 10 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(b)
        }
    }
}

/// The port the server bound, once it is listening.
final class Port: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int?
    func set(_ v: Int) { lock.lock(); value = v; lock.unlock() }
    func wait() async throws -> Int {
        for _ in 0..<200 {
            if let v = lock.withLock({ value }) { return v }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw CancellationError()
    }
}
