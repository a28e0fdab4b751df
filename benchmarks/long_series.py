"""TS2Vec on long recordings (T = 10,000 and 30,000): time and peak memory.

Long recordings are where users cannot fall back on foundation models capped at a
few hundred steps.  Every case runs in a fresh process (peak resident memory,
``VmHWM``, is per process) on real data: the first ``T`` rows of ETTm1 (15-minute
readings of 7 sensors, 69,680 rows), standardised, cut into ``n_series`` recordings.

Cases:

- ``loss``: the hierarchical contrastive loss alone, forward + backward, on (B, T, 320)
  representations, unchunked where its (B, 2T, 2T) matrix fits in ``--max-gb`` and
  with row chunks of ``--chunks``;
- ``fit``: ``TS2VecTransformer.fit`` for ``--n-iters`` iterations with its defaults
  (``max_train_length=3000``: the recordings are cut into sections of 3,000 steps) and,
  when the estimator has a ``loss_chunk_size`` parameter, with full-length crops
  (``max_train_length=None``) and a chunked loss.

Reported: seconds, seconds per iteration (fit), peak resident memory above the
process's memory before the measured call (MB).

Usage (long: take the lock; ``--quick`` uses T = 1,000 / 3,000 and takes a minute)::

    python benchmarks/long_series.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sslts import TS2VecTransformer
from sslts.losses import hierarchical_contrastive_loss

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "forecast" / "ETTm1.csv"


def recordings(T: int, n_series: int) -> np.ndarray:
    """``n_series`` consecutive stretches of ``T`` rows of ETTm1, (n_series, T, 7)."""
    values = pd.read_csv(DATA).drop(columns="date").to_numpy(np.float64)
    if n_series * T > len(values):
        raise ValueError(f"ETTm1 has {len(values)} rows; n_series * T = {n_series * T}.")
    values = values[: n_series * T]
    values = (values - values.mean(0)) / values.std(0)
    return values.reshape(n_series, T, -1).astype(np.float32)


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) / 1024
    return float("nan")


def measure(fn) -> tuple[float, float]:
    """Seconds and peak-RSS growth (MB) of ``fn()``."""
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    before = _rss_mb("VmRSS")
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start, _rss_mb("VmHWM") - before


def run_case(case: dict) -> dict:
    """One measurement, in this (fresh) process."""
    if case["kind"] == "loss":
        gen = torch.Generator().manual_seed(0)
        z1, z2 = (torch.randn(case["B"], case["T"], 320, generator=gen).mul_(0.05)
                  .requires_grad_() for _ in range(2))
        seconds, peak = measure(lambda: hierarchical_contrastive_loss(
            z1, z2, chunk_size=case["chunk"]).backward())
        return dict(case, seconds=seconds, peak_mb=peak)
    X = recordings(case["T"], case["n_series"])
    params = dict(n_iters=case["n_iters"], random_state=0, device="cpu",
                  max_train_length=case["max_train_length"])
    if case["chunk"] is not None:
        params["loss_chunk_size"] = case["chunk"]
    enc = TS2VecTransformer(**params)
    seconds, peak = measure(lambda: enc.fit(X))
    return dict(case, seconds=seconds, s_per_iter=seconds / case["n_iters"], peak_mb=peak)


def cases(lengths, args) -> list[dict]:
    out = []
    for T in lengths:
        full_gb = args.batch * (2 * T) ** 2 * 4 / 2**30
        for chunk in ([None] if full_gb <= args.max_gb else []) + args.chunks:
            out.append(dict(kind="loss", T=T, B=args.batch, chunk=chunk))
        out.append(dict(kind="fit", T=T, n_series=args.n_series, n_iters=args.n_iters,
                        max_train_length=3000, chunk=None))
        if "loss_chunk_size" in TS2VecTransformer().get_params():
            out.append(dict(kind="fit", T=T, n_series=args.n_series, n_iters=args.n_iters,
                            max_train_length=None, chunk=args.chunks[0]))
    return out


def write_results(rows: list[dict], out: Path, quick: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = "long_series_quick" if quick else "long_series"
    df = pd.DataFrame(rows)
    df.to_csv(out / f"{stem}.csv", index=False)
    lines = ["# TS2Vec on long recordings (`benchmarks/long_series.py`)", "",
             f"torch {torch.__version__}, cpu, {torch.get_num_threads()} threads; ETTm1 "
             "stretches; each case in a fresh process. `peak_mb`: peak resident memory "
             "(VmHWM) growth during the call.", "",
             "| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    for r in df.itertuples(index=False):
        lines.append("| " + " | ".join("" if pd.isna(v) else f"{v:.4g}" if isinstance(v, float)
                                       else str(v) for v in r) + " |")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 1,000 / 3,000, 2 iterations")
    parser.add_argument("--batch", type=int, default=1, help="series per loss call")
    parser.add_argument("--n-series", type=int, default=2, help="recordings per fit")
    parser.add_argument("--n-iters", type=int, default=5)
    parser.add_argument("--chunks", type=int, nargs="+", default=[1024])
    parser.add_argument("--max-gb", type=float, default=8.0,
                        help="run the unchunked loss only when its matrix is at most this")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    if args.quick:
        args.n_iters = 2
    rows = []
    for case in cases((1000, 3000) if args.quick else (10_000, 30_000), args):
        proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append(dict(case, error=(proc.stderr.strip().splitlines() or ["?"])[-1]))
        else:
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
        write_results(rows, Path(args.out), args.quick)


if __name__ == "__main__":
    main()
