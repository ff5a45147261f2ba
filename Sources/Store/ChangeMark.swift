/// Where the whole store stands, read in one query: it moves whenever a candidate is made,
/// claimed, re-queued or completed, a band is recorded or a study begins. A viewer polls it,
/// and reads more only when it moved.
public struct ChangeMark: Codable, Equatable, Sendable, CustomStringConvertible {
    public var studies = 0
    public var candidates = 0
    public var running = 0
    public var completions: Int64 = 0
    public var evaluations: Int64 = 0

    public init() {}

    /// A short text for the mark (an event id, a cache key).
    public var description: String { "\(studies).\(candidates).\(running).\(completions).\(evaluations)" }
}
