"""Which ridge head each forecast horizon gets: the candidates, validated, refitted.

:class:`~sslts.EmbeddingForecaster` checks its horizons and penalties
(:func:`check_horizons`, :func:`check_alphas`), lists the heads its parameters allow
(:func:`head_candidates`) and, for every horizon, keeps the one that forecasts the
validation origins best (:func:`fit_head`), built from the pieces of
:mod:`sslts.forecast_head`.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from scipy.linalg import LinAlgWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

from .forecast_head import RIDGE_ALPHAS, fit_ridge, head_inputs, head_targets, select_penalty

__all__ = ["check_alphas", "check_horizons", "fit_head", "head_candidates"]


def check_horizons(horizon) -> list[int]:
    """The forecast horizons of ``horizon``, checked, unique and increasing.

    Parameters
    ----------
    horizon : int or sequence of int
        Positive step counts (booleans are refused).

    Returns
    -------
    list of int

    Examples
    --------
    >>> check_horizons([24, 3, 24])
    [3, 24]
    >>> check_horizons(0)
    Traceback (most recent call last):
    ...
    ValueError: horizon must be a positive integer or a sequence of them, got 0.
    """
    horizons = np.atleast_1d(horizon)
    if horizons.ndim != 1 or len(horizons) == 0 or not all(
            isinstance(h, Integral) and not isinstance(h, bool) and h >= 1
            for h in horizons.tolist()):
        raise ValueError(
            f"horizon must be a positive integer or a sequence of them, got {horizon!r}."
        )
    return sorted(set(horizons.tolist()))


def check_alphas(alphas) -> np.ndarray:
    """Candidate ridge penalties as a float array: non-empty, finite and positive.

    Parameters
    ----------
    alphas : sequence of float

    Returns
    -------
    ndarray of shape (n_alphas,)

    Examples
    --------
    >>> check_alphas((1, 10))
    array([ 1., 10.])
    >>> check_alphas([0.0])
    Traceback (most recent call last):
    ...
    ValueError: alphas must be a non-empty sequence of positive ridge penalties, got [0.0].
    """
    checked = np.asarray(alphas, dtype=float) if np.ndim(alphas) == 1 else None
    if checked is None or len(checked) == 0 or not np.all(np.isfinite(checked) & (checked > 0)):
        raise ValueError(
            f"alphas must be a non-empty sequence of positive ridge penalties, got {alphas!r}."
        )
    return checked


def head_candidates(baseline: str | None, season: int | None, lags: int,
                    use_embedding: str | bool) -> list[tuple[str | None, bool]]:
    """The ``(naive forecast, reads the embedding)`` heads validated for every horizon.

    Parameters
    ----------
    baseline : {"last_value", "seasonal_naive", "auto"} or None
        The naive forecast a head corrects; ``"auto"`` tries ``"last_value"`` and,
        when ``season`` is given, ``"seasonal_naive"``.
    season : int or None
        Season of ``"seasonal_naive"``.
    lags : int
        Recent values given to the head (:func:`head_inputs`).
    use_embedding : "auto" or bool
        Whether the head reads the embedding; ``"auto"`` tries both (with lags; without
        them it reads the embedding).

    Returns
    -------
    list of (str or None, bool)

    Examples
    --------
    >>> head_candidates(None, None, 0, True)
    [(None, True)]
    >>> head_candidates("last_value", None, 0, "auto")
    [('last_value', True)]
    >>> head_candidates("auto", 24, 24, "auto")  # doctest: +NORMALIZE_WHITESPACE
    [('last_value', True), ('last_value', False),
     ('seasonal_naive', True), ('seasonal_naive', False)]
    """
    if baseline == "seasonal_naive" and season is None:
        raise ValueError("baseline='seasonal_naive' needs the season (in steps); pass "
                         "season=..., e.g. 24 for a daily cycle of hourly data.")
    if not use_embedding and not lags:
        raise ValueError("use_embedding=False needs lags > 0: without the embedding a "
                         "head reads the lags alone; pass lags > 0 or use_embedding=True.")
    kinds = [baseline] if baseline != "auto" else (
        ["last_value"] + (["seasonal_naive"] if season else []))
    # "auto" without lags has nothing to validate the embedding against
    embeds = [True, False] if isinstance(use_embedding, str) and lags else [
        bool(use_embedding)]
    return [(kind, embed) for kind in kinds for embed in embeds]


def fit_head(features, targets, horizon: int, train, valid, *, candidates=((None, True),),
             alphas=RIDGE_ALPHAS, season: int | None = None, lags: int = 0, refit: bool = True,
             max_samples: int = 100_000):
    """Choose the head of one horizon on the validation origins, then fit it.

    Every candidate's penalty is chosen by validation RMSE + MAE; with several
    candidates, or a naive forecast to correct (where predicting no correction, that
    is no head, is also scored), the best score wins.  A single candidate without a
    naive forecast is TS2Vec's rule exactly (:func:`~sslts.forecast_head.fit_ridge`).

    Parameters
    ----------
    features : list of ndarray of shape (n_timestamps_i, n_features)
        Causal embedding of every step of each series.
    targets : list of ndarray of shape (n_timestamps_i, n_targets)
        The series' (standardised) targets.
    horizon : int
    train, valid : list of (int, int)
        Per series, the origins ``[start, stop)`` that fit the heads and those that
        validate them.  The training origins' targets must end before the first
        validation origin's.
    candidates : sequence of (str or None, bool), default=((None, True),)
        ``(naive forecast, reads the embedding)`` pairs (:func:`head_candidates`).
    alphas : sequence of float, default=RIDGE_ALPHAS
    season : int, default=None
        Season of ``"seasonal_naive"``.
    lags : int, default=0
        Recent values in the head's inputs (:func:`~sslts.forecast_head.head_inputs`).
    refit : bool, default=True
        Refit the chosen head on every origin from the first training one to the last
        validation one; False keeps it fitted on the training origins.
    max_samples : int, default=100_000
        Row cap of each fit (subsampled with ``random_state=0``).

    Returns
    -------
    head : Ridge or None
        Output ``(horizon, n_targets)`` flattened; None: the naive forecast as it is.
    alpha : float
        Its penalty (``inf`` without a head).
    baseline : str or None
        The naive forecast it corrects.
    uses_embedding : bool

    Examples
    --------
    >>> steps = np.arange(300) / 4
    >>> y = np.sin(steps)[:, None]
    >>> state = np.stack([np.sin(steps), np.cos(steps)], axis=1)  # a perfect embedding
    >>> head, alpha, baseline, embed = fit_head([state], [y], 3, [(0, 197)], [(200, 297)])
    >>> alpha, baseline, head.coef_.shape
    (0.1, None, (3, 2))
    >>> fit_head([state], [y], 3, [(0, 197)], [(200, 297)],
    ...          candidates=[("last_value", True)])[1:]
    (0.1, 'last_value', True)
    """
    def rows(kind, embed, spans):
        parts = [(head_inputs(f[a:b] if embed else None, t, np.arange(a, b), lags),
                  head_targets(t, np.arange(a, b), horizon, baseline=kind, season=season))
                 for f, t, (a, b) in zip(features, targets, spans)]
        # One series: no concatenation copy (Y holds horizon x n_targets columns).
        X, Y = parts[0] if len(parts) == 1 else map(np.concatenate, zip(*parts))
        keep = ~(np.isnan(X).any(axis=1) | np.isnan(Y).any(axis=1))
        if not keep.any():
            raise ValueError(f"No complete (observed) training or validation row for "
                             f"horizon {horizon}; pass series with fewer missing values.")
        return (X, Y) if keep.all() else (X[keep], Y[keep])

    every = [(a, d) for (a, _), (_, d) in zip(train, valid)]
    if len(candidates) == 1 and candidates[0][0] is None:
        # TS2Vec's rule as sslts.evaluation runs it: one Ridge fit per penalty.
        kind, embed = candidates[0]
        head = fit_ridge(*rows(kind, embed, train), *rows(kind, embed, valid), alphas=alphas,
                         max_samples=max_samples)
        if refit:  # one candidate penalty: a plain (subsampled) fit on all rows
            both = rows(kind, embed, every)
            head = fit_ridge(*both, *both, alphas=[head.alpha], max_samples=max_samples)
        return head, float(head.alpha), kind, embed
    best = None
    for kind, embed in candidates:
        fitting = rows(kind, embed, train)
        alpha, score = select_penalty(*fitting, *rows(kind, embed, valid), alphas=alphas,
                                      max_samples=max_samples, allow_none=kind is not None)
        if best is None or score < best[0]:
            best = (score, kind, embed, alpha, fitting)
    _, kind, embed, alpha, fitting = best
    if np.isinf(alpha):
        return None, alpha, kind, False
    X, Y = rows(kind, embed, every) if refit else fitting
    if len(X) > max_samples:
        X, _, Y, _ = train_test_split(X, Y, train_size=max_samples, random_state=0)
    with warnings.catch_warnings():
        # Lags are collinear, so a validated small penalty leaves the Gram matrix near
        # singular (rcond ~1e-7): harmless in float64, and not the user's to act on.
        warnings.simplefilter("ignore", LinAlgWarning)
        return Ridge(alpha=alpha).fit(X, Y), alpha, kind, embed
