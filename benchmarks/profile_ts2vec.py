"""Where a TS2Vec training step spends its time: sslts next to the official code.

Everything runs in one process, the two codes interleaved (the order alternates
between repeats), so that the ratios hold even while other work shares the machine.
Three views of the same question, on GunPoint (T = 150; ``--dataset`` for another)
with batch 8:

1. ``fit``: whole ``fit`` calls of ``n_iters`` steps, sslts ``TS2VecTransformer``
   and the official ``TS2Vec`` (``../shared/peers/ts2vec``); seconds per step.
2. ``parts``: each piece of a step timed on its own, on the same crop geometry for
   both codes (drawn once from a seeded generator, as both codes draw it): the
   encoder's forward + backward over both views (masks included), the hierarchical
   loss forward + backward on fixed representations, AdamW's step, the weight
   average, the crops.  ``fit`` minus the sum of the parts is the loop's own cost
   (data loading, bookkeeping, Python).
3. ``ops``: ``torch.profiler`` over a short fit of each code; self CPU time grouped
   by what the operator belongs to.

Usage (shared 2-core machine: take the lock)::

    python benchmarks/profile_ts2vec.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from official import import_official, ts2vec_run

from sslts import TS2VecTransformer, load_dataset
from sslts.augment import binomial_mask, sample_overlapping_crops
from sslts.encoders import TS2VecEncoder
from sslts.evaluation import ts2vec_normalise
from sslts.losses import hierarchical_contrastive_loss

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# Seconds of the step timings: wall clock by default; ``--clock cpu`` uses the process's
# CPU time, which other processes time-sharing the cores do not inflate (use it with
# ``--threads 1``: with more threads it also counts their spin-waiting).
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter
OFFICIAL = import_official("ts2vec", ["ts2vec", "models.encoder", "models.losses", "utils"])

# Operators -> part of the step (``ops`` section); names are matched exactly after
# stripping "aten::", anything else counts as "elementwise and other".
OP_GROUPS = {
    "encoder: convolutions": {"conv1d", "convolution", "_convolution", "mkldnn_convolution",
                              "convolution_backward", "_slow_conv2d_forward",
                              "_slow_conv2d_backward"},
    "encoder: pointwise layers (mm)": {"linear", "addmm", "mm"},
    "encoder: gelu": {"gelu", "gelu_backward"},
    "encoder: dropout": {"dropout", "bernoulli_", "native_dropout"},
    "loss: batched matmuls": {"bmm", "baddbmm_", "baddbmm", "matmul"},
    "loss: softmax, pooling, triangles": {
        "_log_softmax", "log_softmax", "_log_softmax_backward_data", "logsumexp", "exp_",
        "tril", "triu", "max_pool1d", "max_pool1d_with_indices", "max_pool2d_with_indices",
        "max_pool2d_with_indices_backward", "_PairedInfoNCE", "_PairedInfoNCEBackward",
        "_OffDiagonalLogSumExp", "_OffDiagonalLogSumExpBackward"},
    "optimizer and weight average": {"_foreach_add_", "_foreach_mul_", "_foreach_lerp_",
                                     "_foreach_addcmul_", "_foreach_addcdiv_", "_foreach_sqrt",
                                     "_foreach_div_", "_foreach_copy_", "_fused_adamw_",
                                     "Optimizer.step#AdamW.step", "zero_"},
}


def training_set(name: str = "GunPoint") -> np.ndarray:
    X, _, X_test, _ = load_dataset(name, data_home=DATA)
    return ts2vec_normalise(name, X, X_test)[0].astype(np.float32)


# ------------------------------------------------------------------ whole fits
def fit_sslts(X: np.ndarray, n_iters: int, seed: int) -> float:
    enc = TS2VecTransformer(n_iters=n_iters, batch_size=8, random_state=seed, device="cpu")
    start = clock()
    enc.fit(X)
    return clock() - start


def fit_official(X: np.ndarray, n_iters: int, seed: int) -> float:
    fit, _ = ts2vec_run(X, n_iters=n_iters, batch_size=8, seed=seed, device="cpu")
    start = clock()
    fit()
    return clock() - start


def bench_fit(X, n_iters: int, repeats: int) -> list[dict]:
    rows = []
    codes = [("sslts", fit_sslts), ("official", fit_official)]
    for rep in range(repeats):
        for code, fn in codes if rep % 2 == 0 else codes[::-1]:
            seconds = fn(X, n_iters, seed=rep)
            rows.append(dict(section="fit", part="whole step", code=code, rep=rep,
                             ms=1e3 * seconds / n_iters))
            print(rows[-1], flush=True)
    return rows


# ------------------------------------------------------------------ parts
def crop_plan(n_steps: int, T: int, B: int, seed: int) -> list[tuple]:
    """TS2Vec's crop geometry for ``n_steps`` steps: (a1, b1, a2, b2, offsets)."""
    rng = np.random.default_rng(seed)
    plan = []
    for _ in range(n_steps):
        overlap = int(rng.integers(2, T + 1))
        a2 = int(rng.integers(0, T - overlap + 1))
        b1 = a2 + overlap
        a1 = int(rng.integers(0, a2 + 1))
        b2 = int(rng.integers(b1, T + 1))
        plan.append((a1, b1, a2, b2, rng.integers(-a1, T - b2 + 1, size=B)))
    return plan


