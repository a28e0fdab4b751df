"""sslts.sktime.EmbeddingForecaster: sktime's own checks, and the forecasts of the plain
sslts.EmbeddingForecaster on the same data."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sktime")

from sklearn.base import clone  # noqa: E402
from sktime.forecasting.base import BaseForecaster  # noqa: E402
from sktime.utils.estimator_checks import check_estimator  # noqa: E402

import sslts  # noqa: E402
from sslts import TS2VecTransformer  # noqa: E402
from sslts.evaluation import load_ett  # noqa: E402
from sslts.sktime import EmbeddingForecaster  # noqa: E402

# sktime 1.2 announces, on every forecaster's construction, that the default of its
# remember_data config changes in 1.3; nothing here depends on it.
pytestmark = pytest.mark.filterwarnings("ignore:The default of config:FutureWarning")

CONFIG = dict(padding=12, valid_size=60)


def tiny_encoder() -> TS2VecTransformer:
    return TS2VecTransformer(output_dims=8, hidden_dims=8, depth=2, n_iters=3, device="cpu",
                             random_state=0)


def seasonal(n: int = 160, columns=("a", "b")) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(n)[:, None]
    values = np.sin(2 * np.pi * t / 12 + np.arange(len(columns))) + 0.1 * rng.normal(
        size=(n, len(columns)))
    return pd.DataFrame(values, columns=list(columns),
                        index=pd.period_range("2020-01-01", periods=n, freq="D"))


@pytest.fixture(scope="module")
def etth1(shared_data):
    """The first 400 hours of ETTh1: 7 targets, its calendar covariates as exogenous X."""
    ds = load_ett("ETTh1", shared_data)
    data, k = ds.data[0, :400], ds.n_covariates
    index = pd.period_range("2016-07-01", periods=len(data), freq="h")
    y = pd.DataFrame(data[:, k:], index=index, columns=ds.columns)
    X = pd.DataFrame(data[:, :k], index=index, columns=[f"cov{i}" for i in range(k)])
    return y, X


@pytest.mark.slow
def test_sktime_check_estimator():
    # Every parameter set of get_test_params through sktime's forecaster suite; with
    # raise_exceptions the first failing check raises with its own message.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sktime's per-construction FutureWarning
        results = check_estimator(EmbeddingForecaster, raise_exceptions=True, verbose=False)
    assert len(results) > 300  # the forecaster tests ran, not only the generic ones
    assert all(r == "PASSED" for r in results.values())


def test_forecasts_equal_the_sslts_forecaster_on_etth1(etth1):
    y, X = etth1
    fh = [1, 2, 5, 9]
    fc = EmbeddingForecaster(tiny_encoder(), **CONFIG).fit(y, X=X, fh=fh)
    assert isinstance(fc, BaseForecaster) and fc.forecaster_.horizons_ == (9,)
    # Future covariates are not used: any X at predict gives the same forecasts.
    future = pd.DataFrame(np.zeros((9, X.shape[1])), columns=X.columns,
                          index=pd.period_range(y.index[-1] + 1, periods=9, freq="h"))
    y_pred = fc.predict(X=future)
    plain = sslts.EmbeddingForecaster(tiny_encoder(), horizon=9, **CONFIG)
    expected = plain.fit(y.to_numpy(), X=X.to_numpy()).predict()
    assert list(y_pred.columns) == list(y.columns)
    assert list(y_pred.index) == [y.index[-1] + h for h in fh]
    np.testing.assert_allclose(y_pred.to_numpy(), expected[np.array(fh) - 1], rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(fc.predict().to_numpy(), y_pred.to_numpy())
    assert fc.forecaster_.alphas_ == plain.alphas_


def test_update_forecasts_from_the_new_cutoff(etth1):
    y, X = etth1
    fc = EmbeddingForecaster(tiny_encoder(), **CONFIG).fit(y[:300], X=X[:300], fh=[1, 3])
    before = fc.predict()
    fc.update(y[300:340], X=X[300:340], update_params=False)
    after = fc.predict()
    assert list(after.index) == [y.index[340], y.index[342]]
    # The same fitted model, forecasting from the last padding + 1 steps up to the cutoff.
    window = slice(340 - 13, 340)
    expected = fc.forecaster_.predict(3, y=y[window].to_numpy(), X=X[window].to_numpy())
    np.testing.assert_allclose(after.to_numpy(), expected[[0, 2]], rtol=1e-6, atol=1e-8)
    assert not np.allclose(after.to_numpy(), before.to_numpy())
    with pytest.raises(ValueError, match="fitted with exogenous X"):
        fc.update(y[340:350], update_params=False)


def test_update_with_update_params_refits_on_all_the_data_seen():
    y = seasonal(200)
    fc = EmbeddingForecaster(tiny_encoder(), **CONFIG).fit(y[:150], fh=[1, 2])
    first = fc.forecaster_
    fc.update(y[150:], update_params=True)
    assert fc.forecaster_ is not first and fc.cutoff[0] == y.index[-1]
    expected = EmbeddingForecaster(tiny_encoder(), **CONFIG).fit(y, fh=[1, 2]).predict()
    pd.testing.assert_frame_equal(fc.predict(), expected)


def test_univariate_series_keep_their_name_and_missing_values_are_allowed():
    y = seasonal(160, columns=("load",))["load"]
    y.iloc[[20, 90, 140]] = np.nan
    fc = EmbeddingForecaster(tiny_encoder(), **CONFIG).fit(y, fh=[1, 2, 3])
    y_pred = fc.predict()
    assert isinstance(y_pred, pd.Series) and y_pred.name == "load"
    expected = sslts.EmbeddingForecaster(tiny_encoder(), horizon=3, **CONFIG).fit(
        y.to_numpy()).predict()
    assert np.isfinite(y_pred.to_numpy()).all()
    np.testing.assert_allclose(y_pred.to_numpy(), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fh", [[-2, 1], [0, 1]])
def test_in_sample_fh_is_refused(fh):
    fc = EmbeddingForecaster(tiny_encoder(), **CONFIG)
    # sktime's own refusal for capability:insample=False, before any training.
    with pytest.raises(NotImplementedError, match="in-sample"):
        fc.fit(seasonal(), fh=fh)
    assert not hasattr(fc, "forecaster_")


def test_in_sample_steps_are_refused_by_the_adapter_itself():
    # The adapter's own guard, for whatever bypasses sktime's check (its vectorised
    # and inner calls): a ValueError that names the steps.
    from sktime.forecasting.base import ForecastingHorizon

    fc = EmbeddingForecaster(tiny_encoder(), **CONFIG).fit(seasonal(), fh=[1, 2])
    with pytest.raises(ValueError, match=r"in-sample step\(s\) \[-1, 0\]"):
        fc._steps(ForecastingHorizon([-1, 0, 1]))


def test_pickle_and_clone():
    y = seasonal()
    fc = EmbeddingForecaster(tiny_encoder(), **CONFIG).fit(y, fh=[1, 4])
    restored = pickle.loads(pickle.dumps(fc))
    pd.testing.assert_frame_equal(restored.predict(), fc.predict())
    for copy in (fc.clone(), clone(fc)):
        assert not copy.is_fitted and not hasattr(copy, "forecaster_")
        assert copy.get_params()["encoder__random_state"] == 0
        assert copy.get_params(deep=False)["padding"] == 12
        # A clone refits to the same forecasts (the encoder is seeded).
        pd.testing.assert_frame_equal(copy.fit(y, fh=[1, 4]).predict(), fc.predict())
