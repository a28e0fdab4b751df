"""Classification with few labels: sslts encoders against MiniRocket and the classic baselines.

Protocol
--------
- Data: the official train/test split, normalised as TS2Vec's loaders do
  (:func:`sslts.evaluation.ts2vec_normalise`).  Arms that cannot take NaN (the
  rockets, catch22, 1-NN) see the series with gaps interpolated and variable-length
  padding filled with the last value (:func:`.features.fill_missing`).
- Labels: for each (dataset, seed, fraction) :func:`label_subset` picks the labelled
  training series; every arm sees the same subset.  Encoders and the rockets are
  fitted on **all** training series without labels, once per (dataset, seed); the
  classifier sees only the labelled series.
- Arms (:func:`build_arms`): each sslts encoder with a linear probe (standardised
  embeddings, ``RidgeClassifierCV``) and TS2Vec's RBF-SVM probe; MiniRocket and
  MultiRocket + ``RidgeClassifierCV`` (aeon's classifier heads); 1-NN-ED and 1-NN-DTW
  (DTW-D, full window); catch22 + a 200-tree random forest; and one encoder's
  embeddings concatenated with the MiniRocket features (each block standardised).
- A row per (dataset, seed, fraction, arm): test accuracy, the unsupervised fit and
  transform seconds of the arm's features, the probe's seconds.  The 1-NN arms are
  deterministic given their labels, so at 100 % they run for the first seed only.
"""

from __future__ import annotations

import time
import traceback
import zlib
from dataclasses import dataclass

import numpy as np

from sslts import load_dataset
from sslts.evaluation import ts2vec_normalise

from ..provenance import git_commit
from . import features as F
from .common import ResultStore

__all__ = ["Arm", "FIELDS", "FRACTIONS", "KEY", "build_arms", "label_subset",
           "load_prepared", "run_classification"]

FRACTIONS = (0.01, 0.05, 0.1, 0.2, 1.0)
FIELDS = ["dataset", "seed", "fraction", "arm", "family", "accuracy", "n_labelled", "n_train",
          "n_test", "n_classes", "fit_seconds", "transform_seconds", "probe_seconds",
          "n_iter", "params", "commit", "error"]
KEY = ["dataset", "seed", "fraction", "arm"]
PROBES = {"linear": F.linear_probe, "rbf": F.rbf_probe, "rocket_ridge": F.rocket_ridge,
          "1nn_ed": F.nearest_neighbour("euclidean"), "1nn_dtw": F.nearest_neighbour("dtw_d")}


