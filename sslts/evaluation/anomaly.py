"""TS2Vec's anomaly-detection protocol on timestamp embeddings.

Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022,
Section 4.3.  A timestamp is anomalous when its representation changes a lot once the
timestamp itself is hidden: the error ``e_t = ||r_t - r_t^masked||_1`` compares the
causal embedding of ``t`` computed with and without the value at ``t``.

How the value at ``t`` is hidden is a hook, :func:`mask_last_embeddings` by default:
when the estimator's network takes a ``mask`` argument (TS2Vec's and IARS's
encoders), the last step of each causal window is masked there, exactly as the
official ``mask="mask_last"`` does (its hidden vector is zeroed after the input
projection); for other networks the last step is set to ``NaN``, which sslts
encoders read as a missing value.  Pass ``embed_masked`` to use another rule.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .forecasting import encode_windows, split_for_fit

__all__ = [
    "AnomalySeries",
    "adjusted_errors",
    "evaluate_anomaly_detection",
    "load_ucr_anomaly",
    "mask_last_embeddings",
    "masked_errors",
    "point_adjust",
    "point_adjusted_scores",
    "suppress_nearby",
]

# TS2Vec's settings: moving-average window Z and threshold beta (mean + beta * std).
_MA_WINDOW = 21
_BETA = 4.0


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


def mask_last_embeddings(encoder, windows: np.ndarray, batch_size=None) -> np.ndarray:
    """Embedding of the last step of each window computed with that step masked.

    The default ``embed_masked`` hook of :func:`masked_errors`.

    Parameters
    ----------
    encoder : fitted sslts estimator
    windows : ndarray of shape (n_windows, window_length, n_channels)
    batch_size : int, default=None
        Windows per forward pass (default 256).

    Returns
    -------
    ndarray of shape (n_windows, n_features_out), float32
    """
    network = encoder._inference_module()
    if "mask" not in inspect.signature(network.forward).parameters:
        return _nan_last_embeddings(encoder, windows, batch_size)
    network.eval()
    batch_size = batch_size or 256
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(windows), batch_size):
            x = torch.as_tensor(windows[start : start + batch_size], dtype=torch.float32)
            keep = torch.ones(x.shape[:2], dtype=torch.bool)
            keep[:, -1] = False
            out = network(x.to(encoder.device_), keep.to(encoder.device_))
            outputs.append(out[:, -1].float().cpu().numpy())
    return np.concatenate(outputs)


def _nan_last_embeddings(encoder, windows, batch_size):
    """Fallback hook: the last step set to NaN, which sslts encoders read as missing."""
    hidden = np.array(windows, dtype=np.float32)
    hidden[:, -1] = np.nan
    # A window observed only at its last step has nothing left: no embedding.
    keep = ~np.isnan(hidden).all(axis=(1, 2))
    out = encoder.encode(hidden[keep], level="timestamp", batch_size=batch_size)[:, -1]
    result = np.full((len(hidden), out.shape[-1]), np.nan, np.float32)
    result[keep] = out
    return result


def masked_errors(encoder, series: np.ndarray, *, padding: int = 200,
                  embed_masked=mask_last_embeddings) -> np.ndarray:
    """L1 distance between each timestamp's causal embedding with and without it.

    Parameters
    ----------
    encoder : fitted sslts estimator
        Must support ``encode(X, level="timestamp")``.
    series : ndarray of shape (n_timestamps,) or (n_timestamps, n_channels)
        One series.
    padding : int, default=200
        Past steps of each causal window.
    embed_masked : callable, default=mask_last_embeddings
        ``embed_masked(encoder, windows, batch_size)``: embeddings of the last step of
        each window, shape (n_windows, D), with that step hidden.

    Returns
    -------
    ndarray of shape (n_timestamps,)
        ``e_t``; NaN where a hook gives no masked embedding (the NaN fallback at
        ``t = 0``, whose window holds no other value).
    """
    X = np.asarray(series, dtype=np.float32).reshape(1, len(series), -1)
    plain = encode_windows(encoder, X, padding=padding)[0]
    masked = encode_windows(encoder, X, padding=padding, embed_last=embed_masked)[0]
    return np.abs(plain - masked).sum(axis=1)


def adjusted_errors(errors: np.ndarray, window: int = _MA_WINDOW) -> np.ndarray:
    """``(e_t - m_t) / m_t`` with ``m_t`` the mean of the ``window`` previous errors.

    Parameters
    ----------
    errors : ndarray of shape (n_timestamps,)
    window : int, default=21

    Returns
    -------
    ndarray of shape (n_timestamps,)
        NaN for the first ``window`` steps, which have no full history.  NaN errors
        are skipped in the moving means.

    Examples
    --------
    >>> adjusted_errors(np.array([1.0, 3.0, 4.0]), window=2)
    array([nan, nan,  1.])
    """
    observed = ~np.isnan(errors)
    # NaN errors (the first step, see masked_errors) are left out of the means.
    total = np.concatenate([[0.0], np.cumsum(np.where(observed, errors, 0.0))])
    count = np.concatenate([[0], np.cumsum(observed)])
    mean = np.full(len(errors), np.nan)
    n = len(errors)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean[window:] = (total[window:-1] - total[: n - window]) / (
            count[window:-1] - count[: n - window]
        )
    return (errors - mean) / mean


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


def evaluate_anomaly_detection(
    encoder,
    series: AnomalySeries,
    *,
    delay: int = 7,
    padding: int = 200,
    fit: bool = True,
    fit_window: int | None = None,
) -> dict:
    """Run TS2Vec's anomaly protocol on one series.

    The series is z-normalised with the statistics of its training part, the encoder
    is fitted on the training part, ``e_t`` is computed for every timestamp, adjusted
    by its moving average, and the test points whose adjusted error exceeds
    ``mean + 4 * std`` of the training adjusted errors (first 22 dropped) are flagged;
    flags within ``delay`` steps of an earlier flag are suppressed.

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
        Fit ``encoder`` on the training part first.
    fit_window : int, default=None
        Fit on the training part cut into windows of this length (see
        :func:`~sslts.evaluation.forecasting.split_for_fit`).

    Returns
    -------
    dict
        "f1", "precision", "recall" on the test part, "threshold", "fit_seconds",
        "encode_seconds" and "predictions" (ndarray of the test part).

    Notes
    -----
    Differences from the official protocol: the series is not differenced (TS2Vec
    differences each Yahoo/KPI series until an ADF test finds it stationary), and the
    train/test split is the archive's (TS2Vec splits each series in halves).
    """
    n = series.n_train
    train = series.values[:n]
    values = (series.values - train.mean()) / (train.std() or 1.0)
    start = time.perf_counter()
    if fit:
        encoder.fit(split_for_fit(values[None, :n, None], fit_window))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    adjusted = adjusted_errors(masked_errors(encoder, values, padding=padding))
    encode_seconds = time.perf_counter() - start
    reference = adjusted[: n][_MA_WINDOW + 1 :]
    threshold = float(np.mean(reference) + _BETA * np.std(reference))
    predictions = suppress_nearby(adjusted[n:] > threshold, delay)
    scores = point_adjusted_scores(predictions, series.labels[n:], delay)
    return {
        **scores,
        "threshold": threshold,
        "fit_seconds": fit_seconds,
        "encode_seconds": encode_seconds,
        "predictions": predictions,
    }
