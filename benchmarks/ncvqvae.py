"""NCVQVAETransformer (ssl=None, Barlow Twins, VIbCReg; slice view) vs the thesis and TS2Vec.

Protocol (the thesis's, ``evaluation/downstream_eval.py`` of the NC-VQVAE code): the
official UCR split; the estimator standardises with the training set's mean and
standard deviation; representations are the global-average-pooled quantised
latents, computed in eval mode with a frozen codebook; MinMaxScaler(-1, 1) fitted
on the training representations; KNN (k = 5) and ``SVC(kernel="linear", C=1)``
scored on the test set.  TS2Vec (default parameters) gets the same probes.

The thesis trains 1000 epochs at batch 128 on a GPU.  On 2 CPU cores the whole run
has to fit in about 25 minutes (a step of the VQ-VAE costs about 0.6 GFLOP per
series and view at length 500), so every fit gets a fixed number of optimiser
steps (``--n-iters``), the largest sets are subsampled (``--max-train``,
``--max-test``: a stratified random subset, the same for every method and seed)
and series longer than ``--max-length`` are averaged over non-overlapping windows
of ``ceil(T / max_length)`` steps (FordA 500 -> 250, ShapesAll 512 -> 256, Mallat
1024 -> 256; the encoder's depth follows the length, so the latent grid stays about
5 x 8 as in the thesis).  The epochs and the fit times are written next to the
accuracies.

Usage::

    python -m benchmarks.ncvqvae            # full run
    python -m benchmarks.ncvqvae --datasets SonyAIBORobotSurface1 --seeds 0 \\
        --n-iters 5 --out /tmp/ncvqvae_smoke                          # smoke test
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC

from sslts import TS2VecTransformer, load_dataset
from sslts.methods.ncvqvae import NCVQVAETransformer

from .provenance import git_commit

# Mean of 4 seeds of the thesis runs (NC results/<dataset>/stage1 CSVs @ 4b905c6e, as
# tabulated in shared/reference/new_methods.md): (linear SVM %, KNN %) per column.
THESIS = {
    "FordA": {"none": (74.2, 70.1), "barlow_twins": (89.4, 90.9), "vibcreg": (86.1, 86.8)},
    "ECG5000": {"none": (82.8, 80.0), "barlow_twins": (84.4, 87.8), "vibcreg": (83.8, 88.5)},
    "ShapesAll": {"none": (30.5, 28.7), "barlow_twins": (60.4, 53.3), "vibcreg": (60.2, 53.9)},
    "Mallat": {"none": (76.7, 63.2), "barlow_twins": (83.3, 76.0), "vibcreg": (84.5, 77.1)},
    "SonyAIBORobotSurface1": {"none": (67.9, 55.7), "barlow_twins": (74.0, 60.8),
                              "vibcreg": (70.8, 57.8)},
    "SonyAIBORobotSurface2": {"none": (85.5, 80.6), "barlow_twins": (79.9, 80.3),
                              "vibcreg": (85.2, 79.5)},
}
CONFIGS = ("none", "barlow_twins", "vibcreg")
LABELS = {"none": "VQVAE", "barlow_twins": "BT-slice", "vibcreg": "VIb-slice", "ts2vec": "TS2Vec"}
FIELDS = ["dataset", "method", "seed", "svm", "knn", "fit_s", "transform_s", "n_iters",
          "n_epochs", "batch_size", "codes_used", "perplexity", "n_train", "n_test", "length"]


def probes(F_train, y_train, F_test, y_test) -> tuple[float, float]:
    """Test accuracy of the thesis's linear SVM and 5-NN on MinMax(-1, 1)-scaled features."""
    svm = make_pipeline(MinMaxScaler((-1, 1)), SVC(kernel="linear", C=1.0))
    knn = make_pipeline(MinMaxScaler((-1, 1)), KNeighborsClassifier(n_neighbors=5))
    return tuple(float(p.fit(F_train, y_train).score(F_test, y_test)) for p in (svm, knn))


