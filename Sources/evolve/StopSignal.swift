import Foundation

/// Ctrl-C (SIGINT) and SIGTERM as a request to stop cleanly: the first sets `requested`,
/// which the search polls between steps; a second signal of either kind quits at once —
/// with `_exit`, which runs no exit handlers, so that no library tears down its state under
/// a thread still using it.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [Int32: Int] = [:]
    private var sources: [DispatchSourceSignal] = []
    private var firstHandler: () -> Void = {
        FileHandle.standardError.write("\nevolve: stopping; the candidate in training goes back to the queue (Ctrl-C again to quit at once)\n"
            .data(using: .utf8)!)
    }

    /// Runs on the first signal of any kind (a search with workers forwards it to them).
    var onFirst: () -> Void {
        get { lock.lock(); defer { lock.unlock() }; return firstHandler }
        set { lock.lock(); firstHandler = newValue; lock.unlock() }
    }

    var requested: Bool {
        lock.lock(); defer { lock.unlock() }
        return !received.isEmpty
    }

    static func install() -> StopSignal {
        let s = StopSignal()
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { s.receive(sig) }
            source.resume()
            s.sources.append(source)
        }
        return s
    }

    private func receive(_ sig: Int32) {
        lock.lock()
        let first = received.isEmpty
        received[sig, default: 0] += 1
        lock.unlock()
        if !first { _exit(sig == SIGINT ? 130 : 143) }
        onFirst()
    }
}