def label_subset(y, fraction: float, dataset: str, seed: int) -> np.ndarray:
    """Indices of the labelled training series of one (dataset, seed, fraction).

    Stratified: each class ``c`` with ``n_c`` training series contributes
    ``max(1, round(fraction * n_c))`` of them (half rounds up), so that every class
    is labelled at least once.  The series of a class are taken in the order of a
    random permutation drawn from ``(seed, crc32(dataset))`` alone, so the subset is a
    fixed function of (dataset, seed, fraction), and the subsets of one (dataset,
    seed) are **nested**: a larger fraction keeps every series of a smaller one.

    Parameters
    ----------
    y : array-like of shape (n_train,)
        Training labels.
    fraction : float in (0, 1]
    dataset : str
        Dataset name (part of the random stream).
    seed : int

    Returns
    -------
    ndarray of int
        Sorted indices into ``y``; all of them for ``fraction=1``.

    Examples
    --------
    >>> y = np.array([0] * 10 + [1] * 30)
    >>> idx = label_subset(y, 0.1, "toy", 0)
    >>> len(idx), int((y[idx] == 0).sum())
    (4, 1)
    >>> bool(np.isin(idx, label_subset(y, 0.5, "toy", 0)).all())
    True
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}.")
    y = np.asarray(y)
    rng = np.random.default_rng([int(seed), zlib.crc32(dataset.encode("utf-8"))])
    chosen = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        count = max(1, int(np.floor(fraction * len(members) + 0.5)))
        chosen.append(members[:count])
    return np.sort(np.concatenate(chosen))


@dataclass(frozen=True)
class Arm:
    """One classification arm: feature sources and the classifier on top.

    Attributes
    ----------
    name : str
        Its label in the CSV and tables.
    family : {"sslts", "baseline", "combination"}
        Grouping of the report: sslts alone, a practitioner's tool, or both.
    sources : tuple of str
        ``"enc:<label>"`` (an sslts encoder), ``"minirocket"``, ``"multirocket"``,
        ``"catch22"`` or ``"raw"``; several are concatenated.
    probe : str
        A key of ``PROBES``, ``"forest"`` or ``"blocks"``.
    deterministic : bool
        Same result for every seed when every label is used.
    """

    name: str
    family: str
    sources: tuple
    probe: str
    deterministic: bool = False


def build_arms(encoder_labels, concat_with: str | None) -> list[Arm]:
    """The arms of the comparison for these encoders (see the module docstring)."""
    arms = []
    for label in encoder_labels:
        arms += [Arm(f"{label}+linear", "sslts", (f"enc:{label}",), "linear"),
                 Arm(f"{label}+rbf", "sslts", (f"enc:{label}",), "rbf")]
    arms += [Arm("minirocket", "baseline", ("minirocket",), "rocket_ridge"),
             Arm("multirocket", "baseline", ("multirocket",), "rocket_ridge"),
             Arm("1nn_ed", "baseline", ("raw",), "1nn_ed", deterministic=True),
             Arm("1nn_dtw", "baseline", ("raw",), "1nn_dtw", deterministic=True),
             Arm("catch22+rf", "baseline", ("catch22",), "forest")]
    if concat_with:
        if concat_with not in encoder_labels:
            raise ValueError(f"--concat-with {concat_with!r} is not an encoder label; "
                             f"choose from {list(encoder_labels)}.")
        arms.append(Arm(f"{concat_with}+minirocket", "combination",
                        (f"enc:{concat_with}", "minirocket"), "blocks"))
    return arms


@dataclass
class Prepared:
    """One dataset, normalised; ``filled_*`` without NaN for the arms that need it."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    filled_train: np.ndarray
    filled_test: np.ndarray


def load_prepared(name: str, data_home) -> Prepared:
    """Load, normalise and NaN-fill one UCR/UEA dataset."""
    X_train, y_train, X_test, y_test = load_dataset(name, data_home=data_home)
    X_train, X_test = ts2vec_normalise(name, X_train, X_test)
    return Prepared(name, X_train, np.asarray(y_train), X_test, np.asarray(y_test),
                    F.fill_missing(X_train), F.fill_missing(X_test))


class SourceCache:
    """Feature sources of one (dataset, seed), computed on first use, freed after last.

    ``encoders`` maps a label to ``(class, params)``; ``shared`` keeps the
    seed-independent sources (catch22, raw series) across the seeds of a dataset.
    """

    def __init__(self, data: Prepared, encoders: dict, seed: int, shared: dict,
                 rocket_params: dict | None = None):
        self.data, self.encoders, self.seed, self.shared = data, encoders, seed, shared
        self.rocket_params = rocket_params or {}
        self._cache: dict = {}
        self._uses: dict = {}

    def plan(self, arms) -> None:
        """Count how often each source will be asked for, to free it after its last use."""
        for arm in arms:
            for source in arm.sources:
                self._uses[source] = self._uses.get(source, 0) + 1

    def get(self, source: str) -> F.Features:
        if source in self.shared:
            found = self.shared[source]
        elif source in self._cache:
            found = self._cache[source]
        else:
            found = self._compute(source)
            (self.shared if source in ("catch22", "raw") else self._cache)[source] = found
        self._uses[source] = self._uses.get(source, 1) - 1
        if self._uses[source] <= 0:
            self._cache.pop(source, None)
        return found

    def _compute(self, source: str) -> F.Features:
        d = self.data
        if source.startswith("enc:"):
            cls, params = self.encoders[source[4:]]
            params = {"device": "cpu", "random_state": self.seed, **params}
            return F.encoder_features(cls, params, d.X_train, d.X_test)
        if source in ("minirocket", "multirocket"):
            return F.rocket_features(source, d.filled_train, d.filled_test, self.seed,
                                     **self.rocket_params.get(source, {}))
        if source == "catch22":
            return F.catch22_features(d.filled_train, d.filled_test)
        if source == "raw":
            return F.raw_features(d.filled_train, d.filled_test)
        raise ValueError(f"unknown feature source {source!r}")


