"""TS2Vec's decision rule for per-timestamp anomaly scores, and point-adjusted F1.

Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022,
Section 4.3: the scores of the training part set the threshold ``mean + beta std``
(:func:`ts2vec_threshold`); later scores above it are flagged, a flag being dropped
when an earlier kept one lies within ``delay`` steps (:func:`flag_anomalies`); the
flags are scored after point adjustment (:func:`point_adjust`, after Ren et al.,
KDD 2019).  :func:`evaluate_anomaly_scores` chains them for any score.
"""

from __future__ import annotations

import numpy as np

from ..anomaly_scores import (
    BETA,
    MA_WINDOW,
    flag_anomalies,
    point_adjust,
    suppress_nearby,
    ts2vec_threshold,
)

__all__ = [
    "BETA",
    "MA_WINDOW",
    "evaluate_anomaly_scores",
    "flag_anomalies",
    "point_adjust",
    "point_adjusted_scores",
    "suppress_nearby",
    "ts2vec_threshold",
]

def point_adjusted_scores(predictions, labels, delay: int) -> dict[str, float]:
    """F1, precision and recall after :func:`point_adjust`.

    Parameters
    ----------
    predictions, labels : ndarray of shape (n_timestamps,) of {0, 1}
    delay : int

    Returns
    -------
    dict with keys "f1", "precision", "recall"
    """
    pred = point_adjust(predictions, labels, delay)
    tp = float(np.sum((pred == 1) & (labels == 1)))
    precision = tp / max(pred.sum(), 1)
    recall = tp / max(labels.sum(), 1)
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def evaluate_anomaly_scores(scores: np.ndarray, labels: np.ndarray, n_train: int, *,
                            delay: int = 7, beta: float = BETA,
                            skip: int = MA_WINDOW + 1) -> dict:
    """TS2Vec's decision rule and point-adjusted F1 applied to any per-timestamp scores.

    The threshold is :func:`ts2vec_threshold` of the first ``n_train`` scores; the
    later scores above it are flagged (:func:`flag_anomalies`) and scored with
    :func:`point_adjusted_scores`.  The simple baselines of
    :mod:`sslts.evaluation.anomaly_baselines` go through the same rule.

    Parameters
    ----------
    scores : ndarray of shape (n_timestamps,)
        Higher = more anomalous.
    labels : ndarray of shape (n_timestamps,) of {0, 1}
    n_train : int
        Length of the training part.
    delay : int, default=7
    beta : float, default=4.0
    skip : int, default=22
        Leading training scores left out of the threshold.

    Returns
    -------
    dict
        "f1", "precision", "recall" on the test part, "threshold" and "predictions"
        (ndarray of the test part).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != np.shape(labels):
        raise ValueError(
            f"scores and labels must have one entry per timestamp, got {scores.shape} and "
            f"{np.shape(labels)}."
        )
    threshold = ts2vec_threshold(scores[:n_train], beta, skip)
    predictions = flag_anomalies(scores[n_train:], threshold, delay)
    result = point_adjusted_scores(predictions, np.asarray(labels)[n_train:], delay)
    return {**result, "threshold": threshold, "predictions": predictions}
