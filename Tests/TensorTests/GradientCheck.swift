import Primitives
import Testing
@testable import Tensor

/// Checks an op's backward against central finite differences, all in Double.
/// The op's output y is reduced to a scalar as Σ y ⊙ w with a fixed random w, so every
/// output element's gradient path is exercised with a distinct weight.
func checkGradients(
    _ shapes: [[Int]], seed: UInt64 = 1, input: (Double) -> Double = { $0 },
    h: Double = 1e-5, tolerance: Double = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ build: (Graph<Double>, [Tensor<Double>]) -> Tensor<Double>
) {
    let g = Graph<Double>()
    var rng = Xoshiro(seed: seed)
    let xs = shapes.enumerated().map { g.input($1, name: "x\($0)", requiresGrad: true) }
    for x in xs { for i in 0..<x.count { x[i] = input(rng.normal()) } }
    let y = build(g, xs)
    let w = g.input(y.shape, name: "w")
    for i in 0..<w.count { w[i] = rng.normal() }
    let loss = g.sumAll(g.multiply(y, w))
    g.forward()
    #expect(y.values.allSatisfy { $0.isFinite }, "forward gave non-finite values", sourceLocation: sourceLocation)
    g.backward(from: loss)
    let analytic = xs.map(\.grads)
    var worst = 0.0
    for (xi, x) in xs.enumerated() {
        for j in 0..<x.count {
            let v = x[j]
            x[j] = v + h; g.forward(); let up = loss[0]
            x[j] = v - h; g.forward(); let down = loss[0]
            x[j] = v
            let numeric = (up - down) / (2 * h), exact = analytic[xi][j]
            let err = Swift.abs(numeric - exact) / Swift.max(1, Swift.abs(numeric), Swift.abs(exact))
            worst = Swift.max(worst, err)
            if err > tolerance {
                Issue.record("input \(xi) element \(j): backward \(exact), finite difference \(numeric)",
                             sourceLocation: sourceLocation)
                return
            }
        }
    }
}

/// Fills an index tensor.
func setIndices(_ t: IndexTensor, _ values: [Int]) { t.set(values.map(Int32.init)) }
