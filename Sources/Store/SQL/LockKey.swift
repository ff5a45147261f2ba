/// The locks `serialize` takes (PostgreSQL advisory locks, so the numbers are what other
/// processes, of this build or an older one, hold: never renumber one).
public enum LockKey: Int64, Sendable {
    /// Finding or making a study by name: two workers starting the same study make one row.
    case studies = 0
    /// Completion numbers (one sequence across studies) and a study's next candidate: its
    /// insert checks the count and the completed list it was drawn from, which a completion moves.
    case completions = -1
    /// Applying the schema's migrations: one process at a time.
    case migrations = -2
}
