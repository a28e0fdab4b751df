"""TS2Vec's anomaly-detection protocol on timestamp embeddings.

Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022,
Section 4.3.  A timestamp is anomalous when its representation changes a lot once the
timestamp itself is hidden: the error ``e_t = ||r_t - r_t^masked||_1`` compares the
causal embedding of ``t`` (window ``[t - 200, t]``) computed with and without the value
at ``t``; it is divided by its recent level, ``(e_t - m_t) / m_t`` with ``m_t`` the
mean of the 21 previous errors, and flagged above ``mean + 4 std`` of the training
part's adjusted errors.

Preprocessing, as the official scripts do for Yahoo and KPI: each series is
differenced ``d`` times, ``d`` being the number of differences after which an
augmented Dickey-Fuller test finds its training part stationary
(:func:`adf_differences`; needs ``statsmodels``), then z-normalised with the
statistics of its (differenced) training part.

How the value at ``t`` is hidden is a hook, :func:`mask_last_encode` by default: when
the estimator's network takes a ``mask`` argument (TS2Vec's and IARS's encoders), the
last step of each causal window is masked there, exactly as the official
``mask="mask_last"`` does (its hidden vector is zeroed after the input projection);
for other networks the last step is set to ``NaN``, which sslts encoders read as a
missing value.  Pass ``embed_masked`` to use another rule.

:class:`sslts.EmbeddingAnomalyDetector` is the estimator built on these helpers;
:func:`evaluate_anomaly_detection` runs the protocol with it on one archive series.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.frozen import FrozenEstimator

from .._wrapping import split_for_fit
from ..anomaly_detector import EmbeddingAnomalyDetector
from ..anomaly_scores import (
    adf_differences,
    adjusted_errors,
    mask_last_encode,
    masked_errors,
    standardised_differences,
)
from .anomaly_scoring import evaluate_anomaly_scores

__all__ = [
    "AnomalySeries",
    "adf_differences",
    "adjusted_errors",
    "evaluate_anomaly_detection",
    "load_ucr_anomaly",
    "mask_last_encode",
    "masked_errors",
    "standardised_differences",
]

@dataclass
class AnomalySeries:
    """One series of the UCR anomaly archive, split as the archive defines it.

    Attributes
    ----------
    values : ndarray of shape (n_timestamps,), float64
        The whole series.
    labels : ndarray of shape (n_timestamps,), int
        1 on anomalous points.
    n_train : int
        The first ``n_train`` points are anomaly-free training data.
    """

    values: np.ndarray
    labels: np.ndarray
    n_train: int


def load_ucr_anomaly(path) -> AnomalySeries:
    """Read a UCR-anomaly series stored as ``*_TRAIN.csv`` + ``*_TEST.csv``.

    Parameters
    ----------
    path : str or path-like
        Directory holding one ``*_TRAIN.csv`` and one ``*_TEST.csv`` with columns
        ``timestamp,value,is_anomaly`` (the TEST file holds the whole series).

    Returns
    -------
    AnomalySeries
    """
    folder = Path(path)
    train_file = next(folder.glob("*_TRAIN.csv"))
    test_file = next(folder.glob("*_TEST.csv"))
    n_train = len(np.loadtxt(train_file, delimiter=",", skiprows=1, ndmin=2))
    table = np.loadtxt(test_file, delimiter=",", skiprows=1, ndmin=2)
    return AnomalySeries(values=table[:, 1], labels=table[:, 2].astype(int), n_train=n_train)


def evaluate_anomaly_detection(
    encoder,
    series: AnomalySeries,
    *,
    delay: int = 7,
    padding: int = 200,
    fit: bool = True,
    fit_window: int | None = None,
    n_diffs="adf",
) -> dict:
    """Run TS2Vec's anomaly protocol on one series.

    The series is differenced (``n_diffs``) and z-normalised with the statistics of
    its training part; ``encoder`` is fitted (in place) on the training part; an
    :class:`~sslts.EmbeddingAnomalyDetector` with that encoder scores every timestamp
    of the whole series in one causal pass (the moving mean runs across the
    train/test boundary, as the official code's) and the test points above
    ``mean + 4 std`` of the training scores (first 22 dropped) are flagged; flags
    within ``delay`` steps of an earlier flag are suppressed.

    Parameters
    ----------
    encoder : sslts estimator
        Must support ``encode(X, level="timestamp")``.
    series : AnomalySeries
        E.g. from :func:`load_ucr_anomaly`.
    delay : int, default=7
        Detection delay of the point adjustment (TS2Vec: 7 for KPI, 3 for Yahoo).
    padding : int, default=200
        Past steps of each causal window.
    fit : bool, default=True
        Fit ``encoder`` on the training part first; False uses it as it is.
    fit_window : int, default=None
        Fit on the training part cut into windows of this length (see
        :func:`~sslts.evaluation.forecasting.split_for_fit`).
    n_diffs : int or "adf", default="adf"
        Differences taken first; ``"adf"`` is the official rule
        (:func:`adf_differences`, needs statsmodels).

    Returns
    -------
    dict
        "f1", "precision", "recall" on the test part, "threshold", "n_diffs",
        "fit_seconds", "encode_seconds" and "predictions" (ndarray of the test part).

    Notes
    -----
    Difference from the official protocol: the train/test split is the archive's
    (TS2Vec splits each series in halves and runs the ADF test on the first half).
    """
    n = series.n_train
    train = series.values[:n, None]
    d = adf_differences(train[:, 0]) if n_diffs == "adf" else n_diffs
    start = time.perf_counter()
    if fit:  # in place, as the other protocols fit the encoder they are given
        prepared, _, _ = standardised_differences([train], d)
        encoder.fit(split_for_fit(prepared[0][None].astype(np.float32), fit_window))
    detector = EmbeddingAnomalyDetector(FrozenEstimator(encoder), padding=padding, n_diffs=d,
                                        delay=delay).fit(train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = detector.score_samples(series.values)
    encode_seconds = time.perf_counter() - start
    # The first d scores stand for values lost to differencing.
    result = evaluate_anomaly_scores(scores, series.labels, n, delay=delay,
                                     skip=d + detector.ma_window + 1)
    return {**result, "n_diffs": d, "fit_seconds": fit_seconds,
            "encode_seconds": encode_seconds}
