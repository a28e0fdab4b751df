"""EmbeddingForecaster: TS2Vec's forecasting protocol as an estimator."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from sslts import TS2VecTransformer
from sslts.encoding import causal_encode
from sslts.evaluation import ForecastData, evaluate_forecasting, load_ett
from sslts.forecast_head import fit_ridge, forecast_samples, naive_forecast, select_penalty
from sslts.forecaster import EmbeddingForecaster


def tiny_encoder(**kw):
    params = dict(output_dims=4, hidden_dims=4, depth=1, n_iters=2, batch_size=4, device="cpu",
                  random_state=0)
    return TS2VecTransformer(**{**params, **kw})


def seasonal(n_timestamps=160, n_channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_timestamps)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n_channels)
    return np.sin(2 * np.pi * t / 12 + phase) + 0.1 * rng.normal(size=(n_timestamps, n_channels))


TS2VEC_HEADS = {"baseline": None, "lags": 0, "use_embedding": True}
"""TS2Vec's protocol: a ridge on the embedding alone, not anchored on a naive forecast."""


@pytest.fixture(scope="module")
def fitted():
    y = seasonal(160, 2)
    return EmbeddingForecaster(tiny_encoder(), horizon=(3, 6), padding=8, valid_size=40,
                               **TS2VEC_HEADS).fit(y), y


@pytest.fixture(scope="module")
def anchored(fitted):
    """The fixture's encoder with every opt-in head option."""
    y = seasonal(160, 2, seed=5)
    return EmbeddingForecaster(FrozenEstimator(fitted[0].encoder_), horizon=(3, 6), padding=8,
                               valid_size=40, baseline="auto", season=12, lags=5,
                               use_embedding="auto").fit(y), y


def loop_seasonal(scaled, t, h, season):
    """Step t + j repeats the latest value at or before t one or more seasons earlier."""
    out = np.full((h, scaled.shape[1]), np.nan)
    for j in range(1, h + 1):
        source = t + j
        while source > t:
            source -= season
        if source >= 0:
            out[j - 1] = scaled[source]
    return out


def loop_naive(scaled, t, h, baseline, season):
    """The naive forecast of steps t + 1 .. t + h, step by step."""
    if baseline is None:
        return np.zeros((h, scaled.shape[1]))
    if baseline == "last_value":
        return np.stack([scaled[t] for _ in range(h)])
    return loop_seasonal(scaled, t, h, season)


def loop_rows(feats, scaled, origins, h, baseline=None, season=None, lags=0, embed=True):
    """Head rows, one origin at a time: [embedding, y[t - k] - y[t]] -> future - naive."""
    X, Y = [], []
    for t in origins:
        past = [(scaled[t - lags : t] - scaled[t]).ravel()] if lags else []
        X.append(np.concatenate([feats[t] if embed else [], *past]))
        Y.append((scaled[t + 1 : t + 1 + h] - loop_naive(scaled, t, h, baseline, season)).ravel())
    return np.array(X), np.array(Y)


def validation_choice(X_tr, Y_tr, X_va, Y_va, alphas, allow_none):
    """The penalty with the best validation RMSE + MAE, by one Ridge fit per penalty."""
    scores = {}
    for alpha in alphas:
        err = Ridge(alpha=alpha).fit(X_tr, Y_tr).predict(X_va) - Y_va
        scores[alpha] = np.sqrt(np.mean(err**2)) + np.mean(np.abs(err))
    if allow_none:
        scores[np.inf] = np.sqrt(np.mean(Y_va**2)) + np.mean(np.abs(Y_va))
    return min(scores, key=scores.get), min(scores.values())