def evaluate_arm(arm: Arm, cache: SourceCache, labelled: np.ndarray, seed: int) -> dict:
    """Fit the arm's classifier on the labelled series; accuracy and seconds."""
    blocks = [cache.get(s) for s in arm.sources]
    train = np.concatenate([b.train[labelled] for b in blocks], axis=-1)
    test = np.concatenate([b.test for b in blocks], axis=-1)
    if arm.probe == "forest":
        fit = F.random_forest(seed)
    elif arm.probe == "blocks":
        fit = F.block_ridge([b.train.shape[-1] for b in blocks])
    else:
        fit = PROBES[arm.probe]
    y = cache.data.y_train[labelled]
    start = time.perf_counter()
    predictions = fit(train, y).predict(test)
    probe_seconds = time.perf_counter() - start
    iters = [b.n_iter for b in blocks if b.n_iter is not None]
    return {"accuracy": float(np.mean(predictions == cache.data.y_test)),
            "fit_seconds": sum(b.fit_seconds for b in blocks),
            "transform_seconds": sum(b.transform_seconds for b in blocks),
            "probe_seconds": probe_seconds, "n_iter": iters[0] if iters else None,
            "params": "; ".join(F.params_text(b.params) for b in blocks if b.params)}


def pending(store: ResultStore, dataset: str, seeds, fractions, arms):
    """``{seed: [(fraction, arm), ...]}`` of the rows still to compute, arm by arm."""
    todo = {}
    for i, seed in enumerate(seeds):
        rows = [(f, arm) for arm in arms for f in fractions
                if not (arm.deterministic and f == 1.0 and i > 0)
                and not store.done(dataset=dataset, seed=seed, fraction=f, arm=arm.name)]
        if rows:
            todo[seed] = rows
    return todo


def run_classification(store: ResultStore, datasets, seeds, fractions, arms, encoders,
                       data_home, *, rocket_params=None, log=print) -> None:
    """Compute every missing row and append it to ``store``.

    Parameters
    ----------
    store : ResultStore
        With :data:`FIELDS` and :data:`KEY`.
    datasets, seeds, fractions : sequences
    arms : list of Arm
    encoders : dict
        Encoder label -> ``(sslts class, constructor parameters)``.
    data_home : path-like
    rocket_params : dict, default=None
        ``{"minirocket": {...}, "multirocket": {...}}`` constructor overrides.
    log : callable
        Progress messages.
    """
    commit = git_commit()
    F.warm_up()
    for dataset in datasets:
        todo = pending(store, dataset, seeds, fractions, arms)
        if not todo:
            continue
        data, shared = load_prepared(dataset, data_home), {}
        for seed, rows in todo.items():
            cache = SourceCache(data, encoders, seed, shared, rocket_params)
            cache.plan(arm for _, arm in rows)
            for fraction, arm in rows:
                labelled = label_subset(data.y_train, fraction, dataset, seed)
                row = {"dataset": dataset, "seed": seed, "fraction": fraction,
                       "arm": arm.name, "family": arm.family, "n_labelled": len(labelled),
                       "n_train": len(data.y_train), "n_test": len(data.y_test),
                       "n_classes": len(np.unique(data.y_train)), "commit": commit}
                try:
                    row.update(evaluate_arm(arm, cache, labelled, seed))
                except Exception as exc:  # record it, retry on the next run, go on
                    traceback.print_exc()
                    row["error"] = f"{type(exc).__name__}: {exc}"[:300]
                store.add(row)
                log(f"{dataset:28s} seed {seed} {fraction:>5.0%} {arm.name:24s} "
                    f"{row.get('accuracy', float('nan')):.3f}")
