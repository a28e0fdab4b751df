"""The shipped pretrained encoders on datasets they never saw, against per-dataset training.

Protocol
--------
- Data: the datasets of :data:`benchmarks.pretrain.LEFT_OUT` (never in a corpus), the
  official train/test split, TS2Vec's normalisation; the label fractions of the
  practice benchmark (:data:`benchmarks.practice.classification.FRACTIONS`), with its
  nested, stratified label subsets per (dataset, seed).
- Arms, each giving instance embeddings of every training and test series, then
  TS2Vec's SVM protocol (:func:`sslts.evaluation.fit_svm`) on the labelled ones:

  ``zero-shot``
      ``load_pretrained(name, pooling="mean")``, no training (the channel embeddings
      averaged);
  ``zero-shot concat``
      the same with ``pooling="concat"`` (the channel embeddings side by side: the
      shipped pooling; the same as ``zero-shot`` on univariate data);
  ``fine-tune 10%`` / ``fine-tune 25%``
      the pretrained model fine-tuned (``estimator__warm_start=True``) on all training
      series without labels, for 10 % / 25 % of TS2Vec's default budget (200 steps,
      600 above 100,000 training values), mean pooling;
  ``fine-tune 10% concat`` / ``fine-tune 25% concat``
      the same with ``pooling="concat"`` (the pooling does not change the fit);
  ``ts2vec``
      ``TS2VecTransformer()`` with its defaults (channel-mixing), fitted per dataset;
  ``minirocket``
      aeon's MiniRocket with its ridge classifier, for reference.

- Per row: test accuracy, the seconds to the embeddings (fit or load, then
  transform of train and test) and of the probe.  Seeds 0, 1, 2: they seed the
  fits and the label subsets (the zero-shot embeddings are the same for every seed).

Usage::

    python -m benchmarks.pretrained_eval --datasets GunPoint ... --part a   # rows
    python -m benchmarks.pretrained_eval --long                # T = 30,000 timing
    python -m benchmarks.pretrained_eval --timing              # 2 threads, per dataset
    python -m benchmarks.pretrained_eval --report              # pretrained.md
    python -m benchmarks.pretrained_eval --card                # the model cards
"""

from __future__ import annotations

import argparse
import os
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from sslts import TS2VecTransformer
from sslts.pretrained import load_pretrained

from .practice import features as F
from .practice.classification import FRACTIONS, label_subset, load_prepared
from .practice.common import ResultStore
from .pretrain import LEFT_OUT, MODELS
from .provenance import git_commit
from .run import PeakMemory

FIELDS = ["model", "dataset", "seed", "fraction", "arm", "accuracy", "n_labelled", "n_train",
          "n_test", "n_classes", "n_channels", "length", "fit_seconds", "transform_seconds",
          "probe_seconds", "n_iter", "commit", "error"]
KEY = ["model", "dataset", "seed", "fraction", "arm"]
ARMS = ("zero-shot", "zero-shot concat", "fine-tune 10%", "fine-tune 25%",
        "fine-tune 10% concat", "fine-tune 25% concat", "ts2vec", "minirocket")
ZERO_SHOT = ("zero-shot", "zero-shot concat")
FINE_TUNE = {"fine-tune 10%": 0.10, "fine-tune 25%": 0.25, "fine-tune 10% concat": 0.10,
             "fine-tune 25% concat": 0.25}
POOLING = {arm: "concat" if arm.endswith("concat") else "mean"
           for arm in ZERO_SHOT + tuple(FINE_TUNE)}
"""The pooling of each pretrained arm, explicit: the shipped default may change."""
SEEDS = (0, 1, 2)
RESULTS = Path(__file__).parent / "results"


def default_steps(X: np.ndarray) -> int:
    """TS2Vec's default budget on ``X`` (steps)."""
    return TS2VecTransformer().default_budget(X)[1]