def _views(x: torch.Tensor, step: tuple) -> tuple[torch.Tensor, torch.Tensor, int]:
    a1, b1, a2, b2, off = step
    take = OFFICIAL["utils"].take_per_row
    return take(x, off + a1, b1 - a1), take(x, off + a2, b2 - a2), b1 - a2


class Parts:
    """The pieces of one step for one code, each callable on a crop-plan entry."""

    def __init__(self, code: str, C: int, seed: int):
        torch.manual_seed(seed)
        self.code = code
        if code == "official":
            self.net = OFFICIAL["models.encoder"].TSEncoder(input_dims=C, output_dims=320)
            self.avg = torch.optim.swa_utils.AveragedModel(self.net)
            self.loss_fn = OFFICIAL["models.losses"].hierarchical_contrastive_loss
        else:
            self.net = TS2VecEncoder(C, 320)
            self.avg = [p.detach().clone() for p in self.net.parameters()]
            self.loss_fn = hierarchical_contrastive_loss
            self.gen = torch.Generator().manual_seed(seed)
            self.host_rng = np.random.default_rng(seed)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=1e-3)
        self.n_avg = 1

    def encode(self, v1, v2, overlap):
        if self.code == "official":  # masks are drawn inside its forward (training mode)
            return self.net(v1.clone())[:, -overlap:], self.net(v2.clone())[:, :overlap]
        m1 = binomial_mask(v1.shape[:2], 0.5, self.gen, v1.device)
        m2 = binomial_mask(v2.shape[:2], 0.5, self.gen, v2.device)
        return self.net(v1, m1)[:, -overlap:], self.net(v2, m2)[:, :overlap]

    def encoder_fwd_bwd(self, v1, v2, overlap, g1, g2):
        z1, z2 = self.encode(v1, v2, overlap)
        torch.autograd.backward([z1, z2], [g1, g2])

    def loss_fwd_bwd(self, z1, z2):
        z1, z2 = z1.detach().requires_grad_(), z2.detach().requires_grad_()
        self.loss_fn(z1, z2).backward()

    def average(self):
        if self.code == "official":
            self.avg.update_parameters(self.net)
        else:
            self.n_avg += 1
            with torch.no_grad():
                torch._foreach_lerp_(self.avg, list(self.net.parameters()), 1.0 / self.n_avg)

    def crops(self, x, step):
        if self.code == "official":
            return _views(x, step)
        return sample_overlapping_crops(x, self.host_rng, 2)  # its own draw, same law


def _timed(fn, *args) -> float:
    start = clock()
    fn(*args)
    return clock() - start