# -------------------------------------------------------------- the protocol
def test_matches_the_papers_protocol_on_ett(shared_data):
    """Configured as the paper, the estimator reproduces evaluate_forecasting's MSE."""
    full = load_ett("ETTh1", shared_data, univariate=True)
    data = full.data[:, :700]
    ds = ForecastData(data=data, n_covariates=full.n_covariates, train=slice(0, 400),
                      valid=slice(400, 550), test=slice(550, 700), horizons=(4, 9),
                      columns=full.columns)
    enc = tiny_encoder().fit(data[:, :400])
    expected = evaluate_forecasting(enc, ds, padding=12, fit=False)
    k = ds.n_covariates
    fc = EmbeddingForecaster(FrozenEstimator(enc), horizon=(4, 9), padding=12, valid_size=150,
                             refit=False, standardize=False, **TS2VEC_HEADS)
    fc.fit(data[0, :550, k:], X=data[0, :550, :k])
    history = slice(550 - 12, 700)  # the test part and the context of its first window
    for h in (4, 9):
        pred = fc.rolling_predict(data[0, history, k:], X=data[0, history, :k], horizon=h)
        rows = np.arange(12, 150 + 12 - h)  # forecast origins inside the test part
        truth = np.stack([data[0, history, k][r + 1 : r + 1 + h] for r in rows])
        mse = float(np.mean((pred[rows, :, 0] - truth) ** 2))
        assert fc.alphas_[h] == expected["horizons"][h]["alpha"]
        assert mse == pytest.approx(expected["horizons"][h]["mse"], rel=1e-5)


@pytest.mark.parametrize("refit", [True, False])
def test_ts2vec_heads_are_ts2vecs_bit_for_bit(fitted, refit):
    """TS2VEC_HEADS: heads, penalties and forecasts of TS2Vec's rule as
    sslts.evaluation runs it (forecast_samples rows, fit_ridge), equal to the bit."""
    enc = fitted[0].encoder_
    ys = [seasonal(160, 2, seed=1), seasonal(130, 2, seed=2)]
    fc = EmbeddingForecaster(FrozenEstimator(enc), horizon=(3, 6), padding=8, valid_size=40,
                             refit=refit, **TS2VEC_HEADS).fit(ys)
    scaled = [(y - fc.target_mean_) / fc.target_scale_ for y in ys]
    feats = [causal_encode(enc, s[None], padding=8)[0] for s in scaled]

    def samples(part, drop, h):
        X, Y = zip(*(forecast_samples(f[None, part], s[None, part], h, drop)
                     for f, s in zip(feats, scaled)))
        return np.concatenate(X), np.concatenate(Y)

    for h in (3, 6):
        head = fit_ridge(*samples(slice(None, -40), 8, h), *samples(slice(-40, None), 0, h))
        if refit:
            head = fit_ridge(*samples(slice(None), 8, h), *samples(slice(None), 8, h),
                             alphas=[head.alpha])
        assert fc.alphas_[h] == head.alpha and fc.baselines_[h] is None
        np.testing.assert_array_equal(fc.heads_[h].coef_, head.coef_)
        np.testing.assert_array_equal(fc.heads_[h].intercept_, head.intercept_)
        expected = [head.predict(f).reshape(len(f), h, 2) * fc.target_scale_ + fc.target_mean_
                    for f in feats]
        for rolled, e in zip(fc.rolling_predict(ys, horizon=h), expected, strict=True):
            np.testing.assert_array_equal(rolled, e)
        np.testing.assert_array_equal(fc.predict(h), np.stack([e[-1] for e in expected]))


def test_the_default_reads_the_lags_alone_and_fits_no_encoder(monkeypatch):
    """Defaults: a head on as many lags as the encoder's window, anchored on the last
    value and validated against it; no encoder is fitted or run."""
    for est in (EmbeddingForecaster(), *_sktime_forecaster()):
        params = est.get_params()
        assert (params["baseline"], params["lags"], params["use_embedding"]) == (
            "auto", "padding", False)

    def no_encoder(*args, **kwargs):
        raise AssertionError("the encoder was used")

    monkeypatch.setattr(TS2VecTransformer, "fit", no_encoder)
    monkeypatch.setattr(TS2VecTransformer, "encode", no_encoder)
    y = seasonal(160, 2, seed=3)
    fc = EmbeddingForecaster(horizon=(3, 6), padding=8, valid_size=40).fit(y)
    assert fc.encoder_ is None and fc.lags_ == 8 and fc.last_embedding_.shape == (1, 0)
    assert set(fc.baselines_.values()) == {"last_value"}
    assert not any(fc.uses_embedding_.values())
    same = EmbeddingForecaster(horizon=(3, 6), padding=8, valid_size=40,
                               baseline="last_value", lags=8).fit(y)
    np.testing.assert_array_equal(fc.rolling_predict(y, horizon=6),
                                  same.rolling_predict(y, horizon=6))
    assert fc.predict(y=y[:100]).shape == (6, 2)


