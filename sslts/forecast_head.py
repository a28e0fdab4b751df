"""The ridge heads that map causal timestamp embeddings to the next values.

TS2Vec's forecasting head (Yue et al., AAAI 2022, Section 4.2 and appendix C.4): the
embedding of step ``t`` is paired with the next ``H`` target values
(:func:`forecast_samples`) and a ridge regression whose penalty is chosen on a
validation split (:func:`fit_ridge`) maps one to the other.

:class:`~sslts.EmbeddingForecaster` can also anchor a head on a naive forecast
(:func:`naive_forecast`): the head then learns the *difference* between the future
and that forecast (:func:`head_targets`), its inputs may hold the last raw values
beside the embedding (:func:`head_inputs`), and the naive forecast alone (no head) is
one of the candidates that :func:`select_penalty` validates
(:mod:`sslts.forecast_selection` chooses among them).  The benchmark protocol built
on these pieces is in :mod:`sslts.evaluation.forecasting`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

__all__ = ["NAIVE_FORECASTS", "RIDGE_ALPHAS", "fit_ridge", "forecast_samples", "head_inputs",
           "head_targets", "naive_forecast", "select_penalty"]

RIDGE_ALPHAS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
"""Ridge penalties tried on the validation months (the official TS2Vec grid)."""

NAIVE_FORECASTS = ("last_value", "seasonal_naive")
"""The naive forecasts a head can be anchored on (:func:`naive_forecast`)."""

_CHUNK = 4096  # origins per block when a (rows, horizon, channels) array is subtracted


def forecast_samples(features: np.ndarray, targets: np.ndarray, horizon: int, drop: int = 0):
    """Pair the embedding at step ``t`` with the targets of the next ``horizon`` steps.

    Parameters
    ----------
    features : ndarray of shape (n_series, n_timestamps, n_features)
        Causal embeddings of one split.
    targets : ndarray of shape (n_series, n_timestamps, n_targets)
        Target channels of the same split.
    horizon : int
        Steps to predict.
    drop : int, default=0
        Leading timestamps to discard (TS2Vec drops the first ``padding`` training
        steps, whose windows are mostly padding).

    Returns
    -------
    X : ndarray of shape (n_series * (n_timestamps - horizon - drop), n_features)
    Y : ndarray of shape (n_series * (n_timestamps - horizon - drop), horizon * n_targets)
        Row-major in (step, channel).

    Examples
    --------
    >>> y = np.arange(6.0).reshape(1, 6, 1)
    >>> X, Y = forecast_samples(y, y, horizon=2)
    >>> X[:, 0], Y[0]
    (array([0., 1., 2., 3.]), array([1., 2.]))
    """
    n, T, C = targets.shape
    # (n, T - horizon, horizon, C): future[:, t, k] = targets[:, t + 1 + k].
    future = sliding_window_view(targets[:, 1:], horizon, axis=1)[:, : T - horizon]
    future = future.transpose(0, 1, 3, 2)[:, drop:]
    X = features[:, drop : T - horizon]
    return X.reshape(-1, X.shape[-1]), future.reshape(-1, horizon * C)


def naive_forecast(targets: np.ndarray, origins: np.ndarray, horizon: int, kind: str,
                   season: int | None = None) -> np.ndarray:
    """The naive forecasts of the ``horizon`` steps after each origin.

    Parameters
    ----------
    targets : ndarray of shape (n_timestamps, n_targets)
        One series.
    origins : ndarray of int of shape (n_origins,)
        Steps ``t`` forecast from (the forecasts cover ``t + 1 .. t + horizon``).
    horizon : int
    kind : {"last_value", "seasonal_naive"}
        ``"last_value"`` repeats ``targets[t]``; ``"seasonal_naive"`` forecasts step
        ``t + j`` by the value one season earlier, ``targets[t + j - s * ceil(j / s)]``.
    season : int, default=None
        The season ``s`` (required by ``"seasonal_naive"``).

    Returns
    -------
    ndarray of shape (n_origins, horizon, n_targets)
        NaN where the forecast reads before the start of the series.

    Examples
    --------
    >>> y = np.arange(8.0)[:, None]
    >>> naive_forecast(y, np.array([5]), 3, "last_value")[0, :, 0]
    array([5., 5., 5.])
    >>> naive_forecast(y, np.array([5]), 3, "seasonal_naive", season=2)[0, :, 0]
    array([4., 5., 4.])
    """
    if kind == "last_value":
        back = np.zeros(horizon, dtype=int)
    elif kind == "seasonal_naive":
        if season is None or season < 1:
            raise ValueError(f"seasonal_naive needs a season of at least 1, got {season!r}.")
        steps = np.arange(1, horizon + 1)
        back = steps - season * np.ceil(steps / season).astype(int)  # in (-season, 0]
    else:
        raise ValueError(f"kind must be one of {NAIVE_FORECASTS}, got {kind!r}.")
    return _read(targets, np.asarray(origins)[:, None] + back[None])


def head_inputs(features: np.ndarray | None, targets: np.ndarray, origins: np.ndarray,
                lags: int = 0) -> np.ndarray:
    """Inputs of a forecasting head: the embedding at each origin, then its recent values.

    The recent values enter relative to the last one (``y[t - k] - y[t]``, as NLinear
    does), so that they carry the shape of the recent past but not its level: a
    head on them alone forecasts the same correction for a series shifted by a
    constant, and the level of the test months is often not that of the training ones.

    Parameters
    ----------
    features : ndarray of shape (n_origins, n_features) or None
        Causal embedding of each origin; None: the recent values alone.
    targets : ndarray of shape (n_timestamps, n_targets)
        The series the origins index.
    origins : ndarray of int of shape (n_origins,)
    lags : int, default=0
        Append ``y[t - k] - y[t]`` for ``k = lags .. 1`` (oldest first) of every
        target, row-major in (step, channel).

    Returns
    -------
    ndarray of shape (n_origins, n_features + lags * n_targets)
        In the features' dtype (float64 without features); NaN where the lags read
        before the series' start.

    Examples
    --------
    >>> y = np.arange(10.0)[:, None] ** 2
    >>> head_inputs(y[[4, 5]], y, np.array([4, 5]), lags=2).tolist()
    [[16.0, -12.0, -7.0], [25.0, -16.0, -9.0]]
    >>> head_inputs(None, y, np.array([5]), lags=2).tolist()
    [[-16.0, -9.0]]
    """
    origins = np.asarray(origins)
    if not lags:
        if features is None:
            raise ValueError("a head needs the features, the lags or both")
        return features
    index = origins[:, None] + np.arange(-lags, 1)[None]
    window = _read(targets, index)
    past = (window[:, :-1] - window[:, -1:]).reshape(len(origins), -1)
    if features is None:
        return past
    return np.concatenate([features, past.astype(features.dtype)], axis=1)


def head_targets(targets: np.ndarray, origins: np.ndarray, horizon: int, *,
                 baseline: str | None = None, season: int | None = None) -> np.ndarray:
    """Outputs of a forecasting head: the next values, less a naive forecast of them.

    Parameters
    ----------
    targets : ndarray of shape (n_timestamps, n_targets)
    origins : ndarray of int of shape (n_origins,)
        Steps ``t`` forecast from; ``t + horizon`` must lie inside the series.
    horizon : int
    baseline : {"last_value", "seasonal_naive"}, default=None
        Subtract this naive forecast (:func:`naive_forecast`), so that the head learns
        the correction to it; None keeps the values.
    season : int, default=None
        Season of ``"seasonal_naive"``.

    Returns
    -------
    ndarray of shape (n_origins, horizon * n_targets), float64
        Row-major in (step, channel); NaN where the naive forecast reads before the
        series' start.

    Examples
    --------
    >>> y = np.arange(10.0)[:, None] ** 2
    >>> head_targets(y, np.array([3]), 2, baseline="last_value").tolist()
    [[7.0, 16.0]]
    """
    origins = np.asarray(origins)
    Y = _read(targets, origins[:, None] + np.arange(1, horizon + 1)[None])
    if baseline is not None:
        for start in range(0, len(origins), _CHUNK):
            block = slice(start, start + _CHUNK)
            Y[block] -= naive_forecast(targets, origins[block], horizon, baseline, season)
    return Y.reshape(len(origins), -1)


def _read(targets: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``targets[index]`` as float64, NaN where ``index`` is negative."""
    out = np.asarray(targets, dtype=np.float64)[np.maximum(index, 0)]
    out[index < 0] = np.nan
    return out


