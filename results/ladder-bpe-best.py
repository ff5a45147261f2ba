# ladder-bpe-84, exported from evolve: the program below as a PyTorch module.
# Candidate #84 of study ladder-bpe, val_loss 6.0721.
#
# program ladder-bpe-84
# genes layers=4 d_model=128 heads=4 context=128
# subprogram 0
#   s1 = CALL s0 sub=1
#   s2 = DENSE s1 dim=8
#   s3 = DENSE s2 dim=8
#   s4 = DENSE s1 dim=8
#   s5 = T_MAT_MUL s1 s3
#   s6 = MASK s5
#   s7 = SOFTMAX s6
#   s8 = MAT_MUL s7 s4
#   s9 = DENSE s8 dim=8
#   s10 = ADD s0 s9
#   s11 = CALL s10 sub=1
#   s12 = DENSE s11 dim=32
#   s13 = MULTIPLY s12 s12
#   s14 = GELU s13
#   s15 = DENSE s14 dim=8
#   s16 = DCONV_3 s15
#   s17 = ADD s10 s16
# subprogram 1
#   s1 = REDUCE_MEAN s0
#   s2 = DIFFERENCE s0 s1
#   s3 = SQUARE s2
#   s4 = REDUCE_MEAN s3
#   s5 = C_ADD s4 c=1e-05
#   s6 = ABS_ROOT s5
#   s7 = RECIP s6
#   s8 = MULTIPLY s2 s7
"""A program exported from evolve as a PyTorch module (its text is in the comments above).

Model() is initialised as evolve initialises it; Model.from_checkpoint(DIR) loads the
weights of `evolve train ... --save DIR`. forward(idx, targets) returns (logits, loss),
loss the mean cross-entropy, as nanoGPT's model does.
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


def normal(shape, std):
    return torch.randn(shape) * std


class Params(nn.Module):
    """The parameters (and fixed buffers) one instruction owns, named as evolve names them;
    a dotted name nests ("ffn.keys" is self.ffn.keys)."""

    def __init__(self, tensors, buffers=None):
        super().__init__()
        for name, value in tensors.items():
            self.put(name, nn.Parameter(value))
        for name, value in (buffers or {}).items():
            self.put(name, value, buffer=True)

    def put(self, dotted, value, buffer=False):
        *path, leaf = dotted.split(".")
        module = self
        for part in path:
            if not hasattr(module, part):
                module.add_module(part, nn.Module())
            module = getattr(module, part)
        (module.register_buffer if buffer else module.register_parameter)(leaf, value)


def heads(x, h):
    """[B, T, W] -> [B, H, T, W/H]."""
    b, t, w = x.shape
    return x.view(b, t, h, w // h).transpose(1, 2)


def merge_heads(x):
    """[B, H, T, D] -> [B, T, H*D]."""
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


def causal_mask(x):
    """Scores [..., T, T] with every later position set to -inf."""
    t = x.shape[-1]
    return x.masked_fill(torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1), float("-inf"))


def softmax(x):
    """Over the last axis; a row that is -inf throughout gives zeros, as evolve computes it."""
    y = torch.softmax(x, -1)
    return torch.where(torch.isneginf(x).all(-1, keepdim=True), torch.zeros_like(y), y)


def layer_norm(x, gain):
    return F.layer_norm(x, (x.shape[-1],), gain, None, 1e-5)


def rms_norm(x, gain):
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + 1e-5) * gain


def causal_conv(x, w):
    """y[t] = sum_s x[t - s] @ w[s] (x before the window is 0); x [B, T, I], w [S, I, O]."""
    taps, t = w.shape[0], x.shape[1]
    padded = F.pad(x, (0, 0, taps - 1, 0))
    return sum(padded[:, taps - 1 - s:taps - 1 - s + t] @ w[s] for s in range(taps))


def depthwise_conv(x, w):
    """y[t, c] = sum_s w[s, c] * x[t - s, c]; x [B, T, C], w [S, C]."""
    taps, t = w.shape[0], x.shape[1]
    padded = F.pad(x, (0, 0, taps - 1, 0))
    return sum(padded[:, taps - 1 - s:taps - 1 - s + t] * w[s] for s in range(taps))


def top_k(scores, k):
    """Each row's k largest columns, best first; ties go to the lower column."""
    return torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]


def mpo_matrix(cores, rows, cols):
    """A matrix [prod(rows), prod(cols)] from its matrix-product-operator cores
    T_k [r_{k-1}, rows[k], cols[k], r_k], contracted left to right."""
    acc = cores[0].reshape(-1, cores[0].shape[-1])
    for core in cores[1:]:
        acc = (acc @ core.reshape(core.shape[0], -1)).reshape(-1, core.shape[-1])
    n = len(rows)
    x = acc.reshape([d for pair in zip(rows, cols) for d in pair])  # (i1 j1 ... in jn)
    return x.permute(*range(0, 2 * n, 2), *range(1, 2 * n, 2)).reshape(math.prod(rows), math.prod(cols))


