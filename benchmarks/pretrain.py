"""Reproduce every pretrained model shipped in ``sslts/pretrained/`` with one command.

Each model (:data:`MODELS`) is a :class:`sslts.ChannelIndependent` encoder trained on
the training splits of the shared UCR/UEA datasets, except the datasets of
:data:`LEFT_OUT`, which are kept for the evaluation (``benchmarks/pretrained_eval.py``)
and never seen in pretraining.  Every channel of every series is a univariate training
series; series longer than the model's ``window`` are cut into sections no longer than
it, and each dataset contributes at most ``cap`` univariate series (a fixed random
subset), so that no dataset dominates.  Labels are never read.

Training runs in stages of ``stage_iters`` optimiser steps, each a warm start of the
previous one; each stage is saved in ``--work``, so an interrupted run resumes from the
last finished stage (and ends with the same weights)::

    python -m benchmarks.pretrain                       # every model: train, export
    python -m benchmarks.pretrain --validate            # + zero-shot accuracy per stage
    python -m benchmarks.pretrain --stages 12 --validate --no-export   # the budget sweep
    python -m benchmarks.pretrain --validate --validate-last --no-export  # the pooling

``--validate`` measures, after every stage, the zero-shot accuracy (TS2Vec's SVM
protocol) on the test splits of :data:`VALIDATION`: corpus datasets whose *test*
series were not in the corpus (rows in ``benchmarks/results/pretrained_budget.csv``):
a sweep over stages shows what a larger or smaller budget would give.  The shipped
budget (``stages``) is set by cost, not by such a sweep: it is what fits in about 40
minutes on one CPU core.  Export writes ``<name>.pt`` (the running average of the iterates,
with no optimiser state) and ``<name>.json`` into ``sslts/pretrained/``;
``benchmarks/pretrained_eval.py --card`` writes the model card.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

import sslts
from sslts import ChannelIndependent, TS2VecTransformer, load_dataset
from sslts.evaluation import fit_svm, ts2vec_normalise

from .practice.common import ResultStore
from .provenance import git_commit

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "sslts" / "pretrained"

LEFT_OUT = (
    "GunPoint", "ECG200", "Coffee", "ItalyPowerDemand", "ToeSegmentation1",
    "SonyAIBORobotSurface2", "MedicalImages", "Car", "BasicMotions", "NATOPS",
    "JapaneseVowels",
)
"""Evaluation-only datasets: 8 UCR and 3 UEA sets of 24 to 577 steps and 1 to 24
channels (motion, ECG, spectra, power demand, robot sensors, images, outlines, human
activity, gestures, speech), never in a corpus."""

UCR = (
    "Adiac ArrowHead BeetleFly CBF Car Chinatown Coffee CricketX DiatomSizeReduction "
    "DistalPhalanxOutlineCorrect DodgerLoopDay ECG200 ECG5000 FiftyWords Fish FordA "
    "GesturePebbleZ1 GunPoint Ham InsectWingbeatSound ItalyPowerDemand Mallat MedicalImages "
    "MelbournePedestrian PhalangesOutlinesCorrect PickupGestureWiimoteZ ShapesAll "
    "SonyAIBORobotSurface1 SonyAIBORobotSurface2 Strawberry SwedishLeaf SyntheticControl "
    "ToeSegmentation1 TwoLeadECG UMD"
).split()
UEA = (
    "ArticularyWordRecognition AtrialFibrillation BasicMotions Epilepsy FingerMovements "
    "Handwriting JapaneseVowels NATOPS PenDigits RacketSports StandWalkJump "
    "UWaveGestureLibrary"
).split()
CORPUS = tuple(name for name in UCR + UEA if name not in LEFT_OUT)
"""Every shared UCR/UEA classification dataset but :data:`LEFT_OUT` (training splits)."""

VALIDATION = ("ArrowHead", "CBF", "DistalPhalanxOutlineCorrect", "SwedishLeaf", "Fish",
              "Epilepsy", "RacketSports")
"""Corpus datasets whose test splits measure zero-shot accuracy to choose the budget."""


@dataclass(frozen=True)
class ModelSpec:
    """How one shipped model is trained.

    Attributes
    ----------
    name : str
    params : dict
        Constructor parameters of :class:`~sslts.TS2VecTransformer` beyond its
        defaults (``n_iters`` is the stage size).
    pooling : str
        The shipped ``ChannelIndependent`` pooling.
    window : int
        Longest training series; longer ones are cut into sections.
    cap : int
        Most univariate series a dataset contributes.
    stages : int
        Stages of ``params["n_iters"]`` steps: the budget.
    seed : int
    """

    name: str
    params: dict = field(default_factory=dict)
    pooling: str = "mean"
    window: int = 512
    cap: int = 1000
    stages: int = 8
    seed: int = 0

    @property
    def stage_iters(self) -> int:
        return self.params["n_iters"]


# 8 stages of 500 steps (4000 steps): a stage takes about 200 s of CPU time on one core,
# so the budget fits in 40 minutes of one core (the model card has the measured time).
# The pooling does not change training; "concat" was the most accurate on both
# multivariate VALIDATION sets (--validate --validate-last, pretrained_budget.md).
MODELS = {
    "ts2vec-ucr-uea": ModelSpec("ts2vec-ucr-uea", {"n_iters": 500}, pooling="concat",
                                stages=8),
}


# ------------------------------------------------------------------ corpus
def sections(X: np.ndarray, window: int) -> np.ndarray:
    """Cut series longer than ``window`` into ``ceil(T / window)`` near-equal sections.

    Each section becomes a series (NaN-padded to the longest section); sections with
    no observed value are dropped.

    Examples
    --------
    >>> sections(np.arange(10.0).reshape(1, 10, 1), 4)[..., 0]
    array([[ 0.,  1.,  2.,  3.],
           [ 4.,  5.,  6., nan],
           [ 7.,  8.,  9., nan]])
    """
    if X.shape[1] <= window:
        return X
    parts = np.array_split(X, -(-X.shape[1] // window), axis=1)
    length = parts[0].shape[1]
    padded = [np.pad(p, ((0, 0), (0, length - p.shape[1]), (0, 0)), constant_values=np.nan)
              for p in parts]
    out = np.concatenate(padded, axis=0)
    return out[~np.isnan(out).all(axis=(1, 2))]


def corpus_dataset(name: str, data_home, window: int, cap: int,
                   seed: int) -> tuple[np.ndarray, int]:
    """One dataset's contribution (normalised training series, sectioned and capped)
    and its number of training series.

    The normalisation is TS2Vec's (:func:`sslts.evaluation.ts2vec_normalise`, from the
    training split), the one the evaluation applies to the left-out datasets.
    """
    X, _, _, _ = load_dataset(name, data_home=data_home)
    n_train = len(X)
    X, _ = ts2vec_normalise(name, X, X[:1])
    X = sections(X, window)
    keep = max(1, cap // X.shape[2])
    if len(X) > keep:
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        X = X[np.sort(rng.choice(len(X), keep, replace=False))]
    return X.astype(np.float32), n_train


def build_corpus(spec: ModelSpec, data_home) -> tuple[list[np.ndarray], list[dict]]:
    """The corpus of ``spec`` (one 3-D array per dataset) and its table for the card."""
    arrays, table = [], []
    for name in CORPUS:
        X, n_train = corpus_dataset(name, data_home, spec.window, spec.cap, spec.seed)
        arrays.append(X)
        table.append({"dataset": name, "archive": "UEA" if name in UEA else "UCR",
                      "n_train": n_train, "channels": X.shape[2],
                      "univariate_series": int((~np.isnan(X).all(axis=1)).sum())})
    return arrays, table


# ---------------------------------------------------------------- training
def stage_path(work: Path, spec: ModelSpec, stage: int) -> Path:
    return work / spec.name / f"stage{stage:03d}.pt"


def new_model(spec: ModelSpec) -> ChannelIndependent:
    """The untrained model: TS2Vec's defaults, warm-started stage after stage."""
    params = {"device": "cpu", "random_state": spec.seed, "warm_start": True, **spec.params}
    return ChannelIndependent(TS2VecTransformer(**params), pooling=spec.pooling)


