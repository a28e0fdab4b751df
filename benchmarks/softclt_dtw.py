"""SoftCLT's building blocks: DTW backends, distance modes, soft vs hard loss.

Every case runs in a fresh process (peak resident memory, ``VmHWM``, is per process),
on one thread (set ``OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1`` in the environment).

Cases:

- ``backend``: the (n, n) DTW matrix of random walks with tslearn's ``cdist_dtw``,
  aeon's ``dtw_pairwise_distance`` and sktime's ``DtwDist`` (best of two runs after a
  compile call), and the largest difference from tslearn;
- ``modes``: :class:`sslts.utils.dtw.DTWDistances` on real training sets — build time,
  peak memory above the loaded data, memory held, time per mini-batch of 8;
- ``loss``: ``soft_hierarchical_contrastive_loss`` against
  ``hierarchical_contrastive_loss``, forward + backward on (8, T, 320), time (best of 3)
  and peak memory.

Usage (minutes; take the lock; ``--quick`` runs the small cases only)::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \\
        python benchmarks/softclt_dtw.py --data-home <folder with ucr/ and uea/>
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np


def _peak_mib(key: str = "VmHWM") -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return float("nan")


def _walks(n, t, c, seed=0):
    return np.random.default_rng(seed).standard_normal((n, t, c)).cumsum(1)


def _backends():
    from aeon.distances import dtw_pairwise_distance
    from sktime.dists_kernels import DtwDist
    from tslearn.metrics import cdist_dtw

    def channels_first(X):
        return np.ascontiguousarray(X.transpose(0, 2, 1))

    # aeon and sktime return the path cost; tslearn its square root.
    return {
        "tslearn": cdist_dtw,
        "aeon": lambda X: np.sqrt(dtw_pairwise_distance(channels_first(X))),
        "sktime": lambda X: np.sqrt(DtwDist().transform(channels_first(X))),
    }


def case_backend(n, t, c):
    out, values = {}, {}
    for name, fn in _backends().items():
        fn(_walks(3, 5, c))  # numba compile
        X = _walks(n, t, c, seed=1)
        best = np.inf
        for _ in range(2):
            start = time.perf_counter()
            values[name] = fn(X)
            best = min(best, time.perf_counter() - start)
        out[f"{name}_s"] = round(best, 2)
    for name in ("aeon", "sktime"):
        out[f"{name}_max_abs_diff"] = float(np.abs(values[name] - values["tslearn"]).max())
    return {"case": f"backend n={n} T={t} C={c}", **out}


def case_modes(name, mode, data_home):
    import sslts
    from sslts.utils.dtw import DTWDistances, pairwise_dtw

    pairwise_dtw(_walks(3, 5, 2))  # numba compile
    X = sslts.load_dataset(name, data_home=data_home)[0]
    before = _peak_mib("VmRSS")
    start = time.perf_counter()
    dist = DTWDistances(X, mode=mode, random_state=0)
    build = time.perf_counter() - start
    peak = _peak_mib() - before
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for _ in range(20):
        dist(rng.choice(len(X), 8, replace=False))
    return {"case": f"modes {name} {X.shape} mode={dist.mode_}", "build_s": round(build, 2),
            "peak_mib": round(peak, 1), "held_mib": round(dist.nbytes / 2**20, 2),
            "per_batch_ms": round((time.perf_counter() - start) / 20 * 1e3, 2)}


def case_loss(kind, T, chunk):
    import torch

    from sslts.losses import (
        hierarchical_contrastive_loss,
        soft_hierarchical_contrastive_loss,
        soft_instance_weights,
    )

    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(8, T, 320, generator=g).mul_(0.05).requires_grad_()
    z2 = torch.randn(8, T, 320, generator=g).mul_(0.05).requires_grad_()
    weights = soft_instance_weights(torch.rand(8, 8, generator=g), tau=1.0).float()
    if kind == "hard":
        def step():
            hierarchical_contrastive_loss(z1, z2, chunk_size=chunk).backward()
    else:
        def step():
            soft_hierarchical_contrastive_loss(z1, z2, weights, tau_temp=1.0,
                                               chunk_size=chunk).backward()
    before = _peak_mib("VmRSS")
    step()
    peak = _peak_mib() - before
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return {"case": f"loss {kind} B=8 T={T} D=320 chunk={chunk}",
            "fwd_bwd_ms": round(best * 1e3, 1), "peak_mib": round(peak, 1)}


def _jobs(quick: bool, data_home: str) -> list[list[str]]:
    jobs = [["backend", "100", "100", "1"], ["backend", "60", "100", "6"],
            ["modes", "CricketX", "auto", data_home], ["modes", "FordA", "auto", data_home],
            ["loss", "hard", "1000", "0"], ["loss", "soft", "1000", "0"]]
    if not quick:
        jobs += [["backend", "200", "300", "1"], ["backend", "500", "150", "1"],
                 ["backend", "150", "200", "6"], ["backend", "2000", "8", "2"],
                 ["modes", "ShapesAll", "full", data_home],
                 ["modes", "ShapesAll", "batch", data_home],
                 ["modes", "PenDigits", "full", data_home],
                 ["modes", "PenDigits", "auto", data_home],
                 ["loss", "hard", "3000", "256"], ["loss", "soft", "3000", "256"]]
    return jobs


def _run_one(args: list[str]) -> dict:
    kind, *rest = args
    if kind == "backend":
        return case_backend(*map(int, rest))
    if kind == "modes":
        return case_modes(*rest)
    return case_loss(rest[0], int(rest[1]), int(rest[2]) or None)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None, help="folder holding ucr/ and uea/")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)  # a case, in this process
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_run_one(args.one)), flush=True)
        return
    for job in _jobs(args.quick, args.data_home):
        done = subprocess.run([sys.executable, __file__, "--one", *job],
                              capture_output=True, text=True)
        print(done.stdout.strip() or done.stderr[-2000:], flush=True)


if __name__ == "__main__":
    main()