def mpo_experts(module, experts, rows, cols):
    """Every expert's matrix, each an MPO sharing the central core: [E, prod(rows), prod(cols)]."""
    n, centre = len(rows), len(rows) // 2
    return torch.stack([
        mpo_matrix([module.central if k == centre else getattr(getattr(module, f"e{e}"), f"core{k}") for k in range(n)], rows, cols)
        for e in range(experts)])


def mpo_cores(rows, cols, std):
    """The cores of a random N(0, std) matrix by successive SVDs (exact, full bonds), as
    evolve starts every expert."""
    n = len(rows)
    w = torch.randn(math.prod(rows), math.prod(cols), dtype=torch.float64) * std
    rest = w.reshape(list(rows) + list(cols)).permute([a for k in range(n) for a in (k, n + k)]).reshape(-1)
    cores, bond = [], 1
    for k in range(n - 1):
        m = bond * rows[k] * cols[k]
        u, s, vt = torch.linalg.svd(rest.reshape(m, -1), full_matrices=False)
        cores.append(u.reshape(bond, rows[k], cols[k], -1))
        rest, bond = (s[:, None] * vt).reshape(-1), s.shape[0]
    cores.append(rest.reshape(bond, rows[-1], cols[-1], 1))
    return [c.float() for c in cores]


def route_switch(x2, idx, p, keys, k, aux):
    """Switch: a learned softmax router picks each token's k blocks, each gated by its
    probability; the load-balancing loss 0.01 E sum_i f_i P_i goes to `aux`."""
    e = keys.shape[0]
    probs = torch.softmax(x2 @ p.router, -1)
    choice = top_k(probs, k)
    routed = torch.bincount(choice.reshape(-1), minlength=e).to(x2.dtype) / choice.numel()
    aux.append(0.01 * e * (routed * probs.mean(0)).sum())
    return choice, probs.gather(1, choice)


def route_hash(x2, idx, p, keys, k, aux):
    """Hash: a fixed random table from token id to block, and the k - 1 blocks after it; no gate."""
    e = keys.shape[0]
    table = p.table.long()[idx.reshape(-1)]
    return torch.stack([(table + i) % e for i in range(k)], 1), None


def route_avgk(x2, idx, p, keys, k, aux):
    """Avg-K: the k blocks whose mean key scores highest against the token; no gate."""
    return top_k(x2 @ keys.mean(-1).t(), k), None


def sparse_ffn(x, p, route, k, capacity, idx, aux, keys=None, values=None):
    """evolve's SPARSE_FFN: E blocks of g memory cells (keys [E, C, g], values [E, g, C]). The
    router (route_switch, route_hash or route_avgk) picks each token's k blocks; tokens claim
    a block's `capacity` share of slots in time order (every sequence's position 0, then
    position 1, ...), and a token past a full block is dropped there (its residual path
    carries it). A gated router scales a block's output by its probability."""
    keys = p.keys if keys is None else keys        # MPO experts come contracted
    values = p.values if values is None else values
    b, t, c = x.shape
    n, e = b * t, keys.shape[0]
    x2 = x.reshape(n, c)
    choice, gates = route(x2, idx, p, keys, k, aux)
    slots = math.ceil(capacity * n * k / e)
    order = torch.arange(n * k, device=x.device).view(b, t, k).transpose(0, 1).reshape(-1)  # choices in time order
    chosen = choice.reshape(-1)[order]
    place = (F.one_hot(chosen, e).cumsum(0) - 1).gather(1, chosen[:, None]).squeeze(1)  # its place in its block's queue
    kept = place < slots
    flat, block, slot = order[kept], chosen[kept], place[kept]
    rows = flat // k
    xin = x2.new_zeros(e, slots, c)
    xin[block, slot] = x2[rows]
    y = (F.gelu(xin @ keys) @ values)[block, slot]
    if gates is not None:
        y = y * gates.reshape(-1)[flat][:, None]
    return x2.new_zeros(n, c).index_add(0, rows, y).reshape(b, t, c)


class ExportedModel(nn.Module):
    """What every exported Model shares: AdamW's parameter groups as evolve decays them
    (the subclass names the decayed kinds in DECAYED), and loading evolve's weights."""

    DECAYED = frozenset()
    GRADIENT_MASK = {}  # name suffix -> probability that a step drops that parameter's gradient

    def parameter_groups(self, weight_decay):
        named = list(self.named_parameters())
        decay = [p for n, p in named if self.decays(n)]
        other = [p for n, p in named if not self.decays(n)]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]

    def decays(self, name):
        return name in ("wte", "wpe") or name.rsplit(".", 1)[-1] in self.DECAYED

    @classmethod
    def from_checkpoint(cls, folder):
        """The model with the weights of `evolve train ... --save FOLDER`."""
        from safetensors.torch import load_file
        model = cls()
        model.load_state_dict(load_file(os.path.join(folder, "model.safetensors")))
        return model


