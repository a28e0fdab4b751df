"""Two simple anomaly scores to set beside the embeddings: rolling z-score and 1-NN discord.

Both score every timestamp ``t`` from the past only, like TS2Vec's causal protocol,
and go through the same decision rule
(:func:`~sslts.evaluation.anomaly.evaluate_anomaly_scores`: threshold
``mean + 4 std`` of the training scores, burst suppression, point-adjusted F1), so a
table can show what the embeddings add.

- :func:`rolling_zscore`: ``|x_t - mean| / std`` over the ``window`` previous values.
- :func:`discord_distance`: the z-normalised Euclidean distance from the subsequence
  that ends at ``t`` to its nearest neighbour among the training subsequences (for
  training queries, overlapping "trivial" matches are excluded): the subsequence
  "discord" of Keogh et al. (2005), the baseline that the UCR anomaly archive's
  authors recommend.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["discord_distance", "dominant_period", "rolling_zscore"]

# Query subsequences compared with the training set per matrix product.
_QUERIES_PER_BLOCK = 2048


def _check_univariate(values, name: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one univariate series (1-D), got shape {arr.shape}.")
    return arr


def rolling_zscore(values, window: int = 200) -> np.ndarray:
    """``|x_t - mean(x[t-window:t])| / std(x[t-window:t])`` for every timestamp.

    Parameters
    ----------
    values : ndarray of shape (n_timestamps,)
    window : int, default=200
        Past values of the statistics (fewer at the start); NaN are ignored.

    Returns
    -------
    ndarray of shape (n_timestamps,)
        0 where fewer than two past values are observed or their std is 0.

    Examples
    --------
    >>> rolling_zscore(np.array([1.0, 3.0, 1.0, 3.0, 9.0]), window=2)
    array([0., 0., 1., 1., 7.])
    """
    x = _check_univariate(values)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise ValueError(f"window must be an integer >= 2, got {window!r}.")
    # past[t] = x[t - window : t], NaN-padded before the start.
    padded = np.concatenate([np.full(window, np.nan), x[:-1]])
    past = sliding_window_view(padded, window)
    counts = (~np.isnan(past)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN rows at the start
        mean, std = np.nanmean(past, axis=1), np.nanstd(past, axis=1)
        score = np.abs(x - mean) / std
    return np.where((counts >= 2) & (std > 0) & np.isfinite(score), score, 0.0)


def discord_distance(values, n_train: int, length: int) -> np.ndarray:
    """Distance from the subsequence ending at each ``t`` to its nearest training subsequence.

    Parameters
    ----------
    values : ndarray of shape (n_timestamps,)
        The whole series, without missing values.
    n_train : int
        Length of the (normal) training part; its subsequences are the reference set.
    length : int
        Subsequence length ``m``.

    Returns
    -------
    ndarray of shape (n_timestamps,)
        z-normalised Euclidean distances, in ``[0, 2 sqrt(m)]``; 0 for ``t < m - 1``.
        A training query ignores the references that overlap it.

    Examples
    --------
    >>> x = np.tile([0.0, 1.0, 0.0, -1.0], 6)
    >>> x[20] = 3.0
    >>> int(np.argmax(discord_distance(x, n_train=12, length=4)))
    20
    """
    x = _check_univariate(values)
    if np.isnan(x).any():
        raise ValueError("values has missing values (NaN); fill them before discord_distance.")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 2:
        raise ValueError(f"length must be an integer >= 2, got {length!r}.")
    if not 2 * length <= n_train <= len(x):
        raise ValueError(
            f"n_train={n_train} must lie between 2 * length = {2 * length} and the series "
            f"length {len(x)}."
        )
    queries = _znormalise(sliding_window_view(x, length))  # query i ends at t = i + m - 1
    references = queries[: n_train - length + 1]
    out = np.zeros(len(x))
    for start in range(0, len(queries), _QUERIES_PER_BLOCK):
        block = queries[start : start + _QUERIES_PER_BLOCK]
        # ||a - b||^2 = 2 m - 2 a.b for z-normalised a, b (squared norm m each).
        squared = np.maximum(2 * length - 2 * block @ references.T, 0.0)
        offsets = np.arange(start, start + len(block))[:, None] - np.arange(len(references))
        squared[np.abs(offsets) < length] = np.inf  # trivial matches overlap the query
        out[start + length - 1 : start + length - 1 + len(block)] = np.sqrt(squared.min(axis=1))
    return out


def _znormalise(windows: np.ndarray) -> np.ndarray:
    mean = windows.mean(axis=1, keepdims=True)
    std = windows.std(axis=1, keepdims=True)
    # A flat subsequence has no shape: it is compared as all zeros.
    return (windows - mean) / np.where(std > 0, std, np.inf)


def dominant_period(values, *, min_period: int = 4, max_period: int | None = None) -> int:
    """Lag of the highest autocorrelation peak after the first zero crossing.

    A common way of choosing the subsequence length of :func:`discord_distance`
    from the training part alone.

    Parameters
    ----------
    values : ndarray of shape (n_timestamps,)
    min_period : int, default=4
    max_period : int, default=None
        Defaults to a quarter of the series length.

    Returns
    -------
    int
        The period, or ``min_period`` when the autocorrelation never crosses zero.

    Examples
    --------
    >>> dominant_period(np.sin(2 * np.pi * np.arange(400) / 25))
    25
    """
    x = _check_univariate(values)
    x = x[~np.isnan(x)] - np.nanmean(x)
    max_period = len(x) // 4 if max_period is None else max_period
    spectrum = np.fft.rfft(x, 2 * len(x))
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: max_period + 1]
    below = np.flatnonzero(acf[1:] < 0)
    if len(below) == 0:
        return min_period
    first = max(int(below[0]) + 1, min_period)
    return first + int(np.argmax(acf[first : max_period + 1]))