def test_an_encoder_or_covariates_the_heads_never_read_are_warned_about():
    y = seasonal(150, 1, seed=2)
    X = np.arange(150)[:, None] % 12 / 12.0
    for encoder, data, match in [(tiny_encoder(), (y,), "the encoder will not be used"),
                                 (None, (y, X), r"X \(1 covariate channel\(s\)\) will not")]:
        fc = EmbeddingForecaster(encoder, horizon=3, padding=6, valid_size=30)
        with pytest.warns(UserWarning, match=match):
            fc.fit(*data)
        assert fc.encoder_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EmbeddingForecaster(horizon=3, padding=6, valid_size=30).fit(y)


def _sktime_forecaster():
    try:
        from sslts.sktime import EmbeddingForecaster as SktimeForecaster
    except ImportError:
        return ()
    return (SktimeForecaster(),)


@pytest.mark.parametrize("kind, season", [("last_value", None), ("seasonal_naive", 1),
                                          ("seasonal_naive", 5), ("seasonal_naive", 24)])
def test_naive_forecasts_against_a_loop(kind, season):
    y = np.random.default_rng(0).normal(size=(40, 2))
    out = naive_forecast(y, np.arange(40), 7, kind, season)
    for t in range(40):
        np.testing.assert_array_equal(out[t], loop_naive(y, t, 7, kind, season))
    assert np.isnan(out).any() == (kind == "seasonal_naive" and season > 1)


def test_select_penalty_scores_as_one_ridge_per_penalty():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(90, 5)) + 3, rng.normal(size=(90, 4))
    Y[:, :2] += X[:, :2] @ rng.normal(size=(2, 2))
    for allow_none in (False, True):
        alpha, score = select_penalty(X[:60], Y[:60], X[60:], Y[60:], alphas=(0.1, 10, 1e4),
                                      allow_none=allow_none)
        ref = validation_choice(X[:60], Y[:60], X[60:], Y[60:], (0.1, 10, 1e4), allow_none)
        assert alpha == ref[0] and score == pytest.approx(ref[1], rel=1e-10)
    # Outputs the naive forecast already gets right: no head beats predicting 0.
    assert select_penalty(X[:60], Y[:60], X[60:], 0 * Y[60:], allow_none=True)[0] == np.inf


def test_heads_equal_ridges_on_rows_built_by_a_loop(fitted):
    fc, y = fitted
    scaled = (y - fc.target_mean_) / fc.target_scale_
    feats = causal_encode(fc.encoder_, scaled[None], padding=8)[0]
    for h in (3, 6):
        # refit=True: every row of the series; float32 features, as the protocol's.
        X, Y = loop_rows(feats, scaled, range(8, len(y) - h), h)
        ref = Ridge(alpha=fc.alphas_[h]).fit(X.astype(np.float32), Y)
        np.testing.assert_allclose(fc.heads_[h].coef_, ref.coef_, rtol=1e-5, atol=1e-7)


def test_alpha_is_chosen_on_the_validation_tail(fitted):
    fc, y = fitted
    scaled = (y - fc.target_mean_) / fc.target_scale_
    feats = causal_encode(fc.encoder_, scaled[None], padding=8)[0].astype(np.float64)
    h, end = 6, 120
    train = loop_rows(feats, scaled, range(8, end - h), h)
    valid = loop_rows(feats, scaled, range(end, len(y) - h), h)
    assert fc.alphas_[h] == validation_choice(*train, *valid, fc.alphas, False)[0]
    assert fc.baselines_ == {3: None, 6: None}


@pytest.mark.parametrize("baseline, season, lags, use_embedding, refit", [
    ("last_value", None, 0, True, True), ("seasonal_naive", 12, 0, True, True),
    ("seasonal_naive", 12, 0, True, False), ("last_value", None, 10, True, True),
    ("auto", 12, 3, "auto", True), ("last_value", None, 20, "auto", True),
    ("last_value", None, 6, False, False), (None, None, 4, True, True)])
