"""UCR anomaly archive: :class:`sslts.EmbeddingAnomalyDetector` against the matrix profile.

Protocol
--------
- Data: every series in ``<data_home>/anomaly`` (``*_TRAIN.csv`` = the anomaly-free
  first part, ``*_TEST.csv`` = the whole series with its one labelled anomaly), read
  by :func:`sslts.evaluation.load_ucr_anomaly`.
- Scores, one per step of the test part (the steps after the training part):

  * ``EmbeddingAnomalyDetector`` arms (defaults, or the given parameters; its
    ``TS2VecTransformer`` encoder seeded per run), fitted on the training part;
    ``score_samples`` of the whole series;
  * ``mp_ab``: the matrix profile as an AB-join (``stumpy.stump(test, m,
    T_B=train)``): the z-normalised distance of each test subsequence to its nearest
    training subsequence;
  * ``mp_self``: the self-join matrix profile of the whole series
    (``stumpy.stump(series, m)``, trivial matches excluded), read on the test
    subsequences: the classic discord;
  * ``zscore``: the moving z-score of the 200 previous values
    (:func:`sslts.evaluation.rolling_zscore`), on the raw series and (``zscore_diff``)
    on its first differences.

  The subsequence length ``m`` is the training part's dominant period
  (:func:`sslts.evaluation.dominant_period`); a subsequence's distance is placed on
  its centre step, and test steps that are no subsequence's centre get the profile's
  minimum.
- Metrics: ROC AUC over the test steps, and the archive's top-1 rule
  (:func:`ucr_top1`): the single highest-scoring test step is correct when it lies
  within ``max(anomaly length, 100)`` steps of the labelled anomaly (Wu & Keogh's
  ±100 steps, widened for long anomalies as later users of the archive do; the two
  agree for anomalies up to 100 steps long).
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from sslts import EmbeddingAnomalyDetector, TS2VecTransformer
from sslts.evaluation import dominant_period, load_ucr_anomaly, rolling_zscore

from ..provenance import git_commit
from .common import ResultStore, changed_params, warm_up_torch

__all__ = ["FIELDS", "KEY", "TOLERANCE", "centred_profile", "matrix_profile",
           "run_anomaly", "series_paths", "ucr_top1"]

FIELDS = ["series", "arm", "seed", "roc_auc", "top1_correct", "top1_location",
          "anomaly_start", "anomaly_end", "window", "fit_seconds", "score_seconds",
          "params", "commit", "error"]
KEY = ["series", "arm", "seed"]
TOLERANCE = 100
BASELINES = ("mp_ab", "mp_self", "zscore", "zscore_diff")
ZSCORE_WINDOW = 200


def ucr_top1(scores, labels, n_train: int, tolerance: int = TOLERANCE) -> tuple[bool, int]:
    """The archive's rule: is the highest-scoring test step near the labelled anomaly?

    Parameters
    ----------
    scores : ndarray of shape (n_timestamps,)
        Higher = more anomalous; only the steps from ``n_train`` on are searched.
    labels : ndarray of shape (n_timestamps,)
        1 on the (single) anomalous region.
    n_train : int
    tolerance : int, default=100
        The smallest margin on either side; the margin is ``max(length, tolerance)``.

    Returns
    -------
    correct : bool
    location : int
        Index of the highest test score (the first of ties).

    Examples
    --------
    >>> labels = np.zeros(1000, int); labels[500:510] = 1
    >>> scores = np.zeros(1000); scores[605] = 1.0
    >>> ucr_top1(scores, labels, 200)
    (True, 605)
    >>> scores[700] = 2.0
    >>> ucr_top1(scores, labels, 200)
    (False, 700)
    """
    anomalous = np.flatnonzero(np.asarray(labels)[n_train:]) + n_train
    if len(anomalous) == 0:
        raise ValueError("no labelled anomaly in the test part")
    start, end = int(anomalous[0]), int(anomalous[-1])
    margin = max(end - start + 1, tolerance)
    test = np.asarray(scores, dtype=float)[n_train:]
    location = n_train + int(np.argmax(np.where(np.isnan(test), -np.inf, test)))
    return start - margin <= location <= end + margin, location


def centred_profile(profile: np.ndarray, first: int, length: int, window: int) -> np.ndarray:
    """Per-step scores from subsequence distances, each on its subsequence's centre.

    Parameters
    ----------
    profile : ndarray of shape (n_subsequences,)
        Distance of the subsequence starting at ``first + i``.
    first : int
        Series index of the first subsequence's start.
    length : int
        Length of the output (the whole series).
    window : int
        Subsequence length.

    Returns
    -------
    ndarray of shape (length,)
        The profile's minimum where no subsequence is centred.

    Examples
    --------
    >>> centred_profile(np.array([1.0, 3.0]), 2, 8, 3)
    array([1., 1., 1., 1., 3., 1., 1., 1.])
    """
    profile = np.asarray(profile, dtype=float)
    out = np.full(length, profile.min())
    centre = first + window // 2
    out[centre : centre + len(profile)] = profile
    return out


def matrix_profile(values: np.ndarray, n_train: int, window: int, mode: str) -> np.ndarray:
    """Per-step matrix-profile scores of the test part (see the module docstring).

    Parameters
    ----------
    values : ndarray of shape (n_timestamps,)
    n_train : int
    window : int
    mode : {"ab", "self"}
        AB-join of the test part against the training part, or the self-join of
        the whole series read on the test subsequences.
    """
    import stumpy

    values = np.asarray(values, dtype=np.float64)
    if mode == "ab":
        profile = stumpy.stump(values[n_train:], window, T_B=values[:n_train],
                               ignore_trivial=False)[:, 0]
    elif mode == "self":
        profile = stumpy.stump(values, window)[n_train:, 0]
    else:
        raise ValueError(f"mode must be 'ab' or 'self', got {mode!r}")
    return centred_profile(profile.astype(float), n_train, len(values), window)


def series_paths(data_home) -> list[Path]:
    """Folders of the archive's series under ``<data_home>/anomaly``, sorted."""
    root = Path(data_home) / "anomaly"
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*_TEST.csv")))