def subsample(X, y, limit: int | None, seed: int = 0):
    """A stratified random subset of at most ``limit`` series (all of them if fewer)."""
    if limit is None or len(X) <= limit:
        return X, y
    # Stratification needs a left-out series of every class.
    stratify = y if len(X) - limit >= len(np.unique(y)) else None
    keep, _ = train_test_split(np.arange(len(X)), train_size=limit, stratify=stratify,
                               random_state=seed)
    keep = np.sort(keep)
    return X[keep], y[keep]


def shorten(X: np.ndarray, max_length: int | None) -> np.ndarray:
    """Average (n, T, C) over windows of ``ceil(T / max_length)`` steps (a partial last one)."""
    factor = 1 if max_length is None else -(-X.shape[1] // max_length)
    if factor == 1:
        return X
    n, T, C = X.shape
    padded = np.pad(X, ((0, 0), (0, -T % factor), (0, 0)), constant_values=np.nan)
    return np.nanmean(padded.reshape(n, -1, factor, C), axis=2)


def load(name: str, args):
    X_train, y_train, X_test, y_test = load_dataset(name, data_home=args.data_home)
    X_train, y_train = subsample(X_train, y_train, args.max_train)
    X_test, y_test = subsample(X_test, y_test, args.max_test)
    return shorten(X_train, args.max_length), y_train, shorten(X_test, args.max_length), y_test


def run_one(encoder, method: str, name: str, seed: int, data) -> dict:
    X_train, y_train, X_test, y_test = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dead codes: reported in the table
        start = time.perf_counter()
        encoder.fit(X_train)
        fit_s = time.perf_counter() - start
    start = time.perf_counter()
    F_train, F_test = encoder.transform(X_train), encoder.transform(X_test)
    transform_s = time.perf_counter() - start
    svm, knn = probes(F_train, y_train, F_test, y_test)
    usage = getattr(encoder, "codebook_usage_", None)
    return {
        "dataset": name, "method": method, "seed": seed, "svm": svm, "knn": knn,
        "fit_s": fit_s, "transform_s": transform_s, "n_iters": encoder.n_iter_,
        "n_epochs": encoder.n_epochs_, "batch_size": min(encoder.batch_size, len(X_train)),
        "codes_used": "" if usage is None else int((usage > 0).sum()),
        "perplexity": "" if usage is None else round(encoder.perplexity_, 2),
        "n_train": len(X_train), "n_test": len(X_test), "length": X_train.shape[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=str(Path(__file__).parents[2] / "shared/data"))
    parser.add_argument("--datasets", nargs="+", default=list(THESIS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--n-iters", type=int, default=40, help="optimiser steps per fit")
    parser.add_argument("--batch-size", type=int, default=32)
    # 384 x 256 values keep TS2Vec at its 200-step budget on ShapesAll (<= 100k values).
    parser.add_argument("--max-train", type=int, default=384)
    parser.add_argument("--max-test", type=int, default=600)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--ts2vec-seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    started = time.perf_counter()
    for name in args.datasets:
        data = load(name, args)
        jobs = [(c, s) for c in args.configs for s in args.seeds]
        jobs += [("ts2vec", s) for s in args.ts2vec_seeds]
        for method, seed in jobs:
            if method == "ts2vec":
                encoder = TS2VecTransformer(random_state=seed, device="cpu")
            else:
                encoder = NCVQVAETransformer(
                    ssl=None if method == "none" else method, augmentation="slice",
                    n_iters=args.n_iters, n_epochs=None, batch_size=args.batch_size,
                    random_state=seed, device="cpu",
                )
            rows.append(run_one(encoder, method, name, seed, data))
            r = rows[-1]
            print(f"{name:22s} {method:12s} seed {seed}  svm {r['svm']:.3f}  knn {r['knn']:.3f}"
                  f"  fit {r['fit_s']:6.1f}s  codes {r['codes_used']}", flush=True)
            # Rewritten after every fit so an interrupted run keeps what it measured.
            write_csv(rows, out / "ncvqvae.csv")
            write_markdown(rows, out / "ncvqvae.md", args, time.perf_counter() - started)


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _cell(rows: list[dict], key: str) -> str:
    if not rows:
        return ""
    values = 100 * np.array([r[key] for r in rows])
    return f"{values.mean():.1f} ± {values.std():.1f}" if len(values) > 1 else f"{values[0]:.1f}"


def _mean(rows: list[dict], key: str) -> float | None:
    return 100 * float(np.mean([r[key] for r in rows])) if rows else None


def _cost_table(rows: list[dict], names: list[str], methods: list[str]) -> list[str]:
    lines = ["## Cost and codebook use (means over seeds)", "",
             "| dataset | method | train × length | epochs | steps | fit s | transform s | "
             "codes used / 32 | perplexity |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        for m in methods:
            sub = [r for r in rows if r["dataset"] == name and r["method"] == m]
            if not sub:
                continue
            cells = [name, LABELS[m], f"{sub[0]['n_train']} × {sub[0]['length']}"]
            cells += [f"{np.mean([r[k] for r in sub]):{fmt}}" for k, fmt in
                      (("n_epochs", ".0f"), ("n_iters", ".0f"), ("fit_s", ".1f"),
                       ("transform_s", ".1f"))]
            for k, fmt in (("codes_used", ".1f"), ("perplexity", ".2f")):
                values = [r[k] for r in sub if r[k] != ""]
                cells.append(f"{np.mean(values):{fmt}}" if values else "")
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_markdown(rows: list[dict], path: Path, args, elapsed: float) -> None:
    commit = git_commit()
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = [m for m in (*CONFIGS, "ts2vec") if any(r["method"] == m for r in rows)]
    lines = [
        "# NCVQVAETransformer vs the NC-VQVAE thesis and TS2Vec",
        "",
        f"commit `{commit}`, torch {torch.__version__}, cpu, {torch.get_num_threads()} threads, "
        f"{platform.machine()}; NC-VQVAE seeds {args.seeds}, TS2Vec seeds {args.ts2vec_seeds}; "
        f"total wall time {elapsed / 60:.1f} min. Generated by `benchmarks/ncvqvae.py`.",
        "",
        "Protocol: the thesis's probes (linear SVM C=1 and 5-NN on MinMax(-1, 1)-scaled "
        "representations, test accuracy %, mean ± std over seeds). NC-VQVAE: default "
        "architecture (64-d codes, 32 codes, latent width 8, projector 512), slice "
        f"augmentation, **{args.n_iters} optimiser steps per fit** at batch "
        f"{args.batch_size} (the thesis: 1000 epochs at batch 128); training sets "
        f"subsampled to at most {args.max_train} series and test sets to {args.max_test} "
        "(stratified, the same subset for every method), series averaged down to at most "
        f"{args.max_length} steps (the lengths are in the cost table). TS2Vec: default "
        "parameters "
        "(200 or 600 steps at batch 8). Thesis columns: mean of its 4 seeds at 1000 epochs.",
        "",
        "The budget is sized so that the whole run takes at most about 25 minutes on 2 CPU "
        "cores (the thesis's 1000 epochs at batch 128 would take days here): read these as "
        "short-training results, not as a reproduction of the thesis's numbers.",
        "",
    ]
    for key, label in (("svm", "linear SVM"), ("knn", "KNN (k=5)")):
        lines += [f"## {label} accuracy (%)", ""]
        header = ["dataset"] + [f"sslts {LABELS[m]}" for m in methods]
        header += [f"thesis {LABELS[m]}" for m in CONFIGS if m in methods]
        lines += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
        means = {m: [] for m in methods}
        for name in names:
            cells = [name]
            for m in methods:
                sub = [r for r in rows if r["dataset"] == name and r["method"] == m]
                cells.append(_cell(sub, key))
                if sub:
                    means[m].append(_mean(sub, key))
            index = 0 if key == "svm" else 1
            cells += [f"{THESIS[name][m][index]:.1f}" for m in CONFIGS if m in methods]
            lines.append("| " + " | ".join(cells) + " |")
        mean_cells = ["**mean**"] + [f"**{np.mean(v):.1f}**" if v else "" for v in means.values()]
        index = 0 if key == "svm" else 1
        mean_cells += [f"**{np.mean([THESIS[n][m][index] for n in names]):.1f}**"
                       for m in CONFIGS if m in methods]
        lines += ["| " + " | ".join(mean_cells) + " |", ""]
    lines += _cost_table(rows, names, methods)
    lines.append("")
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
