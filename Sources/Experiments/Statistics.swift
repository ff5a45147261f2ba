/// The mean and the seed-to-seed spread, computed one way for every table that reports
/// runs over seeds (reproductions, scaling, the claims' verdicts), so that their numbers agree.
public enum Statistics {
    /// The mean; 0 for no values.
    public static func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(max(x.count, 1)) }

    /// The sample standard deviation (n − 1); 0 for fewer than two values (one seed has no spread).
    public static func std(_ x: [Double]) -> Double {
        guard x.count > 1 else { return 0 }
        let m = mean(x)
        return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count - 1)).squareRoot()
    }
}
