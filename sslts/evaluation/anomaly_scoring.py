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

MA_WINDOW = 21
"""TS2Vec's ``Z``: errors in the moving mean that a score is relative to."""
BETA = 4.0
"""TS2Vec's threshold width: ``mean + BETA * std`` of the training scores."""


def ts2vec_threshold(scores: np.ndarray, beta: float = BETA, skip: int = MA_WINDOW + 1) -> float:
    """``mean + beta * std`` of the training scores after the first ``skip`` (TS2Vec's rule).

    Parameters
    ----------
    scores : ndarray of shape (n_timestamps,)
        Scores of the training part; NaN are ignored.
    beta : float, default=4.0
    skip : int, default=22
        Leading scores left out (their moving mean is not yet established).

    Returns
    -------
    float

    Examples
    --------
    >>> ts2vec_threshold(np.array([9.0, 1.0, 3.0]), beta=1.0, skip=1)
    3.0
    """
    reference = np.asarray(scores, dtype=np.float64)[skip:]
    if np.isnan(reference).all():
        raise ValueError(
            f"No training score is left after skipping the first {skip}; the training "
            "part is too short for the threshold rule (use more training data)."
        )
    return float(np.nanmean(reference) + beta * np.nanstd(reference))


def flag_anomalies(scores: np.ndarray, threshold: float, delay: int) -> np.ndarray:
    """Positives above ``threshold``, each burst thinned by :func:`suppress_nearby`.

    Parameters
    ----------
    scores : ndarray of shape (n_timestamps,)
        NaN scores are never positive.
    threshold : float
    delay : int

    Returns
    -------
    ndarray of shape (n_timestamps,) of {0, 1}

    Examples
    --------
    >>> flag_anomalies(np.array([0.0, 5.0, 6.0, 0.0, 7.0]), 1.0, delay=1)
    array([0, 1, 0, 0, 1])
    """
    with np.errstate(invalid="ignore"):
        return suppress_nearby((np.asarray(scores) > threshold).astype(int), delay)


def _check_binary(delay: int, **series) -> list[np.ndarray]:
    """1-D {0, 1} arrays of one length and a non-negative delay, or a clear error."""
    if not isinstance(delay, (int, np.integer)) or delay < 0:
        raise ValueError(f"delay must be a non-negative integer, got {delay!r}.")
    arrays = []
    for name, values in series.items():
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one value per timestamp), got {arr.shape}.")
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0 and 1.")
        arrays.append(arr.astype(int))
    if len({len(a) for a in arrays}) > 1:
        lengths = ", ".join(f"{n} {len(a)}" for n, a in zip(series, arrays))
        raise ValueError(f"The series must have one length, got {lengths}.")
    return arrays


def suppress_nearby(predictions: np.ndarray, delay: int) -> np.ndarray:
    """Drop a positive when an earlier kept positive lies in the ``delay`` steps before it.

    Parameters
    ----------
    predictions : ndarray of shape (n_timestamps,) of {0, 1}
    delay : int

    Returns
    -------
    ndarray of shape (n_timestamps,), int
    """
    (predictions,) = _check_binary(delay, predictions=predictions)
    out = np.zeros(len(predictions), dtype=int)
    last_kept = -np.inf
    for t in np.flatnonzero(predictions):  # positives are rare: loop over them only
        if t - last_kept > delay or t < delay:
            out[t] = 1
            last_kept = t
    return out


def point_adjust(predictions: np.ndarray, labels: np.ndarray, delay: int) -> np.ndarray:
    """Point adjustment of TS2Vec (after Ren et al., KDD 2019).

    An anomalous segment counts as wholly detected when a positive falls in its first
    ``delay + 1`` points, and as wholly missed otherwise; predictions outside
    anomalous segments are unchanged.

    Parameters
    ----------
    predictions, labels : ndarray of shape (n_timestamps,) of {0, 1}
    delay : int

    Returns
    -------
    ndarray of shape (n_timestamps,), int

    Examples
    --------
    >>> point_adjust(np.array([0, 0, 1, 0, 1]), np.array([0, 1, 1, 1, 0]), delay=1)
    array([0, 1, 1, 1, 1])
    """
    adjusted, labels = _check_binary(delay, predictions=predictions, labels=labels)
    edges = np.diff(np.concatenate([[0], labels, [0]]))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        adjusted[start:stop] = int(adjusted[start : min(start + delay + 1, stop)].any())
    return adjusted


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
