import Dispatch

/// Seconds `body` takes.
public func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

/// The fastest of `rounds` runs of `body`, in seconds: what a machine can do, with the
/// noise of a shared one left out.
public func bestSeconds(_ rounds: Int, _ body: () -> Void) -> Double {
    (0..<rounds).reduce(Double.infinity) { best, _ in min(best, seconds(body)) }
}
