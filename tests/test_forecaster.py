"""EmbeddingForecaster: TS2Vec's forecasting protocol as an estimator."""

from __future__ import annotations

import pickle

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


@pytest.fixture(scope="module")
def fitted():
    y = seasonal(160, 2)
    return EmbeddingForecaster(tiny_encoder(), horizon=(3, 6), padding=8, valid_size=40).fit(y), y


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
                             refit=False, standardize=False)
    fc.fit(data[0, :550, k:], X=data[0, :550, :k])
    history = slice(550 - 12, 700)  # the test part and the context of its first window
    for h in (4, 9):
        pred = fc.rolling_predict(data[0, history, k:], X=data[0, history, :k], horizon=h)
        rows = np.arange(12, 150 + 12 - h)  # forecast origins inside the test part
        truth = np.stack([data[0, history, k][r + 1 : r + 1 + h] for r in rows])
        mse = float(np.mean((pred[rows, :, 0] - truth) ** 2))
        assert fc.alphas_[h] == expected["horizons"][h]["alpha"]
        assert mse == pytest.approx(expected["horizons"][h]["mse"], rel=1e-5)


def test_heads_equal_ridges_on_rows_built_by_a_loop(fitted):
    fc, y = fitted
    scaled = (y - fc.target_mean_) / fc.target_scale_
    feats = causal_encode(fc.encoder_, scaled[None], padding=8)[0]
    for h in (3, 6):
        # refit=True: every row of the series; float32 features, as the protocol's.
        X = np.stack([feats[t] for t in range(8, len(y) - h)])
        Y = np.stack([scaled[t + 1 : t + 1 + h].ravel() for t in range(8, len(y) - h)])
        ref = Ridge(alpha=fc.alphas_[h]).fit(X, Y)
        np.testing.assert_allclose(fc.heads_[h].coef_, ref.coef_, rtol=1e-6, atol=1e-8)


def test_alpha_is_chosen_on_the_validation_tail(fitted):
    fc, y = fitted
    scaled = (y - fc.target_mean_) / fc.target_scale_
    feats = causal_encode(fc.encoder_, scaled[None], padding=8)[0]
    h, end = 6, 120
    X_tr = np.stack([feats[t] for t in range(8, end - h)])
    Y_tr = np.stack([scaled[t + 1 : t + 1 + h].ravel() for t in range(8, end - h)])
    X_va = np.stack([feats[t] for t in range(end, len(y) - h)])
    Y_va = np.stack([scaled[t + 1 : t + 1 + h].ravel() for t in range(end, len(y) - h)])
    scores = {}
    for alpha in fc.alphas:
        err = Ridge(alpha=alpha).fit(X_tr, Y_tr).predict(X_va) - Y_va
        scores[alpha] = np.sqrt(np.mean(err**2)) + np.mean(np.abs(err))
    assert fc.alphas_[h] == min(scores, key=scores.get)


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


def test_forecasts_beat_the_training_mean():
    y = seasonal(300, 1)[:, 0]
    fc = EmbeddingForecaster(tiny_encoder(output_dims=8, hidden_dims=8, depth=2, n_iters=10),
                             horizon=6, padding=24, valid_size=60).fit(y[:240])
    pred = fc.rolling_predict(y, horizon=6)
    rows = np.arange(240, 300 - 6)
    truth = np.stack([y[t + 1 : t + 7] for t in rows])
    mse = np.mean((pred[rows] - truth) ** 2)
    assert mse < 0.3 * np.mean((truth - y[:240].mean()) ** 2)
    # score: minus the MSE of the rolling forecasts of the held-out series.
    part = y[200:]
    own = fc.rolling_predict(part)
    errors = [own[t] - part[t + 1 : t + 7] for t in range(len(part) - 6)]
    assert fc.score(part) == pytest.approx(-np.mean(np.square(errors)))


def test_standardisation_makes_forecasts_scale_equivariant(fitted):
    fc, y = fitted
    base = EmbeddingForecaster(FrozenEstimator(fc.encoder_), horizon=6, padding=8, valid_size=40)
    a = base.fit(y).predict()
    b = clone(base).fit(100 * y + 50).predict()
    np.testing.assert_allclose(b, 100 * a + 50, rtol=1e-4, atol=1e-3)


# --------------------------------------------------------------- input forms
def test_univariate_multivariate_and_many_series():
    y1 = seasonal(120, 1, seed=1)[:, 0]
    fc = EmbeddingForecaster(tiny_encoder(), horizon=4, padding=6, valid_size=30).fit(y1)
    assert fc.predict().shape == (4,) and fc.rolling_predict(y1).shape == (120, 4)
    Y = np.stack([seasonal(120, 2, seed=s) for s in range(3)])  # (3, 120, 2)
    fc = EmbeddingForecaster(tiny_encoder(), horizon=4, padding=6, valid_size=30).fit(Y)
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
    fc = EmbeddingForecaster(tiny_encoder(), horizon=3, padding=6, valid_size=30).fit(y, X)
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
    fc = EmbeddingForecaster(tiny_encoder(), horizon=3, padding=6, valid_size=30).fit(y)
    assert np.isfinite(fc.predict()).all()


def test_fit_does_not_modify_its_input():
    y = seasonal(120, 1)
    copy = y.copy()
    EmbeddingForecaster(tiny_encoder(), horizon=3, padding=6, valid_size=30).fit(y)
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
        ({}, np.zeros((3, 0)), "feature"),
    ],
)
def test_bad_parameters_and_data_raise(params, data, match):
    est = EmbeddingForecaster(tiny_encoder(), **{"horizon": 3, "padding": 6, "valid_size": 30,
                                                 **params})
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
                                 valid_size=40).fit(y)
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
                          {"padding": [4, 8]}, cv=KFold(2)).fit(Y)
    assert search.best_params_["padding"] in (4, 8)
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


@parametrize_with_checks([EmbeddingForecaster(tiny_encoder(), horizon=2, padding=3,
                                              valid_size=0.3)])
def test_sklearn_estimator_checks(estimator, check):
    name = getattr(check, "func", check).__name__
    if name in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[name])
    check(estimator)
