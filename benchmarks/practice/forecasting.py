"""ETT forecasting: :class:`sslts.EmbeddingForecaster` against naive forecasts and a lag ridge.

Protocol (TS2Vec's, as :func:`sslts.evaluation.load_ett` prepares the data)
--------------------------------------------------------------------------
- Data: ETTh1, ETTh2, ETTm1, ETTm2; 12 / 4 / 4 months of 30 days for train /
  validation / test; targets (``OT``, or all 7 channels) and the 7 calendar
  covariates standardised with training statistics; MSE and MAE on that scale.
- Forecast origins: every test step ``t`` with ``t + H`` inside the test months
  forecasts steps ``t + 1 .. t + H`` (the same origins for every arm and horizon ``H``).
- Arms:

  * ``EmbeddingForecaster`` arms (``TS2VecTransformer`` encoder seeded per run),
    fitted on train + validation months with ``valid_size`` = the validation
    months and the calendar covariates as input channels; each arm's constructor
    arguments (``lags=200``, ``baseline=None``, ``encoder__n_iters=...``) come from
    the command line, and arms with the same encoder arguments share one fitted
    encoder per seed.  Every row's ``params`` names the heads' options
    (``baseline``, ``season``, ``lags``, ``use_embedding``) whether or not they are
    the defaults, and ``uses_embedding`` what each horizon's validation chose;
    heads on the lags alone (``use_embedding=False``) get no encoder and no
    covariates (they read neither), so they have no seed;
  * last value: every step ahead repeats ``y_t``;
  * seasonal naive: step ``j`` ahead repeats the value one day earlier
    (``y_{t + j - s ceil(j / s)}``, ``s`` = 24 hourly, 96 every 15 minutes);
  * lag ridge (the DLinear family): a ridge regression from the last ``lags``
    steps of every target channel to the next ``H`` steps, its penalty chosen the
    way the forecaster chooses its heads' (:data:`sslts.evaluation.RIDGE_ALPHAS`,
    validation RMSE + MAE on the validation months, refitted on train + validation
    when the forecaster refits).  :class:`LagRidge` solves it from chunked
    sufficient statistics, so ETTm's ``lags x channels`` design matrix is never
    stored.

- Deterministic arms (the baselines, heads on the lags alone) run once (seed 0);
  the forecaster arms with an encoder once per seed.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import replace

import numpy as np
from sklearn.frozen import FrozenEstimator

from sslts import EmbeddingForecaster, TS2VecTransformer
from sslts.evaluation import RIDGE_ALPHAS, load_ett

from ..provenance import git_commit
from .common import ResultStore, changed_params, plain_params, warm_up_torch

__all__ = ["FIELDS", "KEY", "LagRidge", "forecast_errors", "last_value", "run_forecasting",
           "seasonal_naive", "shrink"]

FIELDS = ["dataset", "setting", "arm", "seed", "horizon", "mse", "mae", "alpha", "baseline",
          "uses_embedding", "fit_seconds", "predict_seconds", "n_iter", "params", "commit", "error"]
KEY = ["dataset", "setting", "arm", "seed", "horizon"]
SEASON = {"h": 24, "m": 96}
HEAD_OPTIONS = ("baseline", "season", "lags", "use_embedding")
"""The forecaster's head options, recorded in every row whatever their values."""
_CHUNK = 2048


