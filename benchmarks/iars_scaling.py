"""Training time versus series length, IARS vs TS2Vec (the IARS paper's Table IV).

For each length, both estimators train the same encoder (TS2Vec's default dilated
CNN) for the same few iterations on the same series with the same ``random_state``,
hence on identical crops, masks and dropout; only the loss differs.  The series are
synthetic random walks: only the time is measured here (accuracy comes from
``iars_vs_ts2vec.py`` on real data).

Usage::

    python -m benchmarks.iars_scaling
"""

from __future__ import annotations

import argparse
import csv
import platform
from pathlib import Path

import numpy as np
import torch

from sslts import IARSTransformer, TS2VecTransformer

from .provenance import git_commit

LENGTHS = [100, 250, 500, 1000, 2000, 3000]


def random_walks(n_series: int, length: int, seed: int) -> np.ndarray:
    """Standardised Gaussian random walks, shape (n_series, length, 1)."""
    steps = np.random.default_rng(seed).normal(size=(n_series, length, 1))
    walks = steps.cumsum(axis=1)
    return (walks - walks.mean(axis=1, keepdims=True)) / walks.std(axis=1, keepdims=True)


def time_both(X: np.ndarray, n_iters: int, seed: int) -> tuple[float, float]:
    common = dict(n_iters=n_iters, random_state=seed, device="cpu")
    ts2vec = TS2VecTransformer(**common).fit(X).fit_time_
    iars = IARSTransformer(**common).fit(X).fit_time_
    return ts2vec, iars


def write(rows: list[dict], args) -> None:
    out = Path(args.out)
    with open(out / "iars_scaling.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    commit = git_commit()
    lines = [
        "# Training time vs series length: IARS vs TS2Vec (IARS paper, Table IV)",
        "",
        f"commit {commit}, torch {torch.__version__}, device cpu ({platform.machine()}), "
        f"{torch.get_num_threads()} CPU threads, seed {args.seed}, nothing else running on "
        "the machine.",
        "",
        f"{args.n_series} synthetic random walks per length, {args.n_iters} iterations, batch 8, "
        "TS2Vec's default encoder for both (depth 10, 64 hidden, 320 outputs); IARS with "
        "`selection='paper'`, `selection_frequency='epoch'`. Same seed, so both see identical "
        "crops (crop lengths are random, hence the per-length noise).",
        "",
        "| length | TS2Vec fit (s) | IARS fit (s) | ratio IARS/TS2Vec "
        "| s/iter TS2Vec | s/iter IARS |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['length']} | {r['ts2vec_s']:.2f} | {r['iars_s']:.2f} | {r['ratio']:.3f} | "
        f"{r['ts2vec_s'] / args.n_iters:.3f} | {r['iars_s'] / args.n_iters:.3f} |"
        for r in rows
    ]
    (out / "iars_scaling.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", nargs="+", type=int, default=LENGTHS)
    parser.add_argument("--n-series", type=int, default=32)
    parser.add_argument("--n-iters", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    time_both(random_walks(16, 50, args.seed), 2, args.seed)  # warm-up, not reported
    rows = []
    for length in args.lengths:
        ts2vec, iars = time_both(random_walks(args.n_series, length, args.seed),
                                 args.n_iters, args.seed)
        rows.append({"length": length, "ts2vec_s": round(ts2vec, 3), "iars_s": round(iars, 3),
                     "ratio": round(iars / ts2vec, 3)})
        print(rows[-1], flush=True)
        write(rows, args)


if __name__ == "__main__":
    main()
