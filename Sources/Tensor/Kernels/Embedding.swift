// ids: [*] integers in 0..<V    table: [V, C]    y: [*, C]
final class EmbeddingKernel<S: Scalar>: Kernel {
    let ids: IndexTensor, table: Tensor<S>, y: Tensor<S>
    init(_ ids: IndexTensor, _ table: Tensor<S>, _ y: Tensor<S>) { self.ids = ids; self.table = table; self.y = y }

    @_specialize(where S == Float)
    func forward() {
        let c = table.channels, v = table.shape[0]
        for i in 0..<ids.count {
            let id = Int(ids[i])
            check(id >= 0 && id < v, "embedding: id \(id) outside the vocabulary 0..<\(v)")
            (y.value + i * c).update(from: table.value + id * c, count: c)
        }
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dy = y.incomingGrad(), let dt = table.accumulatingGrad() else { return }
        let c = table.channels
        for i in 0..<ids.count {
            addInPlace(dt + Int(ids[i]) * c, dy + i * c, c)
        }
    }
}

extension Graph {
    /// Rows of `table` [V, C] picked by `ids` → [ids.shape..., C].
    public func embedding(_ ids: IndexTensor, _ table: Tensor<S>) -> Tensor<S> {
        check(table.shape.count == 2, "embedding: table \(table.name) must be [V, C], is \(table.shape)")
        let y = activation(ids.shape + [table.channels], "embedding", from: [table])
        append(EmbeddingKernel(ids, table, y))
        return y
    }
}