def last_value(targets: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """``(n_origins, horizon, n_channels)``: ``targets[t]`` repeated.

    Examples
    --------
    >>> last_value(np.arange(6.0)[:, None], np.array([2, 3]), 2)[..., 0]
    array([[2., 2.],
           [3., 3.]])
    """
    return np.repeat(targets[origins][:, None], horizon, axis=1)


def seasonal_naive(targets: np.ndarray, origins: np.ndarray, horizon: int,
                   season: int) -> np.ndarray:
    """``(n_origins, horizon, n_channels)``: step ``j`` ahead is ``targets[t + j - s ceil(j/s)]``.

    Examples
    --------
    >>> seasonal_naive(np.arange(8.0)[:, None], np.array([4]), 3, 2)[0, :, 0]
    array([3., 4., 3.])
    """
    steps = np.arange(1, horizon + 1)
    back = steps - season * np.ceil(steps / season).astype(int)  # in [-season + 1, 0]
    return targets[origins[:, None] + back[None]]


def _lag_rows(targets, origins, lags):
    """``(n, lags * C)`` rows of the last ``lags`` steps (oldest first) at each origin."""
    return targets[origins[:, None] + np.arange(1 - lags, 1)[None]].reshape(len(origins), -1)


def _future_rows(targets, origins, horizon):
    return targets[origins[:, None] + np.arange(1, horizon + 1)[None]].reshape(
        len(origins), -1)


class LagRidge:
    """Ridge regression of the next ``horizon`` steps on the last ``lags`` steps.

    Equivalent to ``sklearn.linear_model.Ridge`` (intercept, penalty chosen by
    validation RMSE + MAE as :func:`sslts.evaluation.fit_ridge`), solved from
    ``X^T X`` and ``X^T Y`` accumulated over chunks of origins and one eigen-
    decomposition, so that neither the ``(n, lags * C)`` inputs nor the
    ``(n, horizon * C)`` outputs are ever held whole.

    Parameters
    ----------
    lags : int
        Past steps of every target channel (the current one included).
    horizon : int
    alphas : sequence of float, default=RIDGE_ALPHAS

    Attributes
    ----------
    alpha_ : float
        The chosen penalty.
    coef_ : ndarray of shape (lags * n_channels, horizon * n_channels)
    intercept_ : ndarray of shape (horizon * n_channels,)

    Examples
    --------
    >>> y = np.sin(np.arange(300) / 4.0)[:, None]
    >>> model = LagRidge(8, 3).fit(y, np.arange(7, 200), np.arange(200, 296))
    >>> model.predict(y, np.array([296])).shape
    (1, 3, 1)
    >>> bool(np.abs(model.predict(y, np.array([296]))[0, :, 0] - y[297:300, 0]).max() < 0.01)
    True
    """

    def __init__(self, lags: int, horizon: int, alphas=RIDGE_ALPHAS):
        self.lags, self.horizon, self.alphas = lags, horizon, tuple(alphas)

    def _stats(self, targets, origins):
        p, q = self.lags * targets.shape[1], self.horizon * targets.shape[1]
        sx, sy, xx, xy = np.zeros(p), np.zeros(q), np.zeros((p, p)), np.zeros((p, q))
        for start in range(0, len(origins), _CHUNK):
            chunk = origins[start : start + _CHUNK]
            X = _lag_rows(targets, chunk, self.lags)
            Y = _future_rows(targets, chunk, self.horizon)
            sx += X.sum(0)
            sy += Y.sum(0)
            xx += X.T @ X
            xy += X.T @ Y
        n = len(origins)
        mx, my = sx / n, sy / n
        return mx, my, xx - n * np.outer(mx, mx), xy - n * np.outer(mx, my)

    def _solve(self, targets, origins):
        mx, my, sxx, sxy = self._stats(targets, origins)
        eigval, eigvec = np.linalg.eigh(sxx)
        return mx, my, np.maximum(eigval, 0.0), eigvec, eigvec.T @ sxy

    def _set(self, mx, my, eigval, eigvec, projected, alpha):
        self.alpha_ = float(alpha)
        self.coef_ = eigvec @ (projected / (eigval + alpha)[:, None])
        self.intercept_ = my - mx @ self.coef_

    def fit(self, targets, train_origins, valid_origins, refit_origins=None):
        """Choose the penalty on ``valid_origins``; fit on train (or ``refit_origins``).

        Parameters
        ----------
        targets : ndarray of shape (n_timestamps, n_channels)
        train_origins, valid_origins : ndarray of int
            Origins ``t`` (``t - lags + 1 >= 0``, ``t + horizon < n_timestamps``).
        refit_origins : ndarray of int, default=None
            Refit with the chosen penalty on these origins.

        Returns
        -------
        self
        """
        mx, my, eigval, eigvec, projected = self._solve(targets, train_origins)
        sq, ab, count = np.zeros(len(self.alphas)), np.zeros(len(self.alphas)), 0
        for start in range(0, len(valid_origins), _CHUNK):
            chunk = valid_origins[start : start + _CHUNK]
            rotated = (_lag_rows(targets, chunk, self.lags) - mx) @ eigvec
            truth = _future_rows(targets, chunk, self.horizon) - my
            for i, alpha in enumerate(self.alphas):
                err = (rotated / (eigval + alpha)) @ projected - truth
                sq[i] += np.sum(err**2)
                ab[i] += np.sum(np.abs(err))
            count += truth.size
        scores = np.sqrt(sq / count) + ab / count
        best = self.alphas[int(np.argmin(scores))]  # first of ties, as fit_ridge
        if refit_origins is not None:
            mx, my, eigval, eigvec, projected = self._solve(targets, refit_origins)
        self._set(mx, my, eigval, eigvec, projected, best)
        return self

    def predict(self, targets, origins) -> np.ndarray:
        """``(n_origins, horizon, n_channels)`` forecasts from each origin."""
        out = [_lag_rows(targets, origins[s : s + _CHUNK], self.lags) @ self.coef_
               + self.intercept_ for s in range(0, len(origins), _CHUNK)]
        return np.concatenate(out).reshape(len(origins), self.horizon, targets.shape[1])


def forecast_errors(predict, targets, origins, horizon) -> tuple[float, float]:
    """MSE and MAE of ``predict(origins_chunk) -> (n, horizon, C)`` over all origins."""
    sq = ab = 0.0
    for start in range(0, len(origins), _CHUNK):
        chunk = origins[start : start + _CHUNK]
        err = predict(chunk).reshape(len(chunk), -1) - _future_rows(targets, chunk, horizon)
        sq += float(np.sum(err**2))
        ab += float(np.sum(np.abs(err)))
    n = len(origins) * horizon * targets.shape[1]
    return sq / n, ab / n


def shrink(ds, train: int, valid: int, test: int, horizons=None):
    """The first ``train + valid + test`` steps of a dataset, for smoke runs and tests."""
    total = train + valid + test
    return replace(ds, data=ds.data[:, :total], train=slice(0, train),
                   valid=slice(train, train + valid), test=slice(train + valid, total),
                   horizons=tuple(horizons or ds.horizons))


def test_origins(ds, horizon: int) -> np.ndarray:
    """Every test step ``t`` with ``t + horizon`` inside the test months."""
    return np.arange(ds.test.start, ds.test.stop - horizon)


def make_forecaster(params: dict, seed: int, horizons, valid_size: int, encoder=None):
    """The user's ``EmbeddingForecaster`` with ``params``; its encoder seeded.

    A fitted ``encoder`` is used frozen (``encoder__*`` parameters are then ignored);
    heads that never read the embedding (``use_embedding=False``) get no encoder.
    """
    nested = {k: v for k, v in params.items() if k.startswith("encoder__")}
    forecaster = EmbeddingForecaster(horizon=list(horizons), valid_size=valid_size,
                                     **{k: v for k, v in params.items() if k not in nested})
    if forecaster.use_embedding is False:
        return forecaster
    if encoder is not None:
        return forecaster.set_params(encoder=FrozenEstimator(encoder))
    if forecaster.encoder is None:  # the documented default, made reproducible
        forecaster.set_params(encoder=TS2VecTransformer())
    return forecaster.set_params(encoder__random_state=seed, **nested)


def encoder_key(params: dict, covariates: bool) -> str:
    """Arms with equal keys train the same encoder (on one dataset, setting and seed)."""
    params = dict(params)
    covariates = bool(params.pop("covariates", covariates))
    nested = {k: v for k, v in params.items() if k.startswith("encoder__")}
    return json.dumps({"covariates": covariates, **plain_params(nested)}, sort_keys=True)


def run_embedding(ds, params, seed, covariates: bool, shared=None) -> list[dict]:
    """Fit the forecaster on train + validation; errors per horizon on the test origins.

    ``params`` may hold ``covariates`` (a bool), which overrides ``covariates`` for
    this arm; the rest are the forecaster's parameters.  ``shared`` is a fitted
    encoder of an earlier arm with the same encoder and inputs: it is used frozen, and
    its fit seconds are added to this arm's.  Returns the rows and the fitted encoder
    (None for heads on the lags alone, which get neither an encoder nor covariates).
    """
    params = dict(params)
    covariates = bool(params.pop("covariates", covariates))
    k, data = ds.n_covariates, ds.data[0]
    model = make_forecaster(params, seed, ds.horizons, ds.valid.stop - ds.valid.start,
                            encoder=shared)
    covariates = covariates and model.use_embedding is not False
    shared = shared if model.use_embedding is not False else None
    cov = (lambda part: part[:, :k]) if covariates else (lambda part: None)
    start = time.perf_counter()
    model.fit(data[: ds.valid.stop, k:], X=cov(data[: ds.valid.stop]))
    fit_seconds = time.perf_counter() - start + (shared.fit_time_ if shared else 0.0)
    first = ds.test.start - max(model.padding, model.lags_, model.season or 0)
    history = data[first : ds.test.stop]
    start = time.perf_counter()
    rolled = model.rolling_predict(history[:, k:], X=cov(history), horizon=list(ds.horizons))
    predict_seconds = time.perf_counter() - start
    encoder = model.encoder_.estimator if shared is not None else model.encoder_
    described = changed_params(model) if shared is None else {
        **plain_params(params), "encoder": "shared with an earlier arm"}
    described.update(plain_params({k: model.get_params()[k] for k in HEAD_OPTIONS}))
    rows = []
    for h in ds.horizons:
        forecasts = np.asarray(rolled[h]).reshape(len(history), h, -1)
        mse, mae = forecast_errors(lambda o, f=forecasts: f[o - first], data[:, k:],
                                   test_origins(ds, h), h)
        rows.append({"horizon": h, "mse": mse, "mae": mae, "alpha": model.alphas_[h],
                     "baseline": model.baselines_[h] or "",
                     "uses_embedding": model.uses_embedding_[h],
                     "fit_seconds": fit_seconds, "predict_seconds": predict_seconds,
                     "n_iter": int(encoder.n_iter_) if encoder else 0, "params": json.dumps(
                         {**described, "covariates": covariates}, sort_keys=True)})
    return rows, encoder


def run_baseline(ds, arm: str, *, season: int, lags: int, refit: bool) -> list[dict]:
    """One deterministic baseline at every horizon."""
    k = ds.n_covariates
    targets = ds.data[0, :, k:].astype(np.float64)
    rows = []
    for h in ds.horizons:
        start, alpha, params = time.perf_counter(), None, {}
        if arm == "last_value":
            predict = lambda o, h=h: last_value(targets, o, h)  # noqa: E731
        elif arm == "seasonal_naive":
            predict, params = (lambda o, h=h: seasonal_naive(targets, o, h, season)), {
                "season": season}
        else:
            model = LagRidge(lags, h).fit(
                targets, np.arange(lags - 1, ds.valid.start - h),
                np.arange(ds.valid.start, ds.valid.stop - h),
                np.arange(lags - 1, ds.valid.stop - h) if refit else None)
            predict = lambda o, m=model: m.predict(targets, o)  # noqa: E731
            alpha, params = model.alpha_, {"lags": lags, "refit": refit}
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        mse, mae = forecast_errors(predict, targets, test_origins(ds, h), h)
        rows.append({"horizon": h, "mse": mse, "mae": mae, "alpha": alpha,
                     "fit_seconds": fit_seconds,
                     "predict_seconds": time.perf_counter() - start,
                     "params": json.dumps(params, sort_keys=True)})
    return rows


def run_forecasting(store: ResultStore, datasets, settings, seeds, embedding_arms, data_home,
                    *, lags: int = 336, covariates: bool = True, prepare=None,
                    log=print) -> None:
    """Compute every missing row and append it to ``store``.

    Parameters
    ----------
    store : ResultStore
        With :data:`FIELDS` and :data:`KEY`.
    datasets : sequence of str
        ETT names.
    settings : sequence of {"univariate", "multivariate"}
    seeds : sequence of int
        Seeds of the forecaster arms.
    embedding_arms : dict
        Arm label -> ``EmbeddingForecaster`` parameters (``encoder__*`` for the encoder).
    data_home : path-like
    lags : int, default=336
        Past steps of the lag ridge (DLinear's look-back window).
    covariates : bool, default=True
        Give the forecaster the calendar covariates, as TS2Vec's protocol does.
    prepare : callable, default=None
        ``ForecastData -> ForecastData`` applied after loading (e.g. :func:`shrink`).
    log : callable
    """
    commit = git_commit()
    warm_up_torch()
    for name in datasets:
        for setting in settings:
            ds = load_ett(name, data_home, univariate=setting == "univariate")
            ds = prepare(ds) if prepare else ds
            models = {label: make_forecaster(
                {k: v for k, v in p.items() if k != "covariates"}, 0, ds.horizons, 1)
                for label, p in embedding_arms.items()}
            refit = {label: m.refit for label, m in models.items()}
            # Seed by seed, so that the arms sharing an encoder run one after the other;
            # heads on the lags alone have no encoder, hence no seed: they run once.
            jobs = [(arm, 0) for arm in ("last_value", "seasonal_naive", "lag_ridge")]
            jobs += [(label, 0) for label, m in models.items() if m.use_embedding is False]
            jobs += [(label, seed) for seed in seeds for label, m in models.items()
                     if m.use_embedding is not False]
            encoders = {}
            for arm, seed in jobs:
                if all(store.done(dataset=name, setting=setting, arm=arm, seed=seed,
                                  horizon=h) for h in ds.horizons):
                    continue
                base = {"dataset": name, "setting": setting, "arm": arm, "seed": seed,
                        "commit": commit}
                try:
                    if arm in embedding_arms:
                        key = (seed, encoder_key(embedding_arms[arm], covariates))
                        rows, encoder = run_embedding(
                            ds, embedding_arms[arm], seed, covariates, encoders.get(key))
                        encoders[key] = encoder or encoders.get(key)
                    else:  # the ridge refits as the (first) forecaster arm does
                        rows = run_baseline(ds, arm, season=SEASON[name[3]], lags=lags,
                                            refit=next(iter(refit.values()), True))
                except Exception as exc:  # record it, retry on the next run, go on
                    traceback.print_exc()
                    rows = [{"horizon": h, "error": f"{type(exc).__name__}: {exc}"[:300]}
                            for h in ds.horizons]
                for row in rows:
                    if not store.done(**base, horizon=row["horizon"]):
                        store.add({**base, **row})
                log(f"{name} {setting:12s} {arm:20s} seed {seed}: " + ", ".join(
                    f"H={r['horizon']} {r.get('mse', float('nan')):.4f}" for r in rows))