def test_anchored_heads_against_a_loop(fitted, baseline, season, lags, use_embedding, refit):
    """Baseline, lags, inputs and the no-head candidate: chosen and fitted as a loop does."""
    enc, y = fitted[0].encoder_, seasonal(160, 2)
    y[:, 1] += np.linspace(0, 3, 160)  # a trend: the level alone misleads
    encoder = FrozenEstimator(enc) if use_embedding is not False else None
    fc = EmbeddingForecaster(encoder, horizon=(3, 6), padding=8, valid_size=40,
                             baseline=baseline, season=season, lags=lags,
                             use_embedding=use_embedding, refit=refit).fit(y)
    scaled = (y - fc.target_mean_) / fc.target_scale_
    feats = causal_encode(enc, scaled[None], padding=8)[0].astype(np.float64)
    first, end = max(8, lags), 120
    kinds = ["last_value", "seasonal_naive"] if baseline == "auto" else [baseline]
    embeds = [True, False] if use_embedding == "auto" else [use_embedding]
    for h in (3, 6):
        choices = []
        for kind in kinds:
            for embed in embeds:
                start = max(first, season - 1) if kind == "seasonal_naive" else first
                args = (h, kind, season, lags, embed)
                train = loop_rows(feats, scaled, range(start, end - h), *args)
                valid = loop_rows(feats, scaled, range(end, len(y) - h), *args)
                alpha, score = validation_choice(*train, *valid, fc.alphas, kind is not None)
                choices.append((score, alpha, kind, embed and not np.isinf(alpha)))
        score, alpha, kind, embed = min(choices, key=lambda c: c[0])
        assert (fc.alphas_[h], fc.baselines_[h], fc.uses_embedding_[h]) == (alpha, kind, embed)
        # refit=False: the head never sees a target of the validation tail
        rows = range(max(first, season - 1 if kind == "seasonal_naive" else 0),
                     (len(y) if refit else end) - h)
        X, Y = loop_rows(feats, scaled, rows, h, kind, season, lags, embed)
        correction = np.zeros(Y.shape[1])
        if np.isinf(alpha):
            assert fc.heads_[h] is None
        else:
            # float32 inputs where the head reads the embedding (the embeddings' dtype)
            X = X.astype(np.float32) if embed else X
            ref = Ridge(alpha=alpha).fit(X, Y)
            np.testing.assert_allclose(fc.heads_[h].coef_, ref.coef_, rtol=1e-5, atol=1e-6)
        t = len(y) - h - 1  # the last origin with a known future
        if not np.isinf(alpha):
            x_t = loop_rows(feats, scaled, [t], h, kind, season, lags, embed)[0]
            correction = ref.predict(x_t.astype(X.dtype))[0]
        expected = correction.reshape(h, -1) + loop_naive(scaled, t, h, kind, season)
        np.testing.assert_allclose(fc.rolling_predict(y, horizon=h)[t],
                                   expected * fc.target_scale_ + fc.target_mean_,
                                   rtol=1e-4, atol=1e-5)


def test_the_naive_forecast_is_kept_when_the_heads_do_worse_on_the_tail():
    """A drift learnt before the tail, which is flat: the last value wins there."""
    noise = np.random.default_rng(0).normal(size=400)
    y = np.concatenate([np.cumsum(1 + 0.1 * noise[:300]), 300 + 0.01 * noise[300:]])
    fc = EmbeddingForecaster(tiny_encoder(), horizon=5, padding=8, valid_size=100,
                             baseline="last_value", use_embedding="auto").fit(y)
    assert fc.heads_[5] is None and np.isinf(fc.alphas_[5])
    np.testing.assert_allclose(fc.predict(), np.full(5, y[-1]))
    np.testing.assert_allclose(fc.predict(y=y[:50]), np.full(5, y[49]))


@pytest.mark.parametrize("baseline, season, lags, first", [
    (None, None, 7, 7), ("seasonal_naive", 12, 0, 11), ("seasonal_naive", 5, 9, 9)])