def fit_ridge(X_train, Y_train, X_valid, Y_valid, *, alphas=RIDGE_ALPHAS, max_samples=100_000):
    """Ridge regression with alpha chosen on the validation set (TS2Vec's rule).

    The score of an alpha is validation RMSE + MAE; the best model is kept.  Splits
    above ``max_samples`` rows are subsampled (``random_state=0``).

    Parameters
    ----------
    X_train, X_valid : ndarray of shape (n_samples, n_features)
    Y_train, Y_valid : ndarray of shape (n_samples, n_outputs)
    alphas : sequence of float, default=RIDGE_ALPHAS
        Candidate regularisation strengths.
    max_samples : int, default=100_000
        Row cap of each split.

    Returns
    -------
    Ridge
        Fitted on the training split with the chosen ``alpha``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> Y = X @ np.array([[1.0], [2.0], [0.0]])
    >>> fit_ridge(X[:40], Y[:40], X[40:], Y[40:]).alpha
    0.1
    """
    X_train, Y_train = _subsample(X_train, Y_train, max_samples)
    X_valid, Y_valid = _subsample(X_valid, Y_valid, max_samples)
    best, best_score = None, np.inf
    for alpha in alphas:
        model = Ridge(alpha=alpha).fit(X_train, Y_train)
        # reshape: scikit-learn may return 1-D predictions for a single-column Y
        err = model.predict(X_valid).reshape(Y_valid.shape) - Y_valid
        score = np.sqrt(np.mean(err**2)) + np.mean(np.abs(err))
        if score < best_score:
            best, best_score = model, score
    return best