def train(spec: ModelSpec, corpus: list[np.ndarray], work: Path, stages: int,
          log=print) -> list[Path]:
    """Run (or resume) the stages; return the path of every finished stage."""
    done = [k for k in range(1, stages + 1) if stage_path(work, spec, k).is_file()]
    last = max(done, default=0)
    model = sslts.load(stage_path(work, spec, last)) if last else new_model(spec)
    for k in range(last + 1, stages + 1):
        start = time.perf_counter()
        model.fit(corpus)
        path = stage_path(work, spec, k)
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        seconds = time.perf_counter() - start
        record = {"seconds": round(seconds, 1), "n_iter": int(model.estimator_.n_iter_),
                  "commit": git_commit()}
        path.with_suffix(".json").write_text(json.dumps(record) + "\n")
        log(f"{spec.name}: stage {k}/{stages} ({model.estimator_.n_iter_} steps) in "
            f"{seconds:.0f} s, last epoch loss {model.estimator_.loss_history_[-1]:.3f}")
    return [stage_path(work, spec, k) for k in range(1, stages + 1)]


def stage_records(work: Path, spec: ModelSpec, stages: int) -> list[dict]:
    """What each of the first ``stages`` stages recorded: seconds, steps, commit."""
    return [json.loads(stage_path(work, spec, k).with_suffix(".json").read_text())
            for k in range(1, stages + 1)]