def _detector_scores(series, params: dict, seed: int):
    nested = {k: v for k, v in params.items() if k.startswith("encoder__")}
    detector = EmbeddingAnomalyDetector(**{k: v for k, v in params.items() if k not in nested})
    if detector.encoder is None:  # the documented default, made reproducible
        detector.set_params(encoder=TS2VecTransformer())
    detector.set_params(encoder__random_state=seed, **nested)
    start = time.perf_counter()
    detector.fit(series.values[: series.n_train])
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = detector.score_samples(series.values)
    return scores, fit_seconds, time.perf_counter() - start, changed_params(detector), 0


def _baseline_scores(series, arm: str, window: int):
    start = time.perf_counter()
    if arm.startswith("mp_"):
        scores = matrix_profile(series.values, series.n_train, window, arm[3:])
        params = {"window": window, "join": arm[3:]}
    else:
        diffs = arm == "zscore_diff"
        x = np.diff(series.values, prepend=series.values[0]) if diffs else series.values
        scores = rolling_zscore(x, window=ZSCORE_WINDOW)
        params = {"window": ZSCORE_WINDOW, "first_differences": diffs}
    return scores, 0.0, time.perf_counter() - start, params, window


def warm_up() -> None:
    """Compile stumpy's numba kernels and set torch up once, before any timed run."""
    warm_up_torch()
    x = np.sin(np.arange(64) / 3.0)
    for mode in ("ab", "self"):
        matrix_profile(x, 32, 8, mode)


def run_anomaly(store: ResultStore, data_home, seeds, detector_arms: dict, *,
                series=None, log=print) -> None:
    """Compute every missing row and append it to ``store``.

    Parameters
    ----------
    store : ResultStore
        With :data:`FIELDS` and :data:`KEY`.
    data_home : path-like
    seeds : sequence of int
        Seeds of the detector arms; the baselines are deterministic (seed 0).
    detector_arms : dict
        Arm label -> ``EmbeddingAnomalyDetector`` parameters (``encoder__*`` for the
        encoder).
    series : sequence of str, default=None
        Folder names under ``<data_home>/anomaly``; None runs them all.
    log : callable
    """
    commit = git_commit()
    warm_up()
    for path in series_paths(data_home):
        if series is not None and path.name not in series:
            continue
        data = load_ucr_anomaly(path)
        window = dominant_period(data.values[: data.n_train])
        anomalous = np.flatnonzero(data.labels)
        jobs = [(arm, 0) for arm in BASELINES]
        jobs += [(label, seed) for label in detector_arms for seed in seeds]
        for arm, seed in jobs:
            if store.done(series=path.name, arm=arm, seed=seed):
                continue
            row = {"series": path.name, "arm": arm, "seed": seed, "commit": commit,
                   "anomaly_start": int(anomalous[0]), "anomaly_end": int(anomalous[-1])}
            try:
                scores, fit_s, score_s, params, used = (
                    _detector_scores(data, detector_arms[arm], seed) if arm in detector_arms
                    else _baseline_scores(data, arm, window))
                test = slice(data.n_train, None)
                correct, location = ucr_top1(scores, data.labels, data.n_train)
                row.update(roc_auc=float(roc_auc_score(data.labels[test], np.nan_to_num(
                    scores[test], nan=np.nanmin(scores[test])))),
                    top1_correct=int(correct), top1_location=location, window=used or "",
                    fit_seconds=fit_s, score_seconds=score_s,
                    params=json.dumps(params, sort_keys=True))
            except Exception as exc:  # record it, retry on the next run, go on
                traceback.print_exc()
                row["error"] = f"{type(exc).__name__}: {exc}"[:300]
            store.add(row)
            log(f"{path.name} {arm:20s} seed {seed}: AUC {row.get('roc_auc', float('nan')):.3f}"
                f" top-1 {row.get('top1_correct', '-')} at {row.get('top1_location', '-')}")
