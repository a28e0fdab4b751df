"""Anomaly scores from timestamp embeddings, as :class:`~sslts.EmbeddingAnomalyDetector` uses them.

Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022,
Section 4.3.  A timestamp is anomalous when its representation changes a lot once the
timestamp itself is hidden: the error ``e_t = ||r_t - r_t^masked||_1``
(:func:`masked_errors`) compares the causal embedding of ``t`` (window
``[t - 200, t]``) computed with and without the value at ``t``; it is divided by its
recent level, ``(e_t - m_t) / m_t`` with ``m_t`` the mean of the 21 previous errors
(:func:`adjusted_errors`).  The scores of the training part set the threshold
``mean + beta std`` (:func:`ts2vec_threshold`); later scores above it are flagged, a
flag being dropped when an earlier kept one lies within ``delay`` steps
(:func:`flag_anomalies`).  Before all that, each series is differenced ``d`` times
(:func:`adf_differences`: the number of differences after which an augmented
Dickey-Fuller test finds its training part stationary; needs ``statsmodels``) and
z-normalised with the statistics of its training part
(:func:`standardised_differences`).

How the value at ``t`` is hidden is a hook, :func:`mask_last_encode` by default: when
the estimator's network takes a ``mask`` argument (TS2Vec's and IARS's encoders), the
last step of each causal window is masked there, exactly as the official
``mask="mask_last"`` does (its hidden vector is zeroed after the input projection);
for other networks the last step is set to ``NaN``, which sslts encoders read as a
missing value.

The benchmark protocol built on these rules (point-adjusted F1 on the UCR archive) is
in :mod:`sslts.evaluation.anomaly`.
"""

from __future__ import annotations

import inspect
import warnings
from functools import partial

import numpy as np
import torch

from .encoding import causal_encode, sliding_encode

__all__ = [
    "BETA",
    "MA_WINDOW",
    "adf_differences",
    "adjusted_errors",
    "flag_anomalies",
    "mask_last_encode",
    "masked_errors",
    "point_adjust",
    "standardised_differences",
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


# The ADF rule stops here even if the test still finds a unit root (the official loop
# has no bound; real series need at most two differences).
_MAX_DIFFS = 5


def mask_last_encode(encoder, windows: np.ndarray, batch_size=None) -> np.ndarray:
    """Timestamp embeddings of windows whose last step is hidden (``mask="mask_last"``).

    The default ``embed_masked`` hook of :func:`masked_errors`.

    Parameters
    ----------
    encoder : fitted sslts estimator
        Its network (``averaged_module_`` when the estimator averages its weights,
        else ``module_``) is called with a mask when its ``forward`` takes one.
    windows : ndarray of shape (n_windows, window_length, n_channels)
    batch_size : int, default=None
        Windows per forward pass (default 256).

    Returns
    -------
    ndarray of shape (n_windows, window_length, n_features_out), float32
        NaN rows for windows observed only at their last step (NaN fallback only).
    """
    averaged = getattr(encoder, "averaged_module_", None)
    network = averaged if averaged is not None else encoder.module_
    if "mask" not in inspect.signature(network.forward).parameters:
        return _nan_last_encode(encoder, windows, batch_size)
    batch_size = batch_size or 256
    was_training = network.training
    network.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(windows), batch_size):
            x = torch.as_tensor(windows[start : start + batch_size], dtype=torch.float32)
            keep = torch.ones(x.shape[:2], dtype=torch.bool)
            keep[:, -1] = False
            out = network(x.to(encoder.device_), keep.to(encoder.device_))
            outputs.append(out.float().cpu().numpy())
    network.train(was_training)
    return np.concatenate(outputs)


def _nan_last_encode(encoder, windows, batch_size):
    """Fallback hook: the last step set to NaN, which sslts encoders read as missing."""
    hidden = np.array(windows, dtype=np.float32)
    hidden[:, -1] = np.nan
    # A window observed only at its last step has nothing left: no embedding.
    keep = ~np.isnan(hidden).all(axis=(1, 2))
    result = None
    if keep.any():
        out = encoder.encode(hidden[keep], level="timestamp", batch_size=batch_size,
                             mask_padding=False)  # the hidden last step is wanted
        result = np.full((len(hidden),) + out.shape[1:], np.nan, np.float32)
        result[keep] = out
    if result is None:  # the width is unknown without one embedding: ask for it
        width = encoder.encode(windows[:1], level="timestamp", mask_padding=False).shape[-1]
        result = np.full(hidden.shape[:2] + (width,), np.nan, np.float32)
    return result


