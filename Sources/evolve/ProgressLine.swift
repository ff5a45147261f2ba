import Foundation

/// Training progress on one updating line of standard error (a plain line every tenth of
/// the run when standard error is not a terminal, so logs stay readable).
final class ProgressLine {
    private let tty = isatty(2) != 0
    private var lastPrint = 0.0
    private var lastDecile = -1

    func update(step: Int, of total: Int, loss: Float, tokensPerSecond: Double, elapsed: Double) {
        let decile = step * 10 / total
        if tty ? (elapsed - lastPrint < 0.25 && step < total) : (decile == lastDecile) { return }
        lastPrint = elapsed; lastDecile = decile
        let eta = elapsed / Double(step) * Double(total - step)
        let line = String(format: "step %d/%d  loss %.4f  %.0f tok/s  ETA %@",
                          step, total, loss, tokensPerSecond, formatDuration(eta))
        FileHandle.standardError.write(((tty ? "\r\u{1B}[K" : "") + line + (tty ? "" : "\n")).data(using: .utf8)!)
    }

    func finish() {
        if tty { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    }
}

func formatDuration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? "\(t / 3600)h\(String(format: "%02d", t / 60 % 60))m"
        : t >= 60 ? "\(t / 60)m\(String(format: "%02d", t % 60))s" : "\(t)s"
}
