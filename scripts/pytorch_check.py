#!/usr/bin/env python3
"""A program exported by `evolve export … --format pytorch`, run in PyTorch.

  val:   python3 scripts/pytorch_check.py val MODEL.py CHECKPOINT_DIR (--corpus PATH | --data DIR)
         the whole-split validation loss of evolve's trained weights (float32), to compare
         with the val_loss evolve printed for the same checkpoint
  train: python3 scripts/pytorch_check.py train MODEL.py (--corpus PATH | --data DIR) [--steps 2000] [--seed 1]
         the exported module trained from scratch with the baseline recipe, then its val_loss

The data and the recipe are those of ../shared/tools/torch_reference.py (and of evolve's
configs/baseline.yaml): characters sorted into ids, a 90/10 split (or, with --data, the
token files of a folder `evolve data prepare` made, read with numpy.memmap), batch 12 of the model's
context, AdamW lr 1e-3 betas (0.9, 0.99), weight decay 0.1 on the parameters evolve decays,
100 warm-up steps then cosine to 1e-4, gradient clipping at 1.0. val_loss is the mean
cross-entropy over the whole validation split cut into non-overlapping context windows.
Prints one line of key=value pairs.
"""
import argparse, importlib.util, json, math, os, sys, time
import torch
import torch.nn.functional as F


def load_module(path):
    spec = importlib.util.spec_from_file_location("exported", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def split(corpus):
    text = open(corpus, encoding="utf-8").read()
    chars = sorted(set(text))
    ids = torch.tensor([{c: i for i, c in enumerate(chars)}[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(ids))
    return ids[:n], ids[n:], len(chars)


class Tokens:
    """A memory-mapped split sliced into torch tensors on demand, so a corpus larger than
    memory is read as evolve reads it: a window at a time."""

    def __init__(self, ids):
        self.ids = ids

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, window):
        return torch.from_numpy(self.ids[window].astype("int64"))


def token_split(folder):
    """The splits of a prepared data folder: little-endian ids of the meta's dtype,
    memory-mapped with numpy; and the vocabulary."""
    import numpy as np
    meta = json.load(open(os.path.join(folder, "meta.json")))
    dtype = np.dtype(meta["dtype"]).newbyteorder("<")
    train, val = (Tokens(np.memmap(os.path.join(folder, meta[s]["file"]), dtype=dtype, mode="r")) for s in ("train", "val"))
    return train, val, meta["vocab_size"]


def val_loss(model, val, context, batch=64, replicas=1):
    """Windows go through `batch` at a time, the last batch padded with window 0 (its losses not
    counted), each batch split into `replicas` row groups run apart: as evolve evaluates, which
    matters where a routed layer's capacity depends on the rows it sees."""
    model.eval()
    windows, total = (len(val) - 1) // context, 0.0
    groups = [(batch * i // replicas, batch * (i + 1) // replicas) for i in range(replicas)]
    with torch.no_grad():
        for first in range(0, windows, batch):
            used = min(batch, windows - first)
            ws = [first + r if r < used else 0 for r in range(batch)]
            x = torch.stack([val[w * context:(w + 1) * context] for w in ws])
            y = torch.stack([val[w * context + 1:(w + 1) * context + 1] for w in ws])
            losses = []
            for lo, hi in groups:
                logits, _ = model(x[lo:hi])
                losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[lo:hi].reshape(-1), reduction="none"))
            total += torch.cat(losses)[:used * context].double().sum().item()
    return total / (windows * context)


def train(model, data, steps, seed, batch=12):
    torch.manual_seed(seed)
    context = model.context
    opt = torch.optim.AdamW(model.parameter_groups(0.1), lr=1e-3, betas=(0.9, 0.99))
    def lr_at(it):
        if it < 100:
            return 1e-3 * (it + 1) / 101
        r = min(1.0, (it - 100) / max(1, steps - 100))
        return 1e-4 + 0.5 * (1 + math.cos(math.pi * r)) * (1e-3 - 1e-4)
    model.train()
    for it in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        ix = torch.randint(len(data) - context - 1, (batch,))
        x = torch.stack([data[i:i + context] for i in ix])
        y = torch.stack([data[i + 1:i + context + 1] for i in ix])
        _, loss = model(x, y)
        if model.aux_loss is not None:  # routing's load-balancing terms, as evolve adds them
            loss = loss + model.aux_loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["val", "train"])
    ap.add_argument("model")
    ap.add_argument("checkpoint", nargs="?")
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus")
    source.add_argument("--data")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    exported = load_module(a.model)
    trainsplit, val, vocabulary = token_split(a.data) if a.data else split(a.corpus)
    if a.mode == "val":
        if not a.checkpoint:
            sys.exit("val needs the checkpoint folder of `evolve train … --save DIR`")
        model = exported.Model.from_checkpoint(a.checkpoint)
        state = json.load(open(os.path.join(a.checkpoint, "state.json")))
        print(f"val_loss={val_loss(model, val, model.context, state.get('batch', 12), state['replicas']):.6f}")
    else:
        torch.manual_seed(a.seed)
        model = exported.Model()
        assert model.vocabulary == vocabulary, f"the module is for {model.vocabulary} tokens, the corpus has {vocabulary}"
        t0 = time.perf_counter()
        train(model, trainsplit, a.steps, a.seed)
        seconds = time.perf_counter() - t0
        print(f"steps={a.steps} seed={a.seed} train_seconds={seconds:.1f} val_loss={val_loss(model, val, model.context, 12, 1):.6f}")


if __name__ == "__main__":
    main()
