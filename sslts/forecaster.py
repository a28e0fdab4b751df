"""Forecasting with self-supervised timestamp embeddings and ridge heads (TS2Vec's protocol)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ._wrapping import as_series_list, fit_encoder, restore_shape
from .base import store_init_arguments
from .encoding import causal_encode
from .forecast_head import RIDGE_ALPHAS, fit_ridge, forecast_samples
from .utils.validation import StrictParamsMixin

__all__ = ["EmbeddingForecaster"]


class EmbeddingForecaster(StrictParamsMixin, BaseEstimator):
    """Forecast the next steps of series from the causal embedding of their last step.

    TS2Vec's forecasting protocol as an estimator: a self-supervised encoder is fitted
    on the series (covariates, if any, are extra input channels before the targets);
    every timestamp ``t`` is represented by the embedding of the last step of its
    causal window ``[t - padding, t]``, and for each horizon ``H`` a ridge regression
    maps that embedding to the next ``H`` values of the targets.  The ridge penalty
    is chosen on a validation tail held out from every series, by RMSE + MAE.

    Parameters
    ----------
    encoder : sslts estimator, default=None
        The self-supervised encoder; a clone is fitted on the part of the series
        before the validation tail.  A fitted encoder wrapped in
        :class:`sklearn.frozen.FrozenEstimator` is used as it is.  It must encode at
        ``level="timestamp"``.  None uses ``TS2VecTransformer()``.
    horizon : int or sequence of int, default=24
        Forecast horizons; one ridge head per horizon, each with its own penalty.
        :meth:`predict` with a shorter horizon uses the shortest head that covers it.
    padding : int, default=200
        Past steps of each causal window; the first ``padding`` steps of every
        series, whose windows are mostly padding, are not used to train the heads.
    valid_size : int or float, default=0.2
        The validation tail of every series: a number of steps, or a fraction of the
        series length.  The encoder and the heads are fitted on the part before it.
    alphas : sequence of float, default=sslts.evaluation.RIDGE_ALPHAS
        Candidate ridge penalties.
    refit : bool, default=True
        Refit every head with its chosen penalty on the whole series (tail included);
        False keeps the heads fitted before the tail (the paper's protocol).
    standardize : bool, default=True
        Standardise targets and covariates with the statistics of the part before the
        tail (forecasts are returned on the original scale).
    max_samples : int, default=100_000
        Training rows of each head above which rows are subsampled (``random_state=0``).
    batch_size : int, default=None
        Windows per forward pass of the encoder.

    Attributes
    ----------
    encoder_ : sslts estimator
        The fitted encoder.
    horizons_ : tuple of int
        Fitted horizons, increasing.
    heads_ : dict of int to Ridge
        The head of each horizon; its output is ``(horizon, n_targets)`` flattened.
    alphas_ : dict of int to float
        Chosen penalty of each horizon.
    last_embedding_ : ndarray of shape (n_series, n_features)
        Embedding of the last step of every training series (for :meth:`predict`
        without ``y``).
    target_mean_, target_scale_ : ndarray of shape (n_targets,)
        Standardisation of the targets (0 and 1 with ``standardize=False``).
    covariate_mean_, covariate_scale_ : ndarray of shape (n_covariates,)
        Standardisation of the covariates.
    n_features_in_ : int
        Number of target channels.
    n_covariates_ : int
        Number of covariate channels (0 without covariates).

    See Also
    --------
    sslts.evaluation.evaluate_forecasting : The paper's protocol on ETT data.

    Notes
    -----
    Input: one series is 1-D ``(n_timestamps,)`` or 2-D ``(n_timestamps,
    n_targets)``; several are 3-D ``(n_series, n_timestamps, n_targets)``
    (NaN-padded) or a list.  Covariates ``X`` have the same form with their own
    channel count and are observed up to the last step of ``y`` (future covariates
    are not used).  Rows with a missing value are left out of the heads' training.

    References
    ----------
    .. [1] Z. Yue, Y. Wang, J. Duan, T. Yang, C. Huang, Y. Tong and B. Xu, "TS2Vec:
       Towards Universal Representation of Time Series", AAAI 2022, Section 4.2.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TS2VecTransformer
    >>> t = np.arange(300)
    >>> y = np.sin(2 * np.pi * t / 24)
    >>> enc = TS2VecTransformer(output_dims=8, hidden_dims=8, depth=2, n_iters=5,
    ...                         device="cpu", random_state=0)
    >>> fc = EmbeddingForecaster(enc, horizon=12, padding=30, valid_size=60).fit(y)
    >>> fc.predict().shape
    (12,)
    >>> bool(np.abs(fc.predict() - np.sin(2 * np.pi * np.arange(300, 312) / 24)).max() < 0.3)
    True
    """

    _parameter_constraints: dict = {
        "encoder": [HasMethods(["fit", "encode"]), None],
        "horizon": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "padding": [Interval(Integral, 0, None, closed="left")],
        "valid_size": [Interval(Integral, 1, None, closed="left"),
                       Interval(Real, 0, 1, closed="neither")],
        "alphas": ["array-like"],
        "refit": ["boolean"],
        "standardize": ["boolean"],
        "max_samples": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        encoder=None,
        *,
        horizon=24,
        padding=200,
        valid_size=0.2,
        alphas=RIDGE_ALPHAS,
        refit=True,
        standardize=True,
        max_samples=100_000,
        batch_size=None,
    ):
        store_init_arguments(self, locals())

    def fit(self, y, X=None):
        """Fit the encoder and one ridge head per horizon.

        Parameters
        ----------
        y : array-like or list of array-like
            Target series (see Notes).
        X : array-like or list of array-like, default=None
            Covariates, one row per step of ``y``.

        Returns
        -------
        self : object
        """
        self._validate_params()
        horizons = np.atleast_1d(self.horizon)
        if horizons.ndim != 1 or len(horizons) == 0 or not all(
                isinstance(h, Integral) and not isinstance(h, bool) and h >= 1
                for h in horizons.tolist()):
            raise ValueError(
                f"horizon must be a positive integer or a sequence of them, got {self.horizon!r}."
            )
        horizons = sorted(set(horizons.tolist()))
        alphas = np.asarray(self.alphas, dtype=float) if np.ndim(self.alphas) == 1 else None
        if alphas is None or len(alphas) == 0 or not np.all(np.isfinite(alphas) & (alphas > 0)):
            raise ValueError(
                "alphas must be a non-empty sequence of positive ridge penalties, got "
                f"{self.alphas!r}."
            )
        targets, self._fit_kind = as_series_list(y, "y", owner=self)
        covariates = self._covariates(X, targets, fitting=True)
        ends = [self._fit_end(len(t), horizons[-1]) for t in targets]
        self._set_scaling(targets, covariates, ends)
        inputs = [self._inputs(t, c) for t, c in zip(targets, covariates)]
        self.encoder_ = fit_encoder(self.encoder, [x[:end] for x, end in zip(inputs, ends)])
        features = [self._embed(x) for x in inputs]
        scaled = [(t - self.target_mean_) / self.target_scale_ for t in targets]
        self.heads_, self.alphas_ = {}, {}
        for h in horizons:
            self.heads_[h] = self._fit_head(features, scaled, ends, h)
            self.alphas_[h] = float(self.heads_[h].alpha)
        self.horizons_ = tuple(horizons)
        self.last_embedding_ = np.stack([f[-1] for f in features])
        self.n_features_in_ = targets[0].shape[1]
        return self

    def predict(self, horizon=None, *, y=None, X=None):
        """Forecast the ``horizon`` steps after the end of each series.

        Parameters
        ----------
        horizon : int or sequence of int, default=None
            Steps to forecast, at most ``max(horizons_)``; None forecasts the longest
            fitted horizon.  A sequence returns a dict of the forecasts of each
            horizon (the series are encoded once).
        y : array-like or list of array-like, default=None
            Histories to forecast from (their last ``padding + 1`` steps are used);
            None forecasts after the training series.
        X : array-like or list of array-like, default=None
            Covariates of ``y`` (required when the model was fitted with some).

        Returns
        -------
        ndarray, or dict of int to ndarray for a sequence of horizons
            ``(horizon,)`` for one univariate series, ``(horizon, n_targets)`` for one
            multivariate series, ``(n_series, horizon, n_targets)`` for several (a
            list for list input).
        """
        check_is_fitted(self, "heads_")
        heads = self._heads(horizon)
        if y is None:
            if X is not None:
                raise ValueError("X was given without y; pass the history y it belongs to.")
            features, kind = self.last_embedding_, self._fit_kind
        else:
            targets, kind = as_series_list(y, "y", n_channels=self.n_features_in_, owner=self)
            covariates = self._covariates(X, targets, fitting=False)
            windows = [self._inputs(t, c)[-(self.padding + 1) :]
                       for t, c in zip(targets, covariates)]
            features = self._embed_last(windows)
        out = {h: restore_shape(list(self._forecast(head, features)[:, :h]), kind,
                                squeeze=kind == "1d") for h, head in heads}
        return out if _is_sequence(horizon) else out[heads[0][0]]

    def rolling_predict(self, y, X=None, *, horizon=None):
        """Forecasts made at every step of ``y`` (each from its own causal window).

        Parameters
        ----------
        y : array-like or list of array-like
            Series.
        X : array-like or list of array-like, default=None
            Their covariates.
        horizon : int or sequence of int, default=None
            As in :meth:`predict`.

        Returns
        -------
        ndarray, or dict of int to ndarray for a sequence of horizons
            ``out[..., t, k, :]`` forecasts step ``t + 1 + k``: shape
            ``(n_timestamps, horizon[, n_targets])`` for one series,
            ``(n_series, n_timestamps, horizon, n_targets)`` for several.
        """
        check_is_fitted(self, "heads_")
        heads = self._heads(horizon)
        targets, kind = as_series_list(y, "y", n_channels=self.n_features_in_, owner=self)
        rolled = self._rolling(targets, self._covariates(X, targets, fitting=False), heads)
        length = np.shape(y)[1] if kind == "3d" else 0
        out = {h: restore_shape(r, kind, squeeze=kind == "1d", length=length)
               for (h, _), r in zip(heads, rolled)}
        return out if _is_sequence(horizon) else out[heads[0][0]]

    def score(self, y, X=None):
        """Negative mean squared error of the rolling forecasts of the longest horizon.

        Every step ``t`` with ``t + horizon`` inside its series is forecast from its
        causal window (:meth:`rolling_predict`), on the original scale; higher is
        better.

        Parameters
        ----------
        y : array-like or list of array-like
        X : array-like or list of array-like, default=None

        Returns
        -------
        float
        """
        check_is_fitted(self, "heads_")
        h = self.horizons_[-1]
        targets, _ = as_series_list(y, "y", n_channels=self.n_features_in_, owner=self)
        (forecasts,) = self._rolling(targets, self._covariates(X, targets, fitting=False),
                                     self._heads(h))
        errors = []
        for t, f in zip(targets, forecasts):
            if len(t) > h:
                _, future = forecast_samples(t[None], t[None], h)
                errors.append(f[: len(t) - h].reshape(len(future), -1) - future)
        if not errors:
            raise ValueError(f"Every series of y is shorter than horizon + 1 = {h + 1} steps.")
        return -float(np.nanmean(np.concatenate(errors) ** 2))

    # ---------------------------------------------------------------- helpers
    def _fit_end(self, length: int, longest: int) -> int:
        """End of the part before the validation tail of a series of ``length`` steps."""
        tail = self.valid_size if isinstance(self.valid_size, Integral) else int(
            round(self.valid_size * length))
        end = length - tail
        if tail < longest + 1 or end < self.padding + longest + 1:
            raise ValueError(
                f"A series of {length} sample(s) (time steps) is too short: the validation tail "
                f"({tail} steps, valid_size={self.valid_size!r}) must hold horizon + 1 = "
                f"{longest + 1} steps and the part before it padding + horizon + 1 = "
                f"{self.padding + longest + 1}. Pass longer series or lower horizon, "
                "padding or valid_size."
            )
        return end

    def _covariates(self, X, targets, *, fitting: bool):
        n_cov = getattr(self, "n_covariates_", 0) if not fitting else None
        if X is None:
            if n_cov:
                raise ValueError(f"The model was fitted with {n_cov} covariate channel(s); "
                                 "pass X.")
            if fitting:
                self.n_covariates_ = 0
            return [np.empty((len(t), 0)) for t in targets]
        if not fitting and not n_cov:
            raise ValueError("The model was fitted without covariates; do not pass X.")
        covariates, _ = as_series_list(X, "X", n_channels=n_cov, owner=self)
        lengths = [(len(c), len(t)) for c, t in zip(covariates, targets)]
        if len(covariates) != len(targets) or any(a != b for a, b in lengths):
            raise ValueError(
                f"X must have one row per step of y: got {len(covariates)} covariate "
                f"series for {len(targets)} target series, lengths {lengths}."
            )
        if fitting:
            self.n_covariates_ = covariates[0].shape[1]
        return covariates

    def _set_scaling(self, targets, covariates, ends) -> None:
        def stats(parts):
            values = np.concatenate(parts)
            if not self.standardize or values.shape[1] == 0:
                return np.zeros(values.shape[1]), np.ones(values.shape[1])
            scale = np.nanstd(values, axis=0)
            return np.nanmean(values, axis=0), np.where(scale > 0, scale, 1.0)

        self.target_mean_, self.target_scale_ = stats([t[:e] for t, e in zip(targets, ends)])
        self.covariate_mean_, self.covariate_scale_ = stats(
            [c[:e] for c, e in zip(covariates, ends)])

    def _inputs(self, targets, covariates) -> np.ndarray:
        """Encoder input of one series: scaled covariates, then scaled targets."""
        return np.concatenate([(covariates - self.covariate_mean_) / self.covariate_scale_,
                               (targets - self.target_mean_) / self.target_scale_], axis=1)

    def _embed(self, inputs: np.ndarray) -> np.ndarray:
        """Causal embedding of every step of one series, (T, D)."""
        return causal_encode(self.encoder_, inputs[None], padding=self.padding,
                             batch_size=self.batch_size)[0]

    def _embed_last(self, windows) -> np.ndarray:
        """Causal embedding of the last step of each window (left NaN-padded)."""
        width = self.padding + 1
        stacked = np.full((len(windows), width, windows[0].shape[1]), np.nan, np.float32)
        for i, w in enumerate(windows):
            stacked[i, width - len(w):] = w
        # A window is not a user series: its last step is read even when missing.
        return self.encoder_.encode(stacked, level="timestamp", batch_size=self.batch_size,
                                    mask_padding=False)[:, -1]

    def _fit_head(self, features, targets, ends, h) -> Ridge:
        """Ridge of horizon ``h``: penalty chosen on the tails, optionally refitted."""
        def rows(parts, drop):
            X, Y = zip(*(forecast_samples(f[None], t[None], h, drop) for f, t in parts))
            # One series: no concatenation copy (Y holds horizon x n_targets columns).
            X, Y = (X[0], Y[0]) if len(X) == 1 else (np.concatenate(X), np.concatenate(Y))
            keep = ~(np.isnan(X).any(axis=1) | np.isnan(Y).any(axis=1))
            return (X, Y) if keep.all() else (X[keep], Y[keep])

        train = rows([(f[:e], t[:e]) for f, t, e in zip(features, targets, ends)], self.padding)
        valid = rows([(f[e:], t[e:]) for f, t, e in zip(features, targets, ends)], 0)
        if len(train[0]) == 0 or len(valid[0]) == 0:
            raise ValueError(f"No complete (observed) training or validation row for "
                             f"horizon {h}; pass series with fewer missing values.")
        head = fit_ridge(*train, *valid, alphas=self.alphas, max_samples=self.max_samples)
        if self.refit:  # one candidate penalty: a plain (subsampled) fit on all rows
            both = rows(list(zip(features, targets)), self.padding)
            head = fit_ridge(*both, *both, alphas=[head.alpha], max_samples=self.max_samples)
        return head

    def _heads(self, horizon) -> list[tuple[int, Ridge]]:
        """``(h, head)`` for each requested horizon: the shortest head covering ``h``."""
        requested = [self.horizons_[-1]] if horizon is None else (
            list(horizon) if _is_sequence(horizon) else [horizon])
        heads = []
        for h in requested:
            if isinstance(h, (bool, np.bool_)) or not isinstance(h, Integral) or h < 1:
                raise ValueError(f"horizon must be a positive integer, got {h!r}.")
            covering = [c for c in self.horizons_ if c >= h]
            if not covering:
                raise ValueError(
                    f"horizon={h} is longer than the longest fitted horizon "
                    f"{self.horizons_[-1]}; refit with horizon={h} (or a list holding it)."
                )
            heads.append((int(h), self.heads_[covering[0]]))
        return heads

    def _rolling(self, targets, covariates, heads) -> list[list[np.ndarray]]:
        """For each head, forecasts from every step of each series, (T, h, n_targets)."""
        outputs = [[] for _ in heads]
        for t, c in zip(targets, covariates):
            features = self._embed(self._inputs(t, c))  # once for every horizon
            valid = ~np.isnan(features).any(axis=1)
            for (h, head), out in zip(heads, outputs):
                forecasts = np.full((len(t), h, self.n_features_in_), np.nan)
                forecasts[valid] = self._forecast(head, features[valid])[:, :h]
                out.append(forecasts)
        return outputs

    def _forecast(self, head, features) -> np.ndarray:
        """(n, D) embeddings -> (n, H_head, n_targets) forecasts on the original scale."""
        out = head.predict(features).reshape(len(features), -1, self.n_features_in_)
        return out * self.target_scale_ + self.target_mean_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        return tags


def _is_sequence(horizon) -> bool:
    return isinstance(horizon, (list, tuple, np.ndarray))
