/// A run of channels inside a [B, T, W] tensor: q, k and v may be thirds of one fused
/// projection, read in place with row stride W.
public struct ChannelSlice<S: Scalar> {
    public let tensor: Tensor<S>
    public let offset: Int
    public let width: Int
    public init(_ tensor: Tensor<S>, offset: Int = 0, width: Int? = nil) {
        self.tensor = tensor; self.offset = offset; self.width = width ?? tensor.channels
    }
    var stride: Int { tensor.channels }
}

// Causal multi-head attention, fused: per (batch, head) the scores, mask, softmax and
// weighted sum stay in one tile: forward a 16-row strip of scores at a time
// (Attention+Forward.swift), backward a 16×16 block (Attention+Backward.swift).
//   q, k: [B, T, H·D] slices    v: [B, T, H·Dv] slice    out: [B, T, H·Dv]
//   lse:  [B, H, T] each row's logsumexp of q kᵀ / √D over the keys it sees (saved: backward
//         recomputes the probabilities from it instead of keeping B·H·T² of them)
final class AttentionKernel<S: Scalar>: Kernel {
    let q: ChannelSlice<S>, k: ChannelSlice<S>, v: ChannelSlice<S>
    let out: Tensor<S>
    let b: Int, t: Int, h: Int, d: Int, dv: Int
    /// The logsumexp rows, or the reference kernel's probabilities [B, H, T, T].
    let saved: UnsafeMutablePointer<S>
    let reference = AttentionReference.enabled

    init(_ q: ChannelSlice<S>, _ k: ChannelSlice<S>, _ v: ChannelSlice<S>, _ out: Tensor<S>, heads: Int) {
        self.q = q; self.k = k; self.v = v; self.out = out
        b = out.shape[0]; t = out.shape[1]; h = heads; d = q.width / heads; dv = v.width / heads
        let n = b * h * t * (reference ? t : 1)
        saved = .allocate(capacity: n)
        saved.initialize(repeating: 0, count: n)
    }

    deinit { saved.deallocate() }

    var operands: AttentionOperands<S> {
        AttentionOperands(q: q.tensor.value + q.offset, ldq: q.stride, k: k.tensor.value + k.offset, ldk: k.stride,
                          v: v.tensor.value + v.offset, ldv: v.stride, b: b, t: t, h: h, d: d, dv: dv)
    }

    /// The products over the causal 16×16 blocks per (batch, head): forward Q·Kᵀ and P·V;
    /// backward recomputes Q·Kᵀ and makes four more (dV, dP, dQ, dK).
    func work(backward: Bool) -> Work {
        let n = (t + 15) / 16, cells: Int = n * (n + 1) / 2 * 256
        let widths: Int = backward ? 3 * d + 2 * dv : d + dv
        return Work(flops: 2 * Double(b * h * cells * widths))
    }

    @_specialize(where S == Float)
    func forward() {
        guard !reference else {
            // Attention's products are float32 in both kernels, whatever the model's precision.
            return Parallel.$precision.withValue(.float32) {
                referenceAttentionForward(q.tensor.value + q.offset, q.stride, k.tensor.value + k.offset, k.stride,
                                          v.tensor.value + v.offset, v.stride, out.value, saved, b, t, h, d, dv)
            }
        }
        fusedAttentionForward(operands, out.value, saved)
    }

    @_specialize(where S == Float)
    func backward() {
        guard let dout = out.incomingGrad() else { return }
        // q, k, v may share one storage: claim each distinct gradient buffer once.
        var claimed: [ObjectIdentifier: UnsafeMutablePointer<S>?] = [:]
        func grad(_ s: ChannelSlice<S>) -> UnsafeMutablePointer<S>? {
            let id = ObjectIdentifier(s.tensor.storage)
            if let g = claimed[id] { return g.map { $0 + s.offset } }
            let g = s.tensor.accumulatingGrad()
            claimed[id] = g
            return g.map { $0 + s.offset }
        }
        let dq = grad(q), dk = grad(k), dv = grad(v)
        guard !reference else {
            return Parallel.$precision.withValue(.float32) {
                referenceAttentionBackward(q.tensor.value + q.offset, q.stride, k.tensor.value + k.offset, k.stride,
                                           v.tensor.value + v.offset, v.stride, dout, saved, dq, dk, dv, b, t, h, d, self.dv)
            }
        }
        fusedAttentionBackward(operands, out.value, dout, saved, AttentionGradients(dq: dq, dk: dk, dv: dv))
    }
}

extension Graph {
    /// Causal multi-head attention over q, k, v slices of [B, T, ·] tensors → [B, T, C].
    public func attention(q: ChannelSlice<S>, k: ChannelSlice<S>, v: ChannelSlice<S>, heads: Int) -> Tensor<S> {
        check(k.width == q.width, "attention: q and k widths \(q.width), \(k.width) differ")
        check(q.width % heads == 0 && v.width % heads == 0,
              "attention: q width \(q.width) or v width \(v.width) does not split into \(heads) heads")
        for s in [q, k, v] {
            check(s.tensor.shape.count == 3 && s.offset + s.width <= s.stride
                  && s.tensor.shape.prefix(2) == q.tensor.shape.prefix(2),
                  "attention: slice of \(s.tensor.name) \(s.tensor.shape) is not [B, T, ≥\(s.offset + s.width)]")
        }
        let shape = [q.tensor.shape[0], q.tensor.shape[1], v.width]
        let out = activation(shape, "attention", from: [q.tensor, k.tensor, v.tensor])
        append(AttentionKernel(q, k, v, out, heads: heads))
        return out
    }

    /// Attention over a fused projection qkv [B, T, 3C] (q, k, v in that order).
    public func attention(qkv: Tensor<S>, heads: Int) -> Tensor<S> {
        let c = qkv.channels / 3
        return attention(q: ChannelSlice(qkv, offset: 0, width: c), k: ChannelSlice(qkv, offset: c, width: c),
                         v: ChannelSlice(qkv, offset: 2 * c, width: c), heads: heads)
    }
}
