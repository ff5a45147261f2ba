"""One training run of evolve's, in PyTorch: `evolve worker --engine pytorch` runs it.

    python trainer.py JOB.json

JOB.json (written by evolve's TorchTrainer) names the exported module, the token files, the
recipe, the schedule, the marks and the validation windows. The run follows evolve's
trainer: AdamW on the module's parameter groups, warm-up then cosine, clipping, batches of
random windows split into the replicas' row groups, MPO's central cores' gradients dropped
with the module's GRADIENT_MASK probability, a validation loss at every mark over
the same windows evolve scores. It talks over its standard streams, a line each:

    step=N loss=X          after every step (evolve beats the lease and shows progress)
    mark=N val_loss=X      after a mark's evaluation; then it reads `go` or `stop` from stdin
    diverged=N loss=X      a step's loss was not finite; it ends there
    done                   the schedule ran to its end (or a mark said stop)
"""
import importlib.util
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F


def load_module(path):
    spec = importlib.util.spec_from_file_location("exported", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def token_file(split):
    """A split's ids, memory-mapped (little-endian, the file's width)."""
    return np.memmap(split["path"], dtype=np.dtype(split["dtype"]).newbyteorder("<"), mode="r")


def windows(ids, starts, length, device):
    return torch.from_numpy(np.stack([ids[s:s + length].astype(np.int64) for s in starts])).to(device)


def learning_rate(it, total, r):
    """evolve's schedule (Training/AdamW.swift: learningRate): linear warm-up, cosine to the minimum."""
    if it < r["warmup_steps"]:
        return r["learning_rate"] * (it + 1) / (r["warmup_steps"] + 1)
    ratio = min(1.0, (it - r["warmup_steps"]) / max(1, total - r["warmup_steps"]))
    return r["min_learning_rate"] + 0.5 * (1 + math.cos(math.pi * ratio)) * (r["learning_rate"] - r["min_learning_rate"])


def row_groups(batch, replicas):
    """The rows each replica of evolve's takes (ReplicatedModel): routing's capacity is per group."""
    n = max(1, min(replicas, batch))
    return [(batch * i // n, batch * (i + 1) // n) for i in range(n)]


def products(device, recipe):
    """precision: bfloat16 as autocast: products in bfloat16 with float32 sums, as evolve's, but
    autocast also hands their results on in bfloat16 where evolve keeps float32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=recipe.get("precision") == "bfloat16")


def batch_loss(model, x, y, groups, autocast):
    """The mean over the row groups of each group's cross-entropy plus its routing terms."""
    total = 0.0
    for lo, hi in groups:
        with autocast:
            _, loss = model(x[lo:hi], y[lo:hi])
        if model.aux_loss is not None:
            loss = loss + model.aux_loss
        total = total + loss * ((hi - lo) / x.shape[0])
    return total


def validation_loss(model, ids, starts, context, batch, groups, device, autocast):
    """Mean cross-entropy over the windows evolve scores, `batch` at a time in the same row
    groups, the last batch padded with the first window (its losses not counted)."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for first in range(0, len(starts), batch):
            used = min(batch, len(starts) - first)
            chosen = [starts[first + r] if r < used else starts[0] for r in range(batch)]
            w = windows(ids, chosen, context + 1, device)
            x, y = w[:, :-1], w[:, 1:]
            losses = []
            for lo, hi in groups:
                with autocast:
                    logits, _ = model(x[lo:hi])
                logits = logits.float()
                losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[lo:hi].reshape(-1), reduction="none"))
            total += torch.cat(losses)[:used * context].double().sum().item()
    model.train()
    return total / (len(starts) * context)


def main():
    job = json.load(open(sys.argv[1]))
    r = job["recipe"]
    torch.set_num_threads(job["threads"])
    device = torch.device(job["device"])
    torch.manual_seed(job["seed"])
    model = load_module(job["module"]).Model().to(device)
    context, batch = model.context, r["batch_size"]
    train, val = token_file(job["train"]), token_file(job["val"])
    starts = np.fromfile(job["validation_starts"], dtype="<i8")
    groups = row_groups(batch, job["replicas"])
    opt = torch.optim.AdamW(model.parameter_groups(r["weight_decay"]), lr=r["learning_rate"],
                            betas=(r["beta1"], r["beta2"]), eps=1e-8)
    generator = np.random.default_rng(job["seed"] + 0x5EED)
    marks, total = set(job["marks"]), job["steps"]
    masked = [(n, p) for n, p in model.named_parameters() if n.rsplit(".", 1)[-1] in model.GRADIENT_MASK]
    model.train()
    for it in range(total):
        for g in opt.param_groups:
            g["lr"] = learning_rate(it, job["schedule"], r)
        w = windows(train, generator.integers(0, len(train) - context, size=batch), context + 1, device)
        loss = batch_loss(model, w[:, :-1], w[:, 1:], groups, products(device, r))
        value = loss.item()
        if not math.isfinite(value):
            print(f"diverged={it + 1} loss={value}", flush=True)
            return
        loss.backward()
        for name, p in masked:  # dropped before clipping, as evolve drops them
            if generator.random() < model.GRADIENT_MASK[name.rsplit(".", 1)[-1]] and p.grad is not None:
                p.grad.zero_()
        torch.nn.utils.clip_grad_norm_(model.parameters(), r["grad_clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        print(f"step={it + 1} loss={value!r}", flush=True)
        if it + 1 in marks:
            v = validation_loss(model, val, starts, context, batch, groups, device, products(device, r))
            print(f"mark={it + 1} val_loss={v!r}", flush=True)
            if sys.stdin.readline().strip() != "go":
                break
    print("done", flush=True)


if __name__ == "__main__":
    main()
