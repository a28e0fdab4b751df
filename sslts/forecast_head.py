"""The ridge head that maps causal timestamp embeddings to the next values.

TS2Vec's forecasting head (Yue et al., AAAI 2022, Section 4.2 and appendix C.4): the
embedding of step ``t`` is paired with the next ``H`` target values
(:func:`forecast_samples`) and a ridge regression whose penalty is chosen on a
validation split (:func:`fit_ridge`) maps one to the other.  Used by
:class:`~sslts.EmbeddingForecaster`; the benchmark protocol built on it is in
:mod:`sslts.evaluation.forecasting`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

__all__ = ["RIDGE_ALPHAS", "fit_ridge", "forecast_samples"]

RIDGE_ALPHAS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
"""Ridge penalties tried on the validation months (the official TS2Vec grid)."""

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
    """
    n, T, C = targets.shape
    # (n, T - horizon, horizon, C): future[:, t, k] = targets[:, t + 1 + k].
    future = sliding_window_view(targets[:, 1:], horizon, axis=1)[:, : T - horizon]
    future = future.transpose(0, 1, 3, 2)[:, drop:]
    X = features[:, drop : T - horizon]
    return X.reshape(-1, X.shape[-1]), future.reshape(-1, horizon * C)


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


def _subsample(X, Y, max_samples):
    if len(X) <= max_samples:
        return X, Y
    X, _, Y, _ = train_test_split(X, Y, train_size=max_samples, random_state=0)
    return X, Y