def bench_parts(X, n_steps: int, repeats: int) -> list[dict]:
    """Median per-step milliseconds of each part, both codes on the same crops."""
    B, T, C = 8, X.shape[1], X.shape[2]
    plan = crop_plan(n_steps, T, B, seed=0)
    rng = np.random.default_rng(1)
    batches = [torch.from_numpy(X[rng.choice(len(X), B, replace=False)]) for _ in plan]
    parts = {code: Parts(code, C, seed=0) for code in ("sslts", "official")}
    times = defaultdict(list)
    for rep in range(repeats):
        order = list(parts) if rep % 2 == 0 else list(parts)[::-1]
        for code in order:
            p = parts[code]
            for step, x in zip(plan, batches):
                v1, v2, overlap = _views(x, step)
                g1 = torch.randn(B, overlap, 320)
                g2 = torch.randn(B, overlap, 320)
                times[code, "encoder fwd+bwd (2 views, masks)"].append(
                    _timed(p.encoder_fwd_bwd, v1, v2, overlap, g1, g2))
                times[code, "loss fwd+bwd"].append(_timed(p.loss_fwd_bwd, g1, g2))
                times[code, "optimizer step"].append(_timed(p.opt.step))
                times[code, "weight average"].append(_timed(p.average))
                times[code, "crops"].append(_timed(p.crops, x, step))
                p.opt.zero_grad(set_to_none=True)
    return [dict(section="parts", part=part, code=code, ms=1e3 * float(np.mean(v)))
            for (code, part), v in times.items()]


# ------------------------------------------------------------------ ops
def _group(name: str) -> str:
    op = name.removeprefix("aten::")
    return next((g for g, ops in OP_GROUPS.items() if op in ops), "elementwise and other")


def bench_ops(X, n_iters: int) -> list[dict]:
    """Self CPU time per operator group over a short fit of each code (profiler on)."""
    from torch.profiler import ProfilerActivity, profile

    rows = []
    for code, fn in (("sslts", fit_sslts), ("official", fit_official)):
        fn(X, 2, seed=0)  # warm-up: first-call allocations and oneDNN primitive caches
        start = time.perf_counter()  # the profiler's times are wall-clock times
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn(X, n_iters, seed=0)
        wall = time.perf_counter() - start
        groups = defaultdict(float)
        for evt in prof.key_averages():  # self times: every microsecond counted once
            if evt.key.startswith(("aten::", "Optimizer", "_")):
                groups[_group(evt.key)] += evt.self_cpu_time_total / 1e3
        accounted = sum(groups.values())
        for group, ms in groups.items():
            rows.append(dict(section="ops", part=group, code=code, ms=ms / n_iters))
        rows.append(dict(section="ops", part="outside operators (Python, loop, profiler)",
                         code=code,
                         ms=(1e3 * wall - accounted) / n_iters))
        rows.append(dict(section="ops", part="whole step (profiled)", code=code,
                         ms=1e3 * wall / n_iters))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-iters", type=int, default=60)
    parser.add_argument("--sections", nargs="+", default=["fit", "parts", "ops"])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads for this run (default: torch's choice)")
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall")
    parser.add_argument("--dataset", default="GunPoint", help="a shared UCR/UEA dataset")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    global clock
    clock = CLOCK[args.clock]
    if args.threads is not None:  # a benchmark process may set its own global state
        torch.set_num_threads(args.threads)
    if OFFICIAL is None:
        print("../shared/peers/ts2vec is absent: nothing to compare against.")
        return
    X = training_set(args.dataset)
    rows = []
    if "fit" in args.sections:
        rows += bench_fit(X, args.n_iters, args.repeats)
    if "parts" in args.sections:
        rows += bench_parts(X, args.n_iters, args.repeats)
    if "ops" in args.sections:
        rows += bench_ops(X, args.n_iters // 2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile_ts2vec.json").write_text(json.dumps(rows, indent=1))
    print_summary(rows)


def print_summary(rows: list[dict]) -> None:
    table = defaultdict(dict)
    for r in rows:
        table[r["section"], r["part"]].setdefault(r["code"], []).append(r["ms"])
    print(f"{'section':8s} {'part':42s} {'sslts ms':>9s} {'official ms':>11s} {'ratio':>6s}")
    for (section, part), by_code in table.items():
        s = np.median(by_code.get("sslts", [np.nan]))
        o = np.median(by_code.get("official", [np.nan]))
        print(f"{section:8s} {part:42s} {s:9.2f} {o:11.2f} {o / s:6.2f}")


if __name__ == "__main__":
    main()
