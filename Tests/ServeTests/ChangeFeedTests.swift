import Foundation
@testable import Serve
import Store
import Testing
import TestSupport

/// One poll of the store's mark for every open page, slower while nothing moves, and every
/// page told when something does.
@Suite("serve: the change feed")
struct ChangeFeedTests {
    @Test func twentyViewersShareOnePoll() async throws {
        let f = try ServeFixture()
        let feed = ChangeFeed(source: StoreSource(location: f.path), fastest: 0.05, slowest: 0.4)
        var streams = [AsyncStream<FeedEvent>]()
        for _ in 0..<20 { streams.append(await feed.subscribe()) }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        // Polls at 0, 0.05, 0.15, 0.35, 0.75 s while nothing moves: about 5 on a quiet machine
        // (fewer on a loaded one), for all 20 viewers — a poll per viewer would be 20 at the
        // first alone. Only that bound is asserted: the rest depends on the clock.
        let idle = await feed.polls
        #expect(idle < 20, "\(idle) polls in 1 s for 20 viewers")
        // A candidate completes: every viewer hears of it.
        _ = try ServeFixture.complete(f.store, study: f.other, program: try TestSupport.seed("vanilla"), loss: 2.9, number: 1)
        let told = await withTaskGroup(of: Bool.self) { group in
            for s in streams {
                group.addTask {
                    for await e in s { if case .change(let m) = e, m.candidates == 10 { return true } }
                    return false
                }
            }
            // A bound for a stuck feed, not a timing: on a loaded machine a poll can be late.
            group.addTask { try? await Task.sleep(nanoseconds: 120_000_000_000); return false }
            var n = 0
            for await ok in group { if ok { n += 1 }; if n == 20 { group.cancelAll(); break } ; if !ok { group.cancelAll(); break } }
            return n
        }
        let listening = await feed.listening
        #expect(told == 20 && listening == 20)
    }

    @Test func pollingStopsWhenNobodyListens() async throws {
        let f = try ServeFixture()
        let feed = ChangeFeed(source: StoreSource(location: f.path), fastest: 0.02, slowest: 0.05)
        do {
            let s = await feed.subscribe()
            var it = s.makeAsyncIterator()
            #expect(await it.next() != nil)
        }
        try await Task.sleep(nanoseconds: 300_000_000)
        let a = await feed.polls
        try await Task.sleep(nanoseconds: 300_000_000)
        let (b, listening) = (await feed.polls, await feed.listening)
        #expect(b == a && listening == 0)
    }

    @Test func eventsAreServerSentEventText() {
        var m = ChangeMark()
        m.candidates = 3
        #expect(FeedEvent.change(m).text == "event: change\ndata: 0.3.0.0.0\n\n")
        #expect(FeedEvent.unavailable("a\nb").text == "event: unavailable\ndata: a b\n\n")
        #expect(FeedEvent.ping.text == ": ping\n\n")
    }
}
