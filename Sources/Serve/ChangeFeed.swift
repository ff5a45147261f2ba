import Foundation
import Store

/// What a live page is told.
public enum FeedEvent: Sendable, Equatable {
    /// The store moved to this mark.
    case change(ChangeMark)
    /// The store cannot be read (the reason); pages say so until it is back.
    case unavailable(String)
    /// Nothing happened; kept so that a closed connection is noticed.
    case ping

    /// The event as Server-Sent Events text.
    var text: String {
        switch self {
        case .change(let m): "event: change\ndata: \(m)\n\n"
        case .unavailable(let why): "event: unavailable\ndata: \(why.split(whereSeparator: \.isNewline).joined(separator: " "))\n\n"
        case .ping: ": ping\n\n"
        }
    }
}

/// One poll of the store's change mark for every open page: while anyone listens, it reads
/// the mark every `fastest` seconds, doubling the wait up to `slowest` while nothing moves,
/// and tells every listener when it does. Twenty open pages cost the store what one does.
public actor ChangeFeed {
    let source: StoreSource
    let fastest: Double, slowest: Double, pingEvery: Double
    private var listeners: [UUID: AsyncStream<FeedEvent>.Continuation] = [:]
    private var latest: FeedEvent?
    private var poller: Task<Void, Never>?
    /// Store queries made for the mark (what `evolve serve`'s benchmark and tests count).
    public private(set) var polls = 0

    public init(source: StoreSource, fastest: Double = 1, slowest: Double = 8, pingEvery: Double = 15) {
        self.source = source; self.fastest = fastest; self.slowest = slowest; self.pingEvery = pingEvery
    }

    public var listening: Int { listeners.count }

    /// A stream of events for one page: the latest state first, then every change.
    public func subscribe() -> AsyncStream<FeedEvent> {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: FeedEvent.self, bufferingPolicy: .bufferingNewest(8))
        continuation.onTermination = { _ in Task { await self.remove(id) } }
        listeners[id] = continuation
        if let latest { continuation.yield(latest) }
        if poller == nil { poller = Task { await self.run() } }
        return stream
    }

    private func remove(_ id: UUID) { listeners[id] = nil }

    /// The mark now: the poll's while it runs, else read once.
    public func current() async throws -> ChangeMark {
        if poller != nil, case .change(let m)? = latest { return m }
        switch await poll() {
        case .change(let m): return m
        case .unavailable(let why): throw Unavailable(description: why)
        case .ping: return ChangeMark()
        }
    }

    private func run() async {
        var wait = fastest, sincePing = 0.0
        while !listeners.isEmpty {
            let before = latest, now = await poll()
            if now != before {
                wait = fastest
                for l in listeners.values { l.yield(now) }
            } else {
                wait = min(wait * 2, slowest)
            }
            if sincePing >= pingEvery { sincePing = 0; for l in listeners.values { l.yield(.ping) } }
            try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
            sincePing += wait
        }
        poller = nil
    }

    private func poll() async -> FeedEvent {
        polls += 1
        let event: FeedEvent
        do { event = .change(try await source.read { try $0.changes() }) } catch { event = .unavailable("\(error)") }
        latest = event
        return event
    }
}
