"""Unit tests of the PyTorch runtime every exported module starts with
(Sources/Compiler/Resources/runtime.py): each helper against a direct computation."""
import importlib.util
import math
import os
import unittest

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "..", "..", "Sources", "Compiler", "Resources", "runtime.py")
spec = importlib.util.spec_from_file_location("runtime", PATH)
rt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rt)


class Namespace:
    def __init__(self, **tensors):
        self.__dict__.update(tensors)


class RuntimeTests(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)

    def test_heads_round_trip(self):
        x = torch.randn(2, 5, 12)
        h = rt.heads(x, 3)
        self.assertEqual(tuple(h.shape), (2, 3, 5, 4))
        self.assertTrue(torch.equal(rt.merge_heads(h), x))

    def test_causal_mask_and_softmax_of_a_masked_row(self):
        s = rt.causal_mask(torch.zeros(1, 4, 4))
        self.assertTrue(torch.isneginf(s[0, 0, 1:]).all())
        self.assertEqual(s[0, 3].isfinite().sum().item(), 4)
        y = rt.softmax(torch.full((2, 3), float("-inf")))
        self.assertTrue(torch.equal(y, torch.zeros(2, 3)))  # evolve gives zeros, not NaN

    def test_norms(self):
        x, g = torch.randn(3, 8), torch.rand(8) + 0.5
        mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
        self.assertTrue(torch.allclose(rt.layer_norm(x, g), (x - mean) / torch.sqrt(var + 1e-5) * g, atol=1e-5))
        self.assertTrue(torch.allclose(rt.rms_norm(x, g), x / torch.sqrt(x.square().mean(-1, keepdim=True) + 1e-5) * g, atol=1e-6))

    def test_convolutions_are_causal_sums_over_taps(self):
        x, w, d = torch.randn(2, 6, 3), torch.randn(3, 3, 4), torch.randn(3, 3)
        y, z = rt.causal_conv(x, w), rt.depthwise_conv(x, d)
        for t in range(6):
            want = sum(x[:, t - s] @ w[s] for s in range(3) if t - s >= 0)
            self.assertTrue(torch.allclose(y[:, t], want, atol=1e-5))
            want = sum(x[:, t - s] * d[s] for s in range(3) if t - s >= 0)
            self.assertTrue(torch.allclose(z[:, t], want, atol=1e-5))

    def test_top_k_breaks_ties_to_the_lower_column(self):
        self.assertEqual(rt.top_k(torch.tensor([[1.0, 3.0, 3.0, 2.0]]), 2).tolist(), [[1, 2]])

    def test_mpo_cores_rebuild_the_matrix(self):
        torch.manual_seed(3)
        rows, cols = (2, 4, 2), (2, 2, 3)
        cores = rt.mpo_cores(rows, cols, 0.02)
        self.assertEqual([c.shape[1:3] for c in cores], [torch.Size([r, c]) for r, c in zip(rows, cols)])
        torch.manual_seed(3)
        w = (torch.randn(math.prod(rows), math.prod(cols), dtype=torch.float64) * 0.02).float()
        self.assertTrue(torch.allclose(rt.mpo_matrix(cores, rows, cols), w, atol=1e-6))

    def test_every_router_routes_k_distinct_blocks(self):
        e, c, k = 4, 6, 2
        x2, idx = torch.randn(10, c), torch.randint(0, 9, (2, 5))
        keys = torch.randn(e, c, 3)
        p = Namespace(router=torch.randn(c, e), table=torch.randint(0, e, (9,)).float())
        for name in ("switch", "hash", "avgk"):
            aux = []
            choice, gates = getattr(rt, "route_" + name)(x2, idx, p, keys, k, aux)
            self.assertEqual(tuple(choice.shape), (10, k), name)
            self.assertTrue(all(len(set(row)) == k for row in choice.tolist()), name)
            self.assertEqual(gates is not None, name == "switch")
            self.assertEqual(len(aux), 1 if name == "switch" else 0)

    def test_sparse_ffn_drops_tokens_past_capacity_in_time_order(self):
        b, t, c, g, e = 1, 4, 3, 2, 2
        x = torch.randn(b, t, c)
        p = Namespace(keys=torch.randn(e, c, g), values=torch.randn(e, g, c), table=torch.zeros(5))
        idx = torch.zeros(b, t, dtype=torch.long)  # every token hashes to block 0
        y = rt.sparse_ffn(x, p, rt.route_hash, 1, 1.0, idx, [])
        # capacity 1.0 of 4 tokens over 2 blocks: 2 slots; positions 0 and 1 get block 0, the rest are dropped.
        want = F.gelu(x[0, :2] @ p.keys[0]) @ p.values[0]
        self.assertTrue(torch.allclose(y[0, :2], want, atol=1e-6))
        self.assertTrue(torch.equal(y[0, 2:], torch.zeros(2, c)))

    def test_exported_model_decays_as_evolve(self):
        class M(rt.ExportedModel):
            DECAYED = {"dense"}

            def __init__(self):
                super().__init__()
                self.wte = torch.nn.Parameter(torch.zeros(2, 2))
                self.s1 = rt.Params({"dense": torch.zeros(2, 2), "scale": torch.ones(2)})

        groups = M().parameter_groups(0.1)
        self.assertEqual([len(g["params"]) for g in groups], [2, 1])


if __name__ == "__main__":
    unittest.main()
