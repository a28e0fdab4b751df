"""Anomaly detection on the shared UCR anomaly series: TS2Vec embeddings vs two simple scores.

Protocol (TS2Vec's, Section 4.3, on the archive's split)
-------------------------------------------------------
- Data: ``UCR_Anomaly_135_InternalBleeding16`` (7,501 points, the first 1,200 normal
  training points, one anomalous segment of 12 points at 4187-4198).
- Preprocessing: the series is differenced ``d`` times, then z-normalised with the
  statistics of its (differenced) training part.  ``d = "adf"`` is the official rule
  (difference while an ADF test on the training part finds a unit root; it gives
  ``d = 0`` here); ``d = 1`` is reported too, since first differences are what the
  official preprocessing applies to most Yahoo/KPI series.
- Scores, every one causal (from the past of ``t`` only):

  * ``ts2vec``: :class:`sslts.EmbeddingAnomalyDetector` -- the L1 distance between the
    embedding of ``t`` computed from ``[t - 200, t]`` with and without ``t`` masked,
    divided by its moving mean over the 21 previous steps; the encoder
    (``TS2VecTransformer``, the paper's configuration) is trained on the training part;
  * ``rolling z-score``: ``|x_t - mean| / std`` of the 200 previous values;
  * ``1-NN discord``: z-normalised distance from the subsequence ending at ``t`` to its
    nearest training subsequence, of the length of the training part's dominant period.

- Decision rule, the same for all: threshold ``mean + 4 std`` of the training scores
  (the first ``d + 22`` dropped), test points above it flagged, a flag dropped when an
  earlier one lies within ``delay = 7`` steps; point-adjusted F1 / precision / recall
  on the test part (a segment counts as found when a flag falls in its first 8 points).

Usage::

    python -m benchmarks.anomaly            # the committed run
    python -m benchmarks.anomaly --quick --out /tmp/anomaly           # smoke test
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from sslts import TS2VecTransformer
from sslts.anomaly_detector import EmbeddingAnomalyDetector
from sslts.evaluation import (
    discord_distance,
    dominant_period,
    evaluate_anomaly_scores,
    load_ucr_anomaly,
    rolling_zscore,
)

from .provenance import git_commit

SERIES = "UCR_Anomaly_135_InternalBleeding16"
DELAY = 7


def run_metadata() -> str:
    """One line with the commit, torch version and threads."""
    return (f"commit `{git_commit()}`, torch {torch.__version__}, device cpu, "
            f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")


def encoder_for(seed: int, quick: bool) -> TS2VecTransformer:
    if quick:
        return TS2VecTransformer(output_dims=16, hidden_dims=16, depth=3, n_iters=10,
                                 device="cpu", random_state=seed)
    return TS2VecTransformer(device="cpu", random_state=seed)  # the paper's configuration


def score_row(method, n_diffs, seed, scores, series, skip, seconds) -> dict:
    res = evaluate_anomaly_scores(scores, series.labels, series.n_train, delay=DELAY, skip=skip)
    flagged = np.flatnonzero(res["predictions"]) + series.n_train
    return {"method": method, "n_diffs": n_diffs, "seed": seed, "f1": float(res["f1"]),
            "precision": float(res["precision"]), "recall": float(res["recall"]),
            "threshold": float(res["threshold"]), "n_flags": len(flagged),
            "first_flags": " ".join(map(str, flagged[:5])), "seconds": round(seconds, 1)}


def run(series, n_diffs, seeds, args) -> list[dict]:
    """The embedding detector for every seed, then both baselines, on one preprocessing."""
    n, padding = series.n_train, 50 if args.quick else 200
    rows, detector = [], None
    for seed in seeds:
        start = time.perf_counter()
        detector = EmbeddingAnomalyDetector(encoder_for(seed, args.quick), padding=padding,
                                            n_diffs=n_diffs, delay=DELAY)
        detector.fit(series.values[:n])
        scores = detector.score_samples(series.values)
        d = detector.n_diffs_
        rows.append(score_row("ts2vec", d, seed, scores, series, d + detector.ma_window + 1,
                              time.perf_counter() - start))
        print(rows[-1], flush=True)
    # The baselines see the detector's preprocessing (deterministic, seed-free).
    d = detector.n_diffs_
    prepared = (np.diff(series.values, d) - detector.mean_[0]) / detector.scale_[0]
    start = time.perf_counter()
    zscores = np.concatenate([np.zeros(d), rolling_zscore(prepared, window=padding)])
    rows.append(score_row("rolling z-score", d, "-", zscores, series, d + padding,
                          time.perf_counter() - start))
    length = dominant_period(prepared[: n - d])
    start = time.perf_counter()
    distances = np.concatenate([np.zeros(d), discord_distance(prepared, n - d, length)])
    rows.append(score_row(f"1-NN discord (m={length})", d, "-", distances, series,
                          d + length, time.perf_counter() - start))
    print(rows[-2:], flush=True)
    return rows


def write(rows: list[dict], out: Path, header: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "anomaly.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"# Anomaly detection on {SERIES}: point-adjusted F1 / precision / recall", "",
             header, "",
             "| method | differences d | seed | F1 | precision | recall | flags | first flags "
             "| seconds |", "|---|---|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['n_diffs']} | {r['seed']} | {r['f1']:.3f} | "
                     f"{r['precision']:.3f} | {r['recall']:.3f} | {r['n_flags']} | "
                     f"{r['first_flags']} | {r['seconds']:.0f} |")
    (out / "anomaly.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("SSLTS_SHARED_DATA",
                                                              "../shared/data"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-diffs", nargs="+", default=["adf", "1"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny encoder, one seed")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    series = load_ucr_anomaly(Path(args.data_home) / "anomaly" / SERIES)
    seeds = args.seeds[:1] if args.quick else args.seeds
    rows = []
    for d in args.n_diffs:
        rows += run(series, d if d == "adf" else int(d), seeds, args)
    config = ("tiny TS2Vec (16-d, depth 3, 10 iterations), padding 50 (--quick)" if args.quick
              else "TS2VecTransformer defaults (320-d, depth 10, 200 iterations), padding 200")
    header = (f"{run_metadata()}. Generated by `benchmarks/anomaly.py`. Encoder: {config}; "
              f"delay {DELAY}; protocol in the script's docstring. 'first flags' are the "
              "indices of the first flagged test points (the anomaly is at 4187-4198).")
    write(rows, Path(args.out), header)


if __name__ == "__main__":
    main()
