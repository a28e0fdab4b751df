"""TimeDRL [CLS] embeddings vs TS2Vec on UEA/UCR classification (CPU budget run).

Protocol: official train/test split, TS2Vec's normalisation
(``sslts.evaluation.ts2vec_normalise``) for both methods, instance embeddings, then
(a) a linear probe (StandardScaler + multinomial logistic regression, C=1) and
(b) TS2Vec's RBF-SVM protocol (``sslts.evaluation.fit_svm``).  No test-set model
selection: one fit, one evaluation.

CPU budget choices (stated in the output table):

- TimeDRL: ``output_dims=64, n_heads=4, n_layers=2``, default budget (10 epochs with
  the official halving schedule), batch 32, channel-mixing tokens as in all the
  official classification configs, ``patch_len = min(16, max(2, T // 8))`` and
  ``stride = max(1, patch_len // 2)``;
- TS2Vec: default architecture (320-d, depth 10) with ``n_iters`` reduced to
  ``--ts2vec-iters`` (paper: 200, or 600 on sets above 100,000 values);
- PenDigits: a stratified subsample of ``--max-train`` training series (both
  methods, probe and SVM); the test set is complete.

Usage::

    python -m benchmarks.timedrl_classification --seeds 0
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sslts import TimeDRLTransformer, TS2VecTransformer, load_dataset
from sslts.evaluation import fit_svm, ts2vec_normalise

from .provenance import git_commit

DATASETS = ["FingerMovements", "PenDigits", "Epilepsy", "NATOPS",
            "GunPoint", "ECG200", "ItalyPowerDemand", "CBF"]
# TimeDRL's own result files (linear probe, best test epoch); Epilepsy there is the
# 178-step TS-TCC set, not UEA Epilepsy, so it is not listed.
TIMEDRL_OFFICIAL = {"FingerMovements": 0.650, "PenDigits": 0.980}
# TS2Vec paper (B=8, SVM, full iterations): Tables 9/10.
TS2VEC_PAPER = {"FingerMovements": 0.480, "PenDigits": 0.989, "Epilepsy": 0.964,
                "NATOPS": 0.928, "GunPoint": 0.980, "ECG200": 0.920,
                "ItalyPowerDemand": 0.925, "CBF": 1.000}


def run_metadata() -> str:
    """One line with the commit, torch version, device and threads."""
    return (f"commit `{git_commit()}`, torch {torch.__version__}, "
            f"device cpu, {torch.get_num_threads()} threads, "
            f"{platform.processor() or platform.machine()}")


def timedrl_for(T: int, seed: int) -> TimeDRLTransformer:
    patch_len = min(16, max(2, T // 8))
    return TimeDRLTransformer(output_dims=64, n_heads=4, n_layers=2, patch_len=patch_len,
                              stride=max(1, patch_len // 2), channel_independent=False,
                              random_state=seed, device="cpu")


def load(name: str, data_home: str, max_train: int, seed: int):
    X_train, y_train, X_test, y_test = load_dataset(name, data_home=data_home)
    if len(X_train) > max_train:
        X_train, _, y_train, _ = train_test_split(X_train, y_train, train_size=max_train,
                                                  stratify=y_train, random_state=seed)
    X_train, X_test = ts2vec_normalise(name, X_train, X_test)
    return X_train, y_train, X_test, y_test


def evaluate(enc, X_train, y_train, X_test, y_test) -> dict:
    """Fit the encoder, then score a linear probe and the SVM on its embeddings."""
    start = time.perf_counter()
    enc.fit(X_train)
    fit_s = time.perf_counter() - start
    F_train, F_test = enc.transform(X_train), enc.transform(X_test)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    linear = probe.fit(F_train, y_train).score(F_test, y_test)
    svm = float(np.mean(fit_svm(F_train, y_train).predict(F_test) == y_test))
    return {"linear": linear, "svm": svm, "fit_s": fit_s, "n_iters": enc.n_iter_,
            "dims": F_train.shape[1]}


def run_dataset(name: str, args, seed: int) -> list[dict]:
    X_train, y_train, X_test, y_test = load(name, args.data_home, args.max_train, seed)
    encoders = {
        "TimeDRL": timedrl_for(X_train.shape[1], seed),
        "TS2Vec": TS2VecTransformer(n_iters=args.ts2vec_iters, random_state=seed, device="cpu"),
    }
    rows = []
    for method, enc in encoders.items():
        row = {"dataset": name, "method": method, "seed": seed,
               "train_shape": "x".join(map(str, X_train.shape))}
        row.update(evaluate(enc, X_train, y_train, X_test, y_test))
        rows.append(row)
        print(f"{name:18s} {method:8s} seed {seed} linear {row['linear']:.3f} "
              f"svm {row['svm']:.3f} fit {row['fit_s']:6.1f}s iters {row['n_iters']}", flush=True)
    return rows


def write_markdown(rows: list[dict], path: Path, args) -> None:
    lines = [
        "# TimeDRL vs TS2Vec: instance-embedding classification (CPU budget run)",
        "",
        f"{run_metadata()}, seeds {args.seeds}; mean over seeds. "
        "Generated by `benchmarks/timedrl_classification.py`.",
        "",
        "TimeDRL: 64-d, 4 heads, 2 layers, channel-mixing, 10 epochs (halving lr), batch 32, "
        "`patch_len = min(16, max(2, T // 8))`, `stride = patch_len // 2`. "
        f"TS2Vec: defaults but `n_iters={args.ts2vec_iters}`. PenDigits train set "
        f"subsampled to {args.max_train} series (stratified). Linear = StandardScaler + "
        "logistic regression; SVM = TS2Vec's RBF-SVM protocol. Reference columns use other "
        "protocols: TimeDRL official = linear probe, *best test epoch*, tuned config; "
        "TS2Vec paper = SVM, full training.",
        "",
        "| dataset | train shape | TimeDRL linear | TimeDRL SVM | TS2Vec linear | TS2Vec SVM "
        "| TimeDRL official | TS2Vec paper | fit s TimeDRL / TS2Vec |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in dict.fromkeys(r["dataset"] for r in rows):
        def mean(method, key, name=name):
            return np.mean([r[key] for r in rows if r["dataset"] == name and r["method"] == method])
        shape = next(r["train_shape"] for r in rows if r["dataset"] == name)
        official = TIMEDRL_OFFICIAL.get(name)
        lines.append(
            f"| {name} | {shape} | {mean('TimeDRL', 'linear'):.3f} | {mean('TimeDRL', 'svm'):.3f} "
            f"| {mean('TS2Vec', 'linear'):.3f} | {mean('TS2Vec', 'svm'):.3f} | "
            f"{'—' if official is None else f'{official:.3f}'} | {TS2VEC_PAPER[name]:.3f} | "
            f"{mean('TimeDRL', 'fit_s'):.1f} / {mean('TS2Vec', 'fit_s'):.1f} |"
        )
    means = {(m, k): np.mean([r[k] for r in rows if r["method"] == m])
             for m in ("TimeDRL", "TS2Vec") for k in ("linear", "svm")}
    lines += [
        f"| **mean** | | **{means['TimeDRL', 'linear']:.3f}** | **{means['TimeDRL', 'svm']:.3f}**"
        f" | **{means['TS2Vec', 'linear']:.3f}** | **{means['TS2Vec', 'svm']:.3f}** | | | |",
        "",
    ]
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=str(Path(__file__).parents[2] / "shared/data"))
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--ts2vec-iters", type=int, default=200)
    parser.add_argument("--max-train", type=int, default=1500)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.datasets:
        for seed in args.seeds:
            rows += run_dataset(name, args, seed)
        # Rewritten after every data set so that an interrupted run keeps its rows.
        with open(out / "timedrl_classification.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        write_markdown(rows, out / "timedrl_classification.md", args)


if __name__ == "__main__":
    main()