# -------------------------------------------------------------- validation
VALIDATION_FIELDS = ["model", "stage", "n_iter", "dataset", "pooling", "accuracy",
                     "transform_seconds", "commit"]


def validate(spec: ModelSpec, paths: list[Path], data_home, out: Path, log=print,
             first: int = 1) -> None:
    """Zero-shot accuracy of every stage on :data:`VALIDATION` (resumable CSV).

    ``paths`` are the files of stages ``first``, ``first + 1``, ...; the multivariate
    (UEA) sets are scored with every pooling, which chooses the shipped one.
    """
    store = ResultStore(out, VALIDATION_FIELDS, ["model", "stage", "dataset", "pooling"])
    commit = git_commit()
    data = {}
    for k, path in enumerate(paths, start=first):
        model = None
        for name in VALIDATION:
            poolings = ("mean", "max", "concat") if name in UEA else ("mean",)
            if all(store.done(model=spec.name, stage=k, dataset=name, pooling=p)
                   for p in poolings):
                continue
            model = model or sslts.load(path)
            if name not in data:
                X_train, y_train, X_test, y_test = load_dataset(name, data_home=data_home)
                X_train, X_test = ts2vec_normalise(name, X_train, X_test)
                data[name] = (X_train, y_train, X_test, y_test)
            X_train, y_train, X_test, y_test = data[name]
            start = time.perf_counter()  # per-channel embeddings once, pooled three ways
            model.set_params(pooling="concat")
            Z_train, Z_test = model.transform(X_train), model.transform(X_test)
            seconds = time.perf_counter() - start
            for pooling in poolings:
                pooled = [pool(Z, X_train.shape[2], pooling) for Z in (Z_train, Z_test)]
                accuracy = float(np.mean(fit_svm(pooled[0], y_train).predict(pooled[1])
                                         == y_test))
                store.add({"model": spec.name, "stage": k,
                           "n_iter": model.estimator_.n_iter_, "dataset": name,
                           "pooling": pooling, "accuracy": accuracy,
                           "transform_seconds": seconds, "commit": commit})
                log(f"{spec.name} stage {k} {name:28s} {pooling:6s} {accuracy:.3f}")