def embeddings(model: str, arm: str, data, seed: int) -> F.Features:
    """Instance embeddings of the training and test series by one arm."""
    if arm == "minirocket":
        return F.rocket_features("minirocket", data.filled_train, data.filled_test, seed)
    if arm == "ts2vec":
        return F.encoder_features(TS2VecTransformer, {"device": "cpu", "random_state": seed},
                                  data.X_train, data.X_test)
    start = time.perf_counter()
    encoder = load_pretrained(model, pooling=POOLING[arm])
    n_iter = None
    if arm in FINE_TUNE:
        n_iter = max(1, round(FINE_TUNE[arm] * default_steps(data.X_train)))
        encoder.set_params(estimator__warm_start=True, estimator__n_iters=n_iter,
                           estimator__random_state=seed, estimator__device="cpu")
        encoder.fit(data.X_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    train, test = encoder.transform(data.X_train), encoder.transform(data.X_test)
    return F.Features(train, test, fit_seconds, time.perf_counter() - start, n_iter)


def probe(arm: str, features: F.Features, labelled, data) -> tuple[float, float]:
    """Accuracy and seconds of the arm's classifier on the labelled series."""
    fit = F.rocket_ridge if arm == "minirocket" else F.rbf_probe
    start = time.perf_counter()
    clf = fit(features.train[labelled], data.y_train[labelled])
    accuracy = float(np.mean(clf.predict(features.test) == data.y_test))
    return accuracy, time.perf_counter() - start


def run(store: ResultStore, model: str, datasets, seeds, arms, data_home, log=print) -> None:
    """Compute every missing row of ``store`` (resumable)."""
    commit = git_commit()
    F.warm_up()
    for name in datasets:
        todo = [(s, a) for s in seeds for a in arms
                if not all(store.done(model=model, dataset=name, seed=s, fraction=f, arm=a)
                           for f in FRACTIONS)]
        if not todo:
            continue
        data = load_prepared(name, data_home)
        zero_shot = {}
        for seed, arm in todo:
            base = {"model": model, "dataset": name, "seed": seed, "arm": arm,
                    "n_train": len(data.y_train), "n_test": len(data.y_test),
                    "n_classes": len(np.unique(data.y_train)),
                    "n_channels": data.X_train.shape[2], "length": data.X_train.shape[1],
                    "commit": commit}
            try:
                if arm in ZERO_SHOT:  # the same embeddings for every seed
                    zero_shot[arm] = zero_shot.get(arm) or embeddings(model, arm, data, seed)
                    feats = zero_shot[arm]
                else:
                    feats = embeddings(model, arm, data, seed)
            except Exception as exc:  # record it, retry on the next run, go on
                traceback.print_exc()
                for fraction in FRACTIONS:
                    store.add({**base, "fraction": fraction,
                               "error": f"{type(exc).__name__}: {exc}"[:300]})
                continue
            accuracy = float("nan")
            for fraction in FRACTIONS:
                if store.done(model=model, dataset=name, seed=seed, fraction=fraction,
                              arm=arm):
                    continue
                labelled = label_subset(data.y_train, fraction, name, seed)
                accuracy, seconds = probe(arm, feats, labelled, data)
                store.add({**base, "fraction": fraction, "accuracy": accuracy,
                           "n_labelled": len(labelled), "fit_seconds": feats.fit_seconds,
                           "transform_seconds": feats.transform_seconds,
                           "probe_seconds": seconds, "n_iter": feats.n_iter})
            log(f"{name:24s} seed {seed} {arm:14s} fit {feats.fit_seconds:7.1f} s "
                f"accuracy (all labels) {accuracy:.3f}")


# ------------------------------------------------------------- cost checks
TIMING_FIELDS = ["model", "case", "n_series", "length", "n_channels", "threads",
                 "load_seconds", "transform_seconds", "peak_rss_mb", "commit"]


def long_series(length: int = 30_000, n_channels: int = 1) -> np.ndarray:
    """One synthetic series (three sines and noise) for the timing and memory check."""
    rng = np.random.default_rng(0)
    t = np.arange(length)[:, None]
    periods = np.array([24.0, 168.0, 1000.0])
    waves = np.sin(2 * np.pi * t / periods).sum(axis=1, keepdims=True)
    return (waves + 0.3 * rng.normal(size=(length, n_channels)))[None]


def timing(store: ResultStore, model: str, cases, data_home, threads: int, log=print) -> None:
    """Load + embed times (and peak memory) of the zero-shot model, one row per case."""
    commit = git_commit()
    torch.set_num_threads(threads)
    load_pretrained(model).transform(long_series(500))  # the first call's set-up costs
    for case in cases:
        if store.done(model=model, case=case, threads=threads):
            continue
        if case.startswith("synthetic"):
            X = [long_series(int(case.split("T=")[1].split(",")[0]),
                             int(case.rsplit("C=", 1)[1]))]
        else:
            data = load_prepared(case, data_home)
            X = [data.X_train, data.X_test]
        with PeakMemory() as memory:
            start = time.perf_counter()
            encoder = load_pretrained(model)
            loaded = time.perf_counter()
            Z = [encoder.transform(x) for x in X]
            done = time.perf_counter()
        assert all(np.isfinite(z).all() for z in Z)
        store.add({"model": model, "case": case, "n_series": sum(len(x) for x in X),
                   "length": X[0].shape[1], "n_channels": X[0].shape[2], "threads": threads,
                   "load_seconds": loaded - start, "transform_seconds": done - loaded,
                   "peak_rss_mb": memory.rss_mb, "commit": commit})
        log(f"{case:24s} load {loaded - start:5.2f} s, transform {done - loaded:6.2f} s, "
            f"peak RSS {memory.rss_mb:.0f} MB")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pretrained_eval",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=next(iter(MODELS)), choices=list(MODELS))
    parser.add_argument("--datasets", nargs="+", default=list(LEFT_OUT))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--part", default="a", help="suffix of the CSV (parallel runs)")
    parser.add_argument("--long", action="store_true",
                        help="embed T = 30,000 synthetic series (1 and 24 channels)")
    parser.add_argument("--timing", action="store_true",
                        help="load + embed every left-out dataset with --threads threads")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--report", action="store_true", help="write pretrained.md")
    parser.add_argument("--card", action="store_true", help="write the model cards")
    parser.add_argument("--data-home", default=os.environ.get("SSLTS_DATA", "../shared/data"))
    parser.add_argument("--out", default=str(RESULTS))
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    out = Path(args.out)
    if args.report or args.card:
        from .pretrained_report import write_card, write_report

        if args.report:
            write_report(out)
        if args.card:
            write_card(args.model, out)
        return
    if args.long or args.timing:
        store = ResultStore(out / "pretrained_timing.csv", TIMING_FIELDS,
                            ["model", "case", "threads"])
        cases = (["synthetic T=30000, C=1", "synthetic T=30000, C=24"] if args.long else [])
        cases += list(args.datasets) if args.timing else []
        timing(store, args.model, cases, args.data_home, args.threads)
        return
    store = ResultStore(out / f"pretrained_eval_{args.part}.csv", FIELDS, KEY)
    run(store, args.model, args.datasets, args.seeds, args.arms, args.data_home)


if __name__ == "__main__":
    main()
