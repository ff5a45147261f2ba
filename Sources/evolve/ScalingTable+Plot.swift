import Experiments
import Foundation
import Report

/// The scaling comparison's chart: here, beside the command, because the charts live in
/// Report and Experiments does not depend on it.
extension ScalingTable {
    /// Every program's seed-mean curve at every size: validation loss against log10 training FLOPs.
    var plot: String {
        var series = [Plot.Series]()
        for s in scaling.sizes.indices {
            for p in scaling.programs.indices {
                series.append(Plot.Series(name: "\(scaling.programs[p].name) \(scaling.sizes[s].dModel)",
                                          color: Plot.color(p * scaling.sizes.count + s),
                                          points: curve(p, s).map { (log10($0.flops), $0.loss) }, joined: true))
            }
        }
        return Plot(title: "Validation loss against training compute", xLabel: "log10 training FLOPs", yLabel: "validation loss",
                    series: series, height: 360).svg()
    }
}