def masked_errors(encoder, series: np.ndarray, *, padding: int = 200,
                  embed_masked=mask_last_encode, batch_size=None) -> np.ndarray:
    """L1 distance between each timestamp's causal embedding with and without it.

    Parameters
    ----------
    encoder : fitted sslts estimator
        Must support ``encode(X, level="timestamp")``.
    series : ndarray of shape (n_timestamps,) or (n_timestamps, n_channels)
        One series (or (n_series, n_timestamps, n_channels) for several).
    padding : int, default=200
        Past steps of each causal window.
    embed_masked : callable, default=mask_last_encode
        ``embed_masked(encoder, windows, batch_size)``: timestamp embeddings of
        windows (n_windows, padding + 1, n_channels) with their last step hidden.
    batch_size : int, default=None
        Windows per forward pass.

    Returns
    -------
    ndarray of shape (n_timestamps,), or (n_series, n_timestamps) for 3-D input
        ``e_t``; NaN where either embedding is missing (e.g. the NaN fallback at
        ``t = 0``, whose window holds no other value).
    """
    values = np.asarray(series, dtype=np.float32)
    X = values if values.ndim == 3 else values.reshape(1, len(values), -1)
    plain = causal_encode(encoder, X, padding=padding, batch_size=batch_size)
    masked = sliding_encode(encoder, X, sliding_length=1, sliding_padding=padding, causal=True,
                            embed=partial(embed_masked, encoder, batch_size=batch_size))
    errors = np.abs(plain - masked).sum(axis=2)
    errors[np.isnan(plain).any(axis=2) | np.isnan(masked).any(axis=2)] = np.nan
    return errors if values.ndim == 3 else errors[0]


def adjusted_errors(errors: np.ndarray, window: int = MA_WINDOW,
                    min_periods: int | None = None) -> np.ndarray:
    """``(e_t - m_t) / m_t`` with ``m_t`` the mean of the errors of the ``window`` previous steps.

    Parameters
    ----------
    errors : ndarray of shape (n_timestamps,)
    window : int, default=21
        TS2Vec's ``Z``.
    min_periods : int, default=None
        Fewest observed (non-NaN) errors among the ``window`` previous ones for
        ``m_t`` to exist; None means ``window`` (the official moving mean, NaN for the
        first ``window`` steps).  1 gives every step after the first a score.

    Returns
    -------
    ndarray of shape (n_timestamps,)
        NaN where ``m_t`` does not exist or is 0.

    Examples
    --------
    >>> adjusted_errors(np.array([1.0, 3.0, 4.0]), window=2)
    array([nan, nan,  1.])
    >>> adjusted_errors(np.array([1.0, 3.0, 4.0]), window=2, min_periods=1)
    array([nan,  2.,  1.])
    """
    errors = np.asarray(errors, dtype=np.float64)
    min_periods = window if min_periods is None else min_periods
    observed = ~np.isnan(errors)
    total = np.concatenate([[0.0], np.cumsum(np.where(observed, errors, 0.0))])
    count = np.concatenate([[0], np.cumsum(observed)])
    t = np.arange(len(errors))
    lo = np.maximum(t - window, 0)  # m_t averages errors[lo:t]
    n_seen = count[t] - count[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (total[t] - total[lo]) / n_seen
        mean[(n_seen < min_periods) | ~(mean > 0)] = np.nan
        return (errors - mean) / mean


def adf_differences(values: np.ndarray, *, alpha: float = 0.05, max_diffs: int = _MAX_DIFFS) -> int:
    """Differences after which the ADF test finds a series stationary (TS2Vec's rule).

    As the official preprocessing of Yahoo and KPI: difference while the augmented
    Dickey-Fuller p-value with one lag, or with the automatic lag order, exceeds
    ``alpha``.

    Parameters
    ----------
    values : ndarray of shape (n_timestamps,)
        The training part of a univariate series.
    alpha : float, default=0.05
    max_diffs : int, default=5
        Bound on the number of differences.

    Returns
    -------
    int
    """
    try:
        from statsmodels.tsa.stattools import adfuller
    except ImportError as exc:  # an optional dependency
        raise ImportError(
            "n_diffs='adf' needs statsmodels (pip install statsmodels); or pass the number "
            "of differences as an integer."
        ) from exc
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    with warnings.catch_warnings():  # statsmodels' notice about its return type
        warnings.simplefilter("ignore", FutureWarning)
        for d in range(max_diffs):
            if adfuller(x, 1)[1] <= alpha and adfuller(x)[1] <= alpha:
                return d
            x = np.diff(x)
    return max_diffs


def standardised_differences(series, n_diffs: int, *, mean=None, scale=None):
    """Difference every series ``n_diffs`` times, then standardise the channels.

    The preprocessing of the official anomaly scripts.

    Parameters
    ----------
    series : list of ndarray of shape (n_timestamps_i, n_channels)
    n_diffs : int
        E.g. from :func:`adf_differences`.
    mean, scale : ndarray of shape (n_channels,), default=None
        Statistics to standardise with; None computes them from all the differenced
        series (NaN ignored; a zero std becomes 1).

    Returns
    -------
    prepared : list of ndarray of shape (n_timestamps_i - n_diffs, n_channels)
    mean, scale : ndarray of shape (n_channels,)

    Examples
    --------
    >>> prepared, mean, scale = standardised_differences([np.array([[1.0], [2.0], [4.0]])], 1)
    >>> prepared[0][:, 0], mean, scale
    (array([-1.,  1.]), array([1.5]), array([0.5]))
    """
    diffed = [np.diff(np.asarray(s, dtype=np.float64), n_diffs, axis=0) for s in series]
    if mean is None:
        values = np.concatenate(diffed)
        mean, scale = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    return [(d - mean) / scale for d in diffed], mean, scale
