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

import inspect
import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from ..encoding import causal_encode, sliding_encode
from .anomaly_scoring import MA_WINDOW, evaluate_anomaly_scores
from .forecasting import split_for_fit

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

# The ADF rule stops here even if the test still finds a unit root (the official loop
# has no bound; real series need at most two differences).
_MAX_DIFFS = 5


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
        out = encoder.encode(hidden[keep], level="timestamp", batch_size=batch_size)
        result = np.full((len(hidden),) + out.shape[1:], np.nan, np.float32)
        result[keep] = out
    if result is None:  # the width is unknown without one embedding: ask for it
        width = encoder.encode(windows[:1], level="timestamp").shape[-1]
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
    # The estimator is built on this module's helpers: import it when first needed.
    from ..anomaly_detector import EmbeddingAnomalyDetector

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
