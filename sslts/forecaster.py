"""Forecasting with self-supervised timestamp embeddings and ridge heads (TS2Vec's protocol)."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._wrapping import as_series_list, fit_encoder, restore_shape
from .base import store_init_arguments
from .encoding import causal_encode
from .forecast_head import RIDGE_ALPHAS, forecast_samples, head_inputs, naive_forecast
from .forecast_selection import check_alphas, check_horizons, fit_head, head_candidates
from .utils.validation import StrictParamsMixin

__all__ = ["EmbeddingForecaster"]


class EmbeddingForecaster(StrictParamsMixin, BaseEstimator):
    """Forecast the next steps of series from the causal embedding of their last step.

    TS2Vec's forecasting protocol as an estimator, made robust: a self-supervised
    encoder is fitted on the series (covariates, if any, are extra input channels
    before the targets); every timestamp ``t`` is represented by the embedding of the
    last step of its causal window ``[t - padding, t]``, and for each horizon ``H`` a
    ridge regression maps that embedding to the next ``H`` values of the targets.
    The ridge penalty is chosen on a validation tail held out from every series, by
    RMSE + MAE.

    By default each head is anchored on the last value (``baseline``): it learns the
    correction to that naive forecast from the recent values (``lags``, the encoder's
    window by default), and the naive forecast itself is a validated candidate.  The
    embedding is read with ``use_embedding=True``, or with ``"auto"``, which validates
    per horizon the head on the embedding and the lags against the head on the lags
    alone.  The default leaves the embedding out, and then fits no encoder: on the ETT
    benchmarks the heads on the lags alone forecast as well as or better than heads
    reading a TS2Vec embedding wherever both ran, which often won on the validation
    tail and lost on the later test months (see the user guide's "When to use sslts").
    ``baseline=None, lags=0, use_embedding=True`` is TS2Vec's protocol exactly.

    Parameters
    ----------
    encoder : sslts estimator, default=None
        The self-supervised encoder; a clone is fitted on the part of the series
        before the validation tail when the heads may read its embedding
        (``use_embedding`` True or "auto").  A fitted encoder wrapped in
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
    baseline : {"last_value", "seasonal_naive", "auto"} or None, default="auto"
        None: the heads predict the values themselves (TS2Vec's protocol).
        Otherwise the naive forecast each head corrects: ``"last_value"`` repeats
        the last value, ``"seasonal_naive"`` the values one ``season`` earlier,
        ``"auto"`` validates both (the seasonal one only when ``season`` is given).
        The head predicts the difference between the future and that forecast, and
        predicting no difference (the naive forecast itself, ``alphas_[h] = inf``) is
        a validated candidate.  The forecast is NaN where the value it repeats is.
    season : int, default=None
        Period of ``"seasonal_naive"`` in steps (24 for a daily cycle of hourly
        data); ignored by the other baselines.
    lags : int or "padding", default="padding"
        The heads read the ``lags`` values of every target before the last one,
        relative to it (``y[t - k] - y[t]``: their shape, not their level), beside
        the embedding when they read it; forecasts then start ``lags`` steps into a
        series.  "padding": as many as the encoder's window holds
        (``lags_ = padding``), so that the heads read the same past raw and embedded.
    use_embedding : "auto" or bool, default=False
        Whether the heads read the embedding.  False: the heads read the lags alone
        (needs ``lags > 0``); the encoder is then not fitted and covariates are not
        used, since they reach the heads only through the embedding.  "auto"
        validates, per horizon, a head on the embedding and the lags against a head
        on the lags alone (with ``lags=0`` the heads read the embedding).
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
    encoder_ : sslts estimator or None
        The fitted encoder; None with ``use_embedding=False``.
    horizons_ : tuple of int
        Fitted horizons, increasing.
    lags_ : int
        The number of lags the heads read.
    heads_ : dict of int to Ridge or None
        The head of each horizon; its output is ``(horizon, n_targets)`` flattened
        (the correction to ``baselines_[h]`` when there is one).  None: the naive
        forecast is used as it is.
    alphas_ : dict of int to float
        Chosen penalty of each horizon (``inf`` where the head is None).
    baselines_ : dict of int to str or None
        The naive forecast each head corrects.
    uses_embedding_ : dict of int to bool
        Whether each head reads the embedding (False: the lags alone, or no head).
    last_embedding_ : ndarray of shape (n_series, n_features)
        Embedding of the last step of every training series (for :meth:`predict`
        without ``y``); ``n_features`` is 0 without an encoder.
    last_targets_ : ndarray of shape (n_series, n_memory, n_targets)
        The last standardised target values of every training series that the
        naive forecasts and the lags read (NaN-padded on the left).
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
    >>> truth = np.sin(2 * np.pi * np.arange(300, 312) / 24)

    By default the heads read the last 30 values (``lags="padding"``) and no
    encoder is fitted:

    >>> fc = EmbeddingForecaster(horizon=12, padding=30, valid_size=60).fit(y)
    >>> fc.predict().shape, fc.encoder_
    ((12,), None)
    >>> bool(np.abs(fc.predict() - truth).max() < 0.3)
    True

    With an encoder, ``use_embedding="auto"`` validates the heads that read its
    embedding against those that do not:

    >>> fc = EmbeddingForecaster(enc, horizon=12, padding=30, valid_size=60,
    ...                          use_embedding="auto").fit(y)
    >>> fc.encoder_.n_iter_, fc.last_embedding_.shape
    (5, (1, 8))
    >>> bool(np.abs(fc.predict() - truth).max() < 0.3)
    True
    """

    _parameter_constraints: dict = {
        "encoder": [HasMethods(["fit", "encode"]), None],
        "horizon": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "padding": [Interval(Integral, 0, None, closed="left")],
        "valid_size": [Interval(Integral, 1, None, closed="left"),
                       Interval(Real, 0, 1, closed="neither")],
        "baseline": [StrOptions({"last_value", "seasonal_naive", "auto"}), None],
        "season": [Interval(Integral, 1, None, closed="left"), None],
        "lags": [Interval(Integral, 0, None, closed="left"), StrOptions({"padding"})],
        "use_embedding": [StrOptions({"auto"}), "boolean"],
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
        baseline="auto",
        season=None,
        lags="padding",
        use_embedding=False,
        alphas=RIDGE_ALPHAS,
        refit=True,
        standardize=True,
        max_samples=100_000,
        batch_size=None,
    ):
        store_init_arguments(self, locals())

    def fit(self, y, X=None):
        """Fit the encoder (when the heads may read it) and one ridge head per horizon.

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
        horizons, alphas = check_horizons(self.horizon), check_alphas(self.alphas)
        self.lags_ = self.padding if self.lags == "padding" else int(self.lags)
        candidates = head_candidates(self.baseline, self.season, self.lags_, self.use_embedding)
        targets, self._fit_kind = as_series_list(y, "y", owner=self)
        covariates = self._covariates(X, targets, fitting=True)
        ends = [self._fit_end(len(t), horizons[-1]) for t in targets]
        self._set_scaling(targets, covariates, ends)
        inputs = [self._inputs(t, c) for t, c in zip(targets, covariates)]
        if any(embed for _, embed in candidates):
            self.encoder_ = fit_encoder(self.encoder, [x[:end] for x, end in zip(inputs, ends)])
        else:
            self.encoder_ = None
            unused = ([f"X ({self.n_covariates_} covariate channel(s))"]
                      if self.n_covariates_ else []) + (
                ["the encoder"] if self.encoder is not None else [])
            if unused:
                # Covariates reach the heads only through the embedding.
                warnings.warn(
                    f"{' and '.join(unused)} will not be used: with use_embedding=False "
                    "the heads read the lags alone and no encoder is fitted. Pass "
                    "use_embedding='auto' (validated per horizon) or True to read the "
                    "embedding.", UserWarning, stacklevel=2)
        features = [self._embed(x) for x in inputs]
        scaled = [(t - self.target_mean_) / self.target_scale_ for t in targets]
        first = max(self.padding, self.lags_)  # earlier windows are mostly padding
        self.heads_, self.alphas_, self.baselines_, self.uses_embedding_ = {}, {}, {}, {}
        for h in horizons:
            (self.heads_[h], self.alphas_[h], self.baselines_[h], self.uses_embedding_[h]) = \
                fit_head(features, scaled, h, [(first, e - h) for e in ends],
                         [(e, len(t) - h) for t, e in zip(targets, ends)],
                         candidates=candidates, alphas=alphas, season=self.season,
                         lags=self.lags_, refit=self.refit, max_samples=self.max_samples)
        self.horizons_ = tuple(horizons)
        self.last_embedding_ = np.stack([f[-1] for f in features])
        # the steps that the naive forecasts and the lags read
        uses_season = self.baseline in ("seasonal_naive", "auto") and self.season
        size = max(self.lags_ + 1, self.season if uses_season else 1)
        self.last_targets_ = np.stack([self._memory_window(t, size) for t in scaled])
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
            Histories to forecast from (their last ``padding + 1`` steps are
            encoded, and the naive forecast and the lags read at most ``season`` or
            ``lags + 1``); None forecasts after the training series.
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
            features, kind, recent = self.last_embedding_, self._fit_kind, self.last_targets_
        else:
            targets, kind = as_series_list(y, "y", n_channels=self.n_features_in_, owner=self)
            self._check_history(targets)
            covariates = self._covariates(X, targets, fitting=False)
            windows = [self._inputs(t, c)[-(self.padding + 1) :]
                       for t, c in zip(targets, covariates)]
            features = self._embed_last(windows)
            recent = [self._memory_window((t - self.target_mean_) / self.target_scale_,
                                          self.last_targets_.shape[1]) for t in targets]
        last = np.array([len(recent[0]) - 1])
        series = [(r, last) for r in recent]
        out = {h: restore_shape(list(self._forecast(fitted, features, series)[:, :h]), kind,
                                squeeze=kind == "1d") for h, fitted in heads}
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
        end, skip = length - tail, max(self.padding, self.lags_)
        if tail < longest + 1 or end < skip + longest + 1:
            raise ValueError(
                f"A series of {length} sample(s) (time steps) is too short: the validation tail "
                f"({tail} steps, valid_size={self.valid_size!r}) must hold horizon + 1 = "
                f"{longest + 1} steps and the part before it max(padding, lags) + horizon "
                f"+ 1 = {skip + longest + 1}. Pass longer series or lower horizon, "
                "padding, lags or valid_size."
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
        """Causal embedding of every step of one series, (T, D); D = 0 without encoder."""
        if self.encoder_ is None:
            return np.empty((len(inputs), 0))
        return causal_encode(self.encoder_, inputs[None], padding=self.padding,
                             batch_size=self.batch_size)[0]

    def _embed_last(self, windows) -> np.ndarray:
        """Causal embedding of the last step of each window (left NaN-padded)."""
        if self.encoder_ is None:
            return np.empty((len(windows), 0))
        width = self.padding + 1
        stacked = np.full((len(windows), width, windows[0].shape[1]), np.nan, np.float32)
        for i, w in enumerate(windows):
            stacked[i, width - len(w):] = w
        # A window is not a user series: its last step is read even when missing.
        return self.encoder_.encode(stacked, level="timestamp", batch_size=self.batch_size,
                                    mask_padding=False)[:, -1]

    def _memory_window(self, scaled: np.ndarray, size: int) -> np.ndarray:
        """The last ``size`` steps of a scaled series (NaN-padded on the left)."""
        window = np.full((size, scaled.shape[1]), np.nan)
        tail = scaled[-size:]
        window[size - len(tail) :] = tail
        return window

    def _check_history(self, targets) -> None:
        size, shortest = self.last_targets_.shape[1], min(len(t) for t in targets)
        if shortest < size:
            raise ValueError(
                f"y holds a history of {shortest} step(s); the heads read the last {size} "
                f"(lags={self.lags_}, baseline={self.baseline!r}, season={self.season}). "
                "Pass longer histories."
            )

    def _heads(self, horizon) -> list[tuple[int, int]]:
        """``(h, fitted)`` for each requested horizon: the shortest fitted one covering it."""
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
            heads.append((int(h), covering[0]))
        return heads

    def _rolling(self, targets, covariates, heads) -> list[list[np.ndarray]]:
        """For each head, forecasts from every step of each series, (T, h, n_targets)."""
        outputs = [[] for _ in heads]
        for t, c in zip(targets, covariates):
            features = self._embed(self._inputs(t, c))  # once for every horizon
            series = [((t - self.target_mean_) / self.target_scale_, np.arange(len(t)))]
            for (h, fitted), out in zip(heads, outputs):
                out.append(self._forecast(fitted, features, series)[:, :h])
        return outputs

    def _forecast(self, h, features, series) -> np.ndarray:
        """Forecasts of the head of horizon ``h`` from the origins of scaled series.

        ``series`` holds ``(scaled series, origins)`` pairs and ``features`` the
        embeddings at all their origins, in order; returns ``(n_origins, h, n_targets)``
        on the original scale, NaN where an input or the naive forecast is missing.
        """
        head, kind = self.heads_[h], self.baselines_[h]
        out = np.zeros((len(features), h, self.n_features_in_))
        if head is not None:
            ends = np.cumsum([len(o) for _, o in series])
            inputs = np.concatenate([
                head_inputs(features[b - len(o) : b] if self.uses_embedding_[h] else None,
                            s, o, self.lags_) for (s, o), b in zip(series, ends)])
            # one predict over the complete rows (the paper's head is not asked for NaN)
            valid = ~np.isnan(inputs).any(axis=1)
            out[~valid] = np.nan
            if valid.any():
                out[valid] = head.predict(inputs[valid]).reshape(-1, h, self.n_features_in_)
        if kind is not None:
            out += np.concatenate([naive_forecast(s, o, h, kind, self.season)
                                   for s, o in series])
        return out * self.target_scale_ + self.target_mean_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        return tags


def _is_sequence(horizon) -> bool:
    return isinstance(horizon, (list, tuple, np.ndarray))