def pool(Z: np.ndarray, channels: int, pooling: str) -> np.ndarray:
    """Concatenated channel embeddings ``(n, C * D)`` pooled as ``pooling`` says."""
    per_channel = Z.reshape(len(Z), channels, -1)
    return {"mean": per_channel.mean(axis=1), "max": per_channel.max(axis=1),
            "concat": Z}[pooling]


# ------------------------------------------------------------------ export
def export(spec: ModelSpec, path: Path, table: list[dict], records: list[dict],
           folder: Path = PRETRAINED) -> dict:
    """Write the shipped ``<name>.pt`` and ``<name>.json`` from the last stage's file.

    The shipped network is the running average of the iterates (what ``transform``
    used); the optimiser state is dropped, and the average starts afresh, so that a
    fine-tuning ``fit`` (``warm_start``) starts from these weights like a new fit.
    """
    model = sslts.load(path)
    inner = model.estimator_
    with torch.no_grad():
        inner.module_.load_state_dict(inner.averaged_module_.state_dict())
    inner._n_averaged = 1
    inner._optimizer_state = None
    shipped = {"device": "auto", "warm_start": False, "n_iters": None}
    inner.set_params(**shipped)
    model.estimator.set_params(**shipped)
    folder.mkdir(exist_ok=True)
    target = folder / f"{spec.name}.pt"
    model.save(target)
    description = {
        "name": spec.name,
        "file": target.name,
        "card": f"{spec.name}.md",
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "bytes": target.stat().st_size,
        "method": type(inner).__name__,
        "pooling": spec.pooling,
        "params": {k: v for k, v in inner.get_params().items()
                   if isinstance(v, (int, float, str, bool, type(None)))},
        "training": {**asdict(spec), "n_iter": int(inner.n_iter_),
                     "univariate_series": int(model.n_series_fit_), "batch_size":
                     inner.batch_size,
                     "seconds_one_core": round(sum(r["seconds"] for r in records)),
                     "final_epoch_loss": float(inner.loss_history_[-1])},
        "corpus": table,
        "left_out": list(LEFT_OUT),
        "commit": ", ".join(sorted({r["commit"] for r in records})),
        "environment": {"sslts": sslts.__version__, "torch": torch.__version__,
                        "python": platform.python_version()},
    }
    (folder / f"{spec.name}.json").write_text(json.dumps(description, indent=1) + "\n")
    return description


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pretrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--stages", type=int, default=None,
                        help="train this many stages instead of the model's budget")
    parser.add_argument("--validate", action="store_true",
                        help="zero-shot accuracy of every stage on the validation sets")
    parser.add_argument("--validate-last", action="store_true",
                        help="with --validate: the last stage only (choosing the pooling "
                             "of a trained model without a stage sweep)")
    parser.add_argument("--no-export", action="store_true",
                        help="train (and validate) without writing sslts/pretrained/")
    parser.add_argument("--data-home", default=os.environ.get("SSLTS_DATA", "../shared/data"))
    parser.add_argument("--work", default="pretrain_work",
                        help="folder of the stage files (what a resumed run starts from)")
    parser.add_argument("--out", default="benchmarks/results/")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    work = Path(args.work)
    for name in args.models:
        spec = MODELS[name]
        stages = args.stages or spec.stages
        corpus, table = build_corpus(spec, args.data_home)
        print(f"{name}: {len(corpus)} datasets, "
              f"{sum(r['univariate_series'] for r in table)} univariate series")
        paths = train(spec, corpus, work, stages)
        if args.validate:
            first = len(paths) if args.validate_last else 1
            validate(spec, paths[first - 1:], args.data_home,
                     Path(args.out) / "pretrained_budget.csv", first=first)
        if not args.no_export:
            export(spec, paths[-1], table, stage_records(work, spec, stages))
            print(f"{name}: exported to {PRETRAINED}")


if __name__ == "__main__":
    main()
