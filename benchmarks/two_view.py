"""InfoNCE, Barlow Twins and VIbCReg (default encoders) next to TS2Vec and 1-NN-ED.

Two tables, each cell the mean ± std over seeds:

- **suite**: the 16 datasets of ``benchmarks/run.py`` with its protocol (TS2Vec's
  normalisation; RBF-SVM, 5-NN, linear SVM and logistic probes from
  :mod:`sslts.evaluation`), via ``benchmarks.run.run_classification``;
- **NC-VQVAE probes**: FordA, ECG5000, ShapesAll, Mallat and SonyAIBORobotSurface1/2
  with the thesis's probes (5-NN and ``SVC(kernel="linear", C=1)`` on
  MinMax(-1, 1)-scaled embeddings, ``benchmarks.ncvqvae.probes``); the large sets
  are subsampled (stratified, the same subset for every method and seed) so that
  the run fits on two CPU cores.  The thesis's NC-VQVAE numbers are a different
  model (a VQ-VAE with an SSL branch, 1000 epochs) and are printed for orientation.

Every estimator runs with its defaults except the budget (``--n-iters``; None keeps
each method's default) and the device.  Fit times are wall-clock seconds on this
machine; run under the CPU lock, alone::

    python -m benchmarks.two_view            # full run
    python -m benchmarks.two_view --suite GunPoint --nc --seeds 0 \\
        --n-iters 5 --out /tmp/two_view_smoke                          # smoke test
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from sslts import TS2VecTransformer, load_dataset
from sslts.evaluation import ts2vec_normalise
from sslts.methods.two_view import (
    BarlowTwinsTransformer,
    InfoNCETransformer,
    VIbCRegTransformer,
)

from .ncvqvae import THESIS, probes, subsample
from .provenance import git_commit
from .run import DEFAULT_DATASETS
from .seeds import (
    accuracy_table,
    baseline_rows,
    cell,
    fit_rows,
    fit_time_table,
    read_rows,
    recorder,
    select,
)

METHODS = {
    "infonce": InfoNCETransformer,
    "barlowtwins": BarlowTwinsTransformer,
    "vibcreg": VIbCRegTransformer,
    "ts2vec": TS2VecTransformer,
}
LABELS = {"infonce": "InfoNCE (LSTM)", "barlowtwins": "Barlow Twins (ResNet)",
          "vibcreg": "VIbCReg (ResNet)", "ts2vec": "TS2Vec", "1nn_euclidean": "1-NN-ED"}
NC_DATASETS = list(THESIS)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.two_view",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--suite", nargs="*", default=DEFAULT_DATASETS,
                        help="datasets of the suite table (none: skip it)")
    parser.add_argument("--nc", nargs="*", default=NC_DATASETS,
                        help="datasets of the NC-VQVAE probe table (none: skip it)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--n-iters", type=int, default=None,
                        help="optimiser steps of every fit (default: each method's budget)")
    parser.add_argument("--max-train", type=int, default=500)
    parser.add_argument("--max-test", type=int, default=1000)
    parser.add_argument("--data-home", default=str(Path(__file__).parents[2] / "shared/data"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--merge", nargs="+", metavar="CSV", default=None,
                        help="fit nothing: render the rows of these CSVs (parts of one "
                             "benchmark run in parallel, one process per core) into --out")
    return parser.parse_args(argv)


def _params(args) -> dict:
    params = {"device": "cpu"}
    if args.n_iters is not None:
        params.update(n_iters=args.n_iters, n_epochs=None)
    return params


def load_nc(dataset: str, args):
    """TS2Vec-normalised, subsampled train and test sets of an NC-VQVAE dataset."""
    X_train, y_train, X_test, y_test = load_dataset(dataset, data_home=args.data_home)
    X_train, X_test = ts2vec_normalise(dataset, X_train, X_test)
    X_train, y_train = subsample(X_train, y_train, args.max_train)
    X_test, y_test = subsample(X_test, y_test, args.max_test)
    return X_train, y_train, X_test, y_test


def nc_rows(dataset: str, method: str, seed: int, data, args) -> list[dict]:
    """One fit scored with the thesis's probes."""
    X_train, y_train, X_test, y_test = data
    encoder = METHODS[method](**_params(args), random_state=seed)
    start = time.perf_counter()
    encoder.fit(X_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    F_train, F_test = encoder.transform(X_train), encoder.transform(X_test)
    transform_seconds = time.perf_counter() - start
    svm, knn = probes(F_train, y_train, F_test, y_test)
    common = {"part": "nc", "dataset": dataset, "method": method, "seed": seed,
              "fit_seconds": fit_seconds, "transform_seconds": transform_seconds,
              "n_iter": encoder.n_iter_, "n_train": len(X_train), "n_test": len(X_test),
              "length": X_train.shape[1]}
    return [{**common, "protocol": "linear_svm", "accuracy": svm},
            {**common, "protocol": "knn5", "accuracy": knn}]


def render(rows: list[dict], args, elapsed: float) -> str:
    methods = [m for m in args.methods if select(rows, method=m)]
    suite = [d for d in args.suite if select(rows, part="suite", dataset=d)]
    nc = [d for d in args.nc if select(rows, part="nc", dataset=d)]
    budget = "each method's default budget" if args.n_iters is None else (
        f"{args.n_iters} optimiser steps per fit")
    lines = [
        "# Two-view objectives: InfoNCE, Barlow Twins, VIbCReg", "",
        f"commit {git_commit()}, torch {torch.__version__}, cpu, "
        f"{torch.get_num_threads()} threads, "
        f"{platform.machine()}; seeds {args.seeds}; {budget}; "
        + (f"merged from {len(args.merge)} parts run side by side, each pinned to its own "
           "core (`taskset`)" if args.merge else f"total wall time {elapsed / 60:.1f} min")
        + ". Generated by `python -m benchmarks.two_view`.", "",
        "Test accuracy (%), mean ± std over seeds. Defaults: InfoNCE = LSTM (128-d), "
        "temporal-neighbour windows of 30 steps, max pooling, projector 128; Barlow Twins "
        "and VIbCReg = "
        "VIbCReg's ResNet1D (512-d), VIbCReg's augmentations, projector 512 (official "
        "4096). TS2Vec = defaults.", "",
    ]
    if suite:
        lines += ["## Suite (benchmarks/run.py datasets), TS2Vec's RBF-SVM protocol", ""]
        lines += accuracy_table(rows, "suite", "svm", methods, suite, LABELS, {
            "1-NN-ED": lambda d: cell(select(rows, part="suite", dataset=d,
                                               method="1nn_euclidean"))})
        for protocol in ("knn", "linear_svm", "logistic"):
            lines += [f"### Suite, {protocol} probe", ""]
            lines += accuracy_table(rows, "suite", protocol, methods, suite, LABELS)
        lines += ["### Suite, fit seconds (mean ± std over seeds)", ""]
        lines += fit_time_table(rows, "suite", methods, suite, LABELS)
    if nc:
        lines += ["## NC-VQVAE datasets and probes (MinMax(-1, 1), test accuracy %)", "",
                  f"Training sets subsampled to at most {args.max_train} series, test sets "
                  f"to {args.max_test}. Thesis columns: its NC-VQVAE BT-slice / VIb-slice "
                  "(a different model, 1000 epochs; orientation only).", ""]
        for protocol, index, label in (("linear_svm", 0, "linear SVM"), ("knn5", 1, "KNN k=5")):
            lines += [f"### {label}", ""]
            thesis = {f"thesis NC-VQVAE {short}": (
                lambda d, m=m, i=index: f"{THESIS[d][m][i]:.1f}")
                for m, short in (("barlow_twins", "BT-slice"), ("vibcreg", "VIb-slice"))}
            lines += accuracy_table(rows, "nc", protocol, methods, nc, LABELS, thesis)
        lines += ["### NC-VQVAE datasets, fit seconds", ""]
        lines += fit_time_table(rows, "nc", methods, nc, LABELS)
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = read_rows(args.merge) if args.merge else []
    record = recorder(rows, out / "two_view.csv", out / "two_view.md",
                      lambda rows, elapsed: render(rows, args, elapsed))

    if args.merge:
        record([], "merged " + ", ".join(args.merge))
        return 0
    for dataset in args.suite:
        record(baseline_rows(dataset, args.data_home), f"suite {dataset} 1-NN-ED")
        for method in args.methods:
            for seed in args.seeds:
                arm = (method, method, _params(args))
                record(fit_rows(dataset, arm, seed, args.data_home),
                       f"suite {dataset} {method} {seed}")
    for dataset in args.nc:
        data = load_nc(dataset, args)
        for method in args.methods:
            for seed in args.seeds:
                record(nc_rows(dataset, method, seed, data, args), f"nc {dataset} {method} {seed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