def test_forecasts_start_where_the_lags_and_the_season_are_observed(fitted, baseline, season,
                                                                    lags, first):
    y = seasonal(160, 2, seed=6)
    fc = EmbeddingForecaster(FrozenEstimator(fitted[0].encoder_), horizon=4, padding=4,
                             valid_size=40, baseline=baseline, season=season, lags=lags,
                             use_embedding=True)
    fc.fit(y)
    # NaN where a lag or the value the naive forecast repeats precedes the series
    steps = np.arange(1, 5)
    back = steps - season * np.ceil(steps / season) if season else 0 * steps
    missing = (np.arange(160)[:, None] + back < 0) | (
        (np.arange(160) < lags)[:, None] & (fc.heads_[4] is not None))
    rolled = fc.rolling_predict(y)
    np.testing.assert_array_equal(np.isnan(rolled), np.repeat(missing[..., None], 2, axis=2))
    assert missing[first - 1].any() and not missing[first:].any()
    # predict from a history just long enough: the rolling forecast from its last step
    size = max(lags + 1, season or 1)
    assert fc.last_targets_.shape == (1, size, 2)
    np.testing.assert_allclose(fc.predict(y=y[50 : 50 + size]),
                               fc.rolling_predict(y[50 : 50 + size])[-1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=f"the heads read the last {size}"):
        fc.predict(y=y[: size - 1])


def test_anchored_predict_paths_agree(anchored):
    """predict() after the training series, predict(y) of several series and
    rolling_predict forecast the same from the same step."""
    fc, y = anchored
    np.testing.assert_allclose(fc.predict(), fc.rolling_predict(y)[-1], rtol=1e-5, atol=1e-6)
    histories = [y[:90], y[20:140], y]
    together = fc.predict([3, 6], y=histories)
    for h in (3, 6):
        for history, forecast in zip(histories, together[h], strict=True):
            np.testing.assert_allclose(forecast, fc.predict(h, y=history), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(forecast, fc.rolling_predict(history, horizon=h)[-1],
                                       rtol=1e-5, atol=1e-6)


def test_anchored_forecaster_does_not_modify_its_inputs_and_pickles(anchored):
    fc, y = anchored
    # one target and one covariate: the frozen encoder's two channels
    Y, X = np.stack([y[:, :1], y[::-1, 1:]]), np.random.default_rng(0).normal(size=(2, 160, 1))
    copies = Y.copy(), X.copy()
    model = clone(fc).fit(Y, X)
    forecasts = model.predict(y=Y, X=X), model.rolling_predict(Y, X)
    np.testing.assert_array_equal(Y, copies[0])
    np.testing.assert_array_equal(X, copies[1])
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(y=Y, X=X), forecasts[0])
    np.testing.assert_array_equal(restored.rolling_predict(Y, X), forecasts[1])
    assert restored.baselines_ == model.baselines_


def test_predict_forecasts_after_the_end_of_the_series(fitted):
    fc, y = fitted
    rolling = fc.rolling_predict(y, horizon=6)
    np.testing.assert_allclose(fc.predict(), rolling[-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fc.predict(y=y[:100]), fc.rolling_predict(y[:100])[-1],
                               rtol=1e-5, atol=1e-6)
    # A shorter horizon uses the shortest head that covers it.
    np.testing.assert_allclose(fc.predict(2), fc.rolling_predict(y, horizon=3)[-1, :2],
                               rtol=1e-5, atol=1e-6)
    assert fc.predict(5).shape == (5, 2)
    assert not np.allclose(fc.predict(3), fc.predict(6)[:3])  # two different heads
    # Several horizons at once: a dict, the series encoded once.
    many = fc.predict([2, 6])
    assert set(many) == {2, 6}
    np.testing.assert_array_equal(many[2], fc.predict(2))
    rolled = fc.rolling_predict(y[:50], horizon=(3, 5))
    np.testing.assert_array_equal(rolled[5], fc.rolling_predict(y[:50], horizon=5))


@pytest.mark.parametrize("use_embedding", [False, "auto"])
def test_forecasts_beat_the_training_mean(use_embedding):
    y = seasonal(300, 1)[:, 0]
    encoder = tiny_encoder(output_dims=8, hidden_dims=8, depth=2, n_iters=10) if (
        use_embedding) else None
    fc = EmbeddingForecaster(encoder, horizon=6, padding=24, valid_size=60,
                             use_embedding=use_embedding).fit(y[:240])
    pred = fc.rolling_predict(y, horizon=6)
    rows = np.arange(240, 300 - 6)
    truth = np.stack([y[t + 1 : t + 7] for t in rows])
    mse = np.mean((pred[rows] - truth) ** 2)
    assert mse < 0.3 * np.mean((truth - y[:240].mean()) ** 2)
    # score: minus the MSE of the rolling forecasts of the held-out series (from the
    # first step whose lags are observed).
    part = y[200:]
    own = fc.rolling_predict(part)
    assert fc.lags_ == 24 and np.isnan(own[: fc.lags_]).all() == (fc.heads_[6] is not None)
    errors = [own[t] - part[t + 1 : t + 7] for t in range(fc.lags_, len(part) - 6)]
    assert fc.score(part) == pytest.approx(-np.mean(np.square(errors)))


def test_standardisation_makes_forecasts_scale_equivariant(fitted):
    fc, y = fitted
    base = EmbeddingForecaster(FrozenEstimator(fc.encoder_), horizon=6, padding=8, valid_size=40,
                               use_embedding="auto")
    a = base.fit(y).predict()
    b = clone(base).fit(100 * y + 50).predict()
    np.testing.assert_allclose(b, 100 * a + 50, rtol=1e-4, atol=1e-3)


# --------------------------------------------------------------- input forms
def test_univariate_multivariate_and_many_series():
    y1 = seasonal(120, 1, seed=1)[:, 0]
    fc = EmbeddingForecaster(tiny_encoder(), horizon=4, padding=6, valid_size=30,
                             use_embedding="auto").fit(y1)
    assert fc.predict().shape == (4,) and fc.rolling_predict(y1).shape == (120, 4)
    Y = np.stack([seasonal(120, 2, seed=s) for s in range(3)])  # (3, 120, 2)
    fc = EmbeddingForecaster(tiny_encoder(), horizon=4, padding=6, valid_size=30,
                             use_embedding="auto").fit(Y)
    assert fc.predict().shape == (3, 4, 2) and fc.last_embedding_.shape == (3, 4)
    assert fc.rolling_predict(Y).shape == (3, 120, 4, 2)
    np.testing.assert_allclose(fc.predict(y=Y)[1], fc.predict(y=Y[1]), rtol=1e-5, atol=1e-6)
    ragged = [Y[0], Y[1, :90]]
    out = fc.predict(y=ragged)
    assert isinstance(out, list) and out[1].shape == (4, 2)
    np.testing.assert_allclose(out[1], fc.predict(y=Y[1, :90]), rtol=1e-5, atol=1e-6)


def test_covariates_are_input_channels():
    y = seasonal(150, 1, seed=2)
    X = np.stack([np.arange(150) % 12 / 12.0, np.arange(150) / 150.0], axis=1)
    fc = EmbeddingForecaster(tiny_encoder(), horizon=3, padding=6, valid_size=30,
                             use_embedding="auto").fit(y, X)
    assert fc.n_covariates_ == 2 and fc.encoder_.n_channels_ == 3
    assert fc.predict(y=y[:100], X=X[:100]).shape == (3, 1)
    with pytest.raises(ValueError, match="pass X"):
        fc.predict(y=y[:100])
    with pytest.raises(ValueError, match="one row per step"):
        fc.predict(y=y[:100], X=X[:90])
    with pytest.raises(ValueError, match="without y"):
        fc.predict(X=X)


def test_missing_values_are_left_out_of_the_heads():
    y = seasonal(150, 1, seed=3)
    y[50:53] = np.nan
    for encoder, use_embedding in [(None, False), (tiny_encoder(), "auto")]:
        fc = EmbeddingForecaster(encoder, horizon=3, padding=6, valid_size=30,
                                 use_embedding=use_embedding).fit(y)
        assert np.isfinite(fc.predict()).all()


def test_fit_does_not_modify_its_input():
    y = seasonal(120, 1)
    copy = y.copy()
    EmbeddingForecaster(tiny_encoder(), horizon=3, padding=6, valid_size=30,
                        use_embedding="auto").fit(y)
    np.testing.assert_array_equal(y, copy)


@pytest.mark.parametrize(
    "params, data, match",
    [
        ({"horizon": 50}, None, "too short"),
        ({"valid_size": 3}, None, "validation tail"),
        ({"horizon": [2, 0]}, None, "positive integer"),
        ({"horizon": 2.5}, None, "horizon"),
        ({"valid_size": 1.5}, None, "valid_size"),
        ({"padding": -1}, None, "padding"),
        ({"baseline": "mean"}, None, "baseline"),
        ({"baseline": "seasonal_naive"}, None, "needs the season"),
        ({"baseline": "seasonal_naive", "season": 0}, None, "season"),
        ({"lags": -1}, None, "lags"),
        ({"lags": True}, None, "lags"),
        ({"lags": 60}, None, "too short"),
        ({"use_embedding": False, "lags": 0}, None, "needs lags > 0"),
        ({"lags": "all"}, None, "lags"),
        ({"use_embedding": "yes"}, None, "use_embedding"),
        ({}, np.zeros((3, 0)), "feature"),
    ],
)
def test_bad_parameters_and_data_raise(params, data, match):
    est = EmbeddingForecaster(**{"horizon": 3, "padding": 6, "valid_size": 30, **params})
    with pytest.raises(ValueError, match=match):
        est.fit(seasonal(80) if data is None else data)


def test_predict_checks_the_horizon_and_channels(fitted):
    fc, y = fitted
    with pytest.raises(ValueError, match="longer than the longest fitted horizon"):
        fc.predict(7)
    with pytest.raises(ValueError, match="positive integer"):
        fc.predict(0)
    with pytest.raises(ValueError, match="expecting 2 features"):
        fc.predict(y=y[:, :1])


def test_a_frozen_encoder_is_not_refitted(fitted):
    fc, y = fitted
    frozen = EmbeddingForecaster(FrozenEstimator(fc.encoder_), horizon=(3, 6), padding=8,
                                 valid_size=40, **TS2VEC_HEADS).fit(y)
    assert frozen.encoder_.n_iter_ == fc.encoder_.n_iter_
    np.testing.assert_allclose(frozen.predict(), fc.predict(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ scikit-learn
def test_clone_pickle_pipeline_and_grid_search(fitted):
    fc, y = fitted
    restored = pickle.loads(pickle.dumps(fc))
    np.testing.assert_array_equal(restored.predict(), fc.predict())
    assert clone(fc).get_params()["horizon"] == (3, 6)
    pipe = Pipeline([("scale", FunctionTransformer(lambda a: 2 * a)),
                     ("forecast", clone(fc))]).fit(y[:120])
    assert pipe.score(y[100:]) == pytest.approx(
        pipe.named_steps["forecast"].score(2 * y[100:]))
    Y = np.stack([seasonal(100, 1, seed=s) for s in range(4)])
    search = GridSearchCV(EmbeddingForecaster(tiny_encoder(), horizon=3, padding=6,
                                              valid_size=30),
                          {"padding": [4, 8], "use_embedding": ["auto", True]},
                          cv=KFold(2)).fit(Y)
    assert search.best_params_["padding"] in (4, 8)
    assert search.best_estimator_.encoder_.n_iter_ == 2
    assert search.best_estimator_.predict().shape == (4, 3, 1)


# predict's first argument is the horizon (as sktime's ``predict(fh)``) and fit takes
# (y, X): the checks that call predict(X) or fit(X, y) with tabular semantics do not
# apply.  2-D input is one series (n_timestamps, n_targets), 1-D a univariate series.
NOT_APPLICABLE = {
    "check_fit_score_takes_y": "fit(y, X): the first argument is the target series",
    "check_n_features_in_after_fitting": "predict(horizon) takes no data",
    "check_estimators_dtypes": "calls predict(X)",
    "check_dtype_object": "calls predict(X)",
    "check_estimators_pickle": "calls predict(X); pickling is tested above",
    "check_f_contiguous_array_estimator": "calls predict(X)",
    "check_methods_sample_order_invariance": "calls predict(X)",
    "check_methods_subset_invariance": "calls predict(X)",
    "check_dict_unchanged": "calls predict(X)",
    "check_fit_idempotent": "calls predict(X)",
    "check_fit1d": "1-D input is one univariate series",
    "check_fit2d_predict1d": "calls predict(X)",
}


@parametrize_with_checks([EmbeddingForecaster(horizon=2, padding=3, valid_size=0.3),
                          EmbeddingForecaster(tiny_encoder(), horizon=2, padding=3,
                                              valid_size=0.3, use_embedding="auto")])
def test_sklearn_estimator_checks(estimator, check):
    name = getattr(check, "func", check).__name__
    if name in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[name])
    check(estimator)