def select_penalty(X_train, Y_train, X_valid, Y_valid, *, alphas=RIDGE_ALPHAS,
                   max_samples=100_000, allow_none=False) -> tuple[float, float]:
    """The ridge penalty with the lowest validation RMSE + MAE, all scored from one solve.

    The same choice as :func:`fit_ridge` (ridge with intercept, the first of equal
    scores), computed from one eigendecomposition of the centred training Gram
    matrix instead of one fit per penalty.

    Parameters
    ----------
    X_train, X_valid : ndarray of shape (n_samples, n_features)
    Y_train, Y_valid : ndarray of shape (n_samples, n_outputs)
    alphas : sequence of float, default=RIDGE_ALPHAS
    max_samples : int, default=100_000
        Row cap of each split (subsampled with ``random_state=0``, as :func:`fit_ridge`).
    allow_none : bool, default=False
        Also score predicting 0 for every output (no head; returned as
        ``alpha=inf``): when the outputs are corrections to a naive forecast, that
        candidate is the naive forecast itself.

    Returns
    -------
    alpha : float
        The chosen penalty (``inf``: no head).
    score : float
        Its validation RMSE + MAE.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, noise = rng.normal(size=(60, 3)), rng.normal(size=(60, 1))
    >>> select_penalty(X[:40], X[:40, :1] + noise[:40], X[40:], X[40:, :1])[0]
    10.0
    >>> # Outputs that the naive forecast already gets right: no head
    >>> select_penalty(X[:40], noise[:40], X[40:], 0 * noise[40:], allow_none=True)[0]
    inf
    """
    X_train, Y_train = _subsample(X_train, Y_train, max_samples)
    X_valid, Y_valid = _subsample(X_valid, Y_valid, max_samples)
    X_train, X_valid = (np.asarray(a, dtype=np.float64) for a in (X_train, X_valid))
    Y_train, Y_valid = (np.asarray(a, dtype=np.float64) for a in (Y_train, Y_valid))
    x_mean, y_mean = X_train.mean(axis=0), Y_train.mean(axis=0)
    centred = X_train - x_mean
    eigval, eigvec = np.linalg.eigh(centred.T @ centred)
    eigval = np.maximum(eigval, 0.0)
    projected = eigvec.T @ (centred.T @ (Y_train - y_mean))
    rotated = (X_valid - x_mean) @ eigvec
    truth = Y_valid - y_mean
    scores = []
    for alpha in alphas:
        err = (rotated / (eigval + alpha)) @ projected - truth
        scores.append(np.sqrt(np.mean(err**2)) + np.mean(np.abs(err)))
    if allow_none:
        alphas = [*alphas, np.inf]
        scores.append(np.sqrt(np.mean(Y_valid**2)) + np.mean(np.abs(Y_valid)))
    best = int(np.argmin(scores))
    return float(alphas[best]), float(scores[best])


def _subsample(X, Y, max_samples):
    if len(X) <= max_samples:
        return X, Y
    X, _, Y, _ = train_test_split(X, Y, train_size=max_samples, random_state=0)
    return X, Y
