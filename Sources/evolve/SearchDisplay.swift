import Foundation
import Store

/// What a search shows while it runs: a line per finished candidate and, for the one in
/// training, its step and loss — on one updating line at a terminal, else a plain line
/// every 30 seconds so logs stay short. Its lines may come from the store's thread as well
/// as the search's (a lost connection's notice), so one prints at a time.
final class SearchDisplay: @unchecked Sendable {
    private let lock = NSLock()
    private let tty = isatty(1) != 0
    private var last = Date.distantPast
    private var showing = false

    func candidate(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        print((showing ? "\r\u{1B}[K" : "") + line)
        fflush(stdout)
        showing = false
    }

    /// A line about the search rather than a candidate (the store losing its server).
    func notice(_ line: String) { candidate(line) }

    func step(_ c: Candidate, _ step: Int, _ of: Int, _ loss: Float) {
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(last) >= (tty ? 0.25 : 30) else { return }
        last = now
        let text = String(format: "  #%lld (gen %d, %@) step %d/%d loss %.4f", c.id!, c.generation, c.mutation ?? "seed",
                          step, of, loss)
        if tty {
            print("\r\u{1B}[K" + String(text.prefix(120)), terminator: "")
            showing = true
        } else {
            print(text)
        }
        fflush(stdout)
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        if showing { print("\r\u{1B}[K", terminator: "") }
        fflush(stdout)
        showing = false
    }
}