class Subprogram1(nn.Module):
    """Subprogram 1: called where its call sites name it; input [B,T,C]."""

    def __init__(self):
        super().__init__()
        pass

    def forward(self, s0, idx, aux):
        s1 = s0.mean(-1, keepdim=True)  # s1 = REDUCE_MEAN s0
        s2 = s0 - s1  # s2 = DIFFERENCE s0 s1
        s3 = s2.square()  # s3 = SQUARE s2
        s4 = s3.mean(-1, keepdim=True)  # s4 = REDUCE_MEAN s3
        s5 = s4 + 9.999999747378752e-06  # s5 = C_ADD s4 c=1e-05
        s6 = s5.abs().sqrt()  # s6 = ABS_ROOT s5
        s7 = 1 / s6  # s7 = RECIP s6
        s8 = s2 * s7  # s8 = MULTIPLY s2 s7
        return s8


class Block(nn.Module):
    """Subprogram 0: the decoder block, run once per layer on the residual stream; input [B,T,C]."""

    def __init__(self):
        super().__init__()
        self.s1 = Subprogram1()
        self.s2 = Params({"dense": normal((128, 128), 0.02)})
        self.s3 = Params({"dense": normal((128, 128), 0.02)})
        self.s4 = Params({"dense": normal((128, 128), 0.02)})
        self.s9 = Params({"dense": normal((128, 128), 0.02 / math.sqrt(2 * 4))})
        self.s11 = Subprogram1()
        self.s12 = Params({"dense": normal((128, 512), 0.02)})
        self.s15 = Params({"dense": normal((512, 128), 0.02)})
        self.s16 = Params({"dconv": torch.cat([torch.full((1, 128), 0.5), torch.full((2, 128), 0.16666666666666666)])})

    def forward(self, s0, idx, aux):
        s1 = self.s1(s0, idx, aux)  # s1 = CALL s0 sub=1
        s2 = s1 @ self.s2.dense  # s2 = DENSE s1 dim=8
        s3 = s2 @ self.s3.dense  # s3 = DENSE s2 dim=8
        s4 = s1 @ self.s4.dense  # s4 = DENSE s1 dim=8
        s5 = heads(s1, 4) @ heads(s3, 4).transpose(-2, -1) * 0.1767766922712326  # s5 = T_MAT_MUL s1 s3
        s6 = causal_mask(s5)  # s6 = MASK s5
        s7 = softmax(s6)  # s7 = SOFTMAX s6
        s8 = merge_heads(s7 @ heads(s4, 4))  # s8 = MAT_MUL s7 s4
        s9 = s8 @ self.s9.dense  # s9 = DENSE s8 dim=8
        s10 = s0 + s9  # s10 = ADD s0 s9
        s11 = self.s11(s10, idx, aux)  # s11 = CALL s10 sub=1
        s12 = s11 @ self.s12.dense  # s12 = DENSE s11 dim=32
        s13 = s12 * s12  # s13 = MULTIPLY s12 s12
        s14 = F.gelu(s13)  # s14 = GELU s13
        s15 = s14 @ self.s15.dense  # s15 = DENSE s14 dim=8
        s16 = depthwise_conv(s15, self.s16.dconv)  # s16 = DCONV_3 s15
        s17 = s10 + s16  # s17 = ADD s10 s16
        return s17


class Model(ExportedModel):
    """Token and learned position embeddings, 4 × Block on the residual stream, a final
    layer norm and the output head tied to the token embedding."""

    vocabulary, context, d_model, layers = 8192, 128, 128, 4

    # Parameters AdamW decays, as evolve decays them (matrices, not gains, shifts or
    # depthwise filters).
    DECAYED = {"dense"}
    def __init__(self):
        super().__init__()
        self.wte = nn.Parameter(normal((8192, 128), 0.02))
        self.wpe = nn.Parameter(normal((128, 128), 0.02))
        self.h0 = Block()
        self.h1 = Block()
        self.h2 = Block()
        self.h3 = Block()
        self.ln_f = nn.Parameter(torch.ones(128))

    def forward(self, idx, targets=None):
        t = idx.shape[1]
        x = F.embedding(idx, self.wte) + self.wpe[:t]
        aux = []
        for l in range(self.layers):
            x = getattr(self, f"h{l}")(x, idx, aux)
        logits = layer_norm(x, self.ln_f) @ self.wte.t()
        loss = None if targets is None else F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        # Routing's load-balancing terms, kept apart from the loss: training adds them.
        self.aux_loss = sum(aux) if aux else None
        return logits, loss
