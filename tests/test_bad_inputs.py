"""Bad input on ``fit`` of every estimator, and on ``transform`` of the transformers.

Each case either works (finite embeddings, or finite samples, of the right shape) or
fails with a ``ValueError``/``TypeError`` whose message says what is wrong; never a
torch error, a hang, or silently non-finite output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from estimator_configs import (
    configured_estimators,
    estimator_id,
    is_transformer,
    make_tiny,
    model_output,
    small_series,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ESTIMATORS = configured_estimators()
TRANSFORMERS = configured_estimators("transformer")
X = small_series()  # (12, 24), univariate
OK = "ok"
RESCALE = (ValueError, "[Rr]escale")


def _with(values, rows=(2,), cols=slice(None)):
    out = X.copy()
    out[list(rows), cols] = values
    return out


# name -> (input, outcome on fit, outcome on transform); an outcome is OK, a
# (exception, regex) pair, or a tuple of those (any of them is fine).
CASES = {
    "empty": (np.empty((0, 24)), (ValueError, "0 sample"), (ValueError, "0 sample")),
    "no-timestamps": (np.empty((5, 0)), (ValueError, "0 feature"), (ValueError, "0 feature")),
    "1-D": (X[0], (ValueError, "Reshape your data"), (ValueError, "Reshape your data")),
    "4-D": (X[:, :, None, None], (ValueError, "2 or 3 dimensions"),
            (ValueError, "2 or 3 dimensions")),
    "one-series": (X[:1], (OK, (ValueError, "(1 sample|n_samples=1|at least 2)")), OK),
    "length-1": (X[:, :1], (OK, (ValueError, "minimum of")), (OK, (ValueError, "minimum of"))),
    "all-NaN-series": (_with(np.nan), (ValueError, "entirely missing"),
                       (ValueError, "entirely missing")),
    "inf": (_with(np.inf, cols=3), (ValueError, "infinity"), (ValueError, "infinity")),
    "-inf": (_with(-np.inf, cols=3), (ValueError, "infinity"), (ValueError, "infinity")),
    "magnitude-1e30": (X * 1e30, (OK, RESCALE), (OK, RESCALE)),
    "magnitude-1e300": (X * 1e300, (ValueError, "overflow float32"),
                        (ValueError, "overflow float32")),
    "constant": (np.full_like(X, 3.0), OK, OK),
    "zeros": (np.zeros_like(X), OK, OK),
    "NaN-gaps": (_with(np.nan, rows=range(0, 12, 2), cols=slice(5, 9)), OK, OK),
    "NaN-padding": (_with(np.nan, rows=range(6), cols=slice(18, None)), OK, OK),
    "strings": (X.astype(str), (TypeError, "numeric"), (TypeError, "numeric")),
    "words": (np.full(X.shape, "a", dtype=object), (TypeError, "must contain numbers"),
              (TypeError, "must contain numbers")),
    "numbers-as-objects": (X.astype(object), OK, OK),
    "complex": (X + 1j, (ValueError, "[Cc]omplex"), (ValueError, "[Cc]omplex")),
    "sparse": (sp.csr_matrix(X), (TypeError, "[Ss]parse"), (TypeError, "[Ss]parse")),
    "dataframe": (pd.DataFrame(X), OK, OK),
    "list-variable-length": ([X[0], X[1, :15], X[2, :20]], OK, OK),
    "list-inconsistent-channels": ([np.ones((10, 1)), np.ones((8, 2))],
                                   (ValueError, "Inconsistent channel counts"),
                                   (ValueError, "Inconsistent channel counts")),
    "flat-list": (list(X[0]), (ValueError, "flat list"), (ValueError, "flat list")),
    "wrong-channels": (np.stack([X, X], axis=2), OK, (ValueError, "2 channel.*fitted on.* 1")),
}


def _outcomes(spec):
    return [spec] if spec == OK or isinstance(spec[0], type) else list(spec)


def _check_embeddings(est, data, Z):
    n = len(data) if not sp.issparse(data) else data.shape[0]
    assert Z.shape == (n, est.embedding_dims("instance"))
    assert np.isfinite(Z).all()


def _check_fitted(est, data):
    """A fitted estimator's output on ``data``: embeddings, or samples of the training shape."""
    if is_transformer(est):
        _check_embeddings(est, data, est.transform(data))
        return
    samples = model_output(est, data)
    assert samples.shape == (4, est.n_features_in_, est.n_channels_)
    assert np.isfinite(samples).all()


def _run(call, spec):
    """Run ``call``; its result or error must match one of the allowed outcomes."""
    allowed = _outcomes(spec)
    errors = tuple(o[0] for o in allowed if o != OK)
    try:
        result = call()
    except errors as exc:
        patterns = [o[1] for o in allowed if o != OK and isinstance(exc, o[0])]
        assert any(pytest.importorskip("re").search(p, str(exc)) for p in patterns), str(exc)
        return None
    assert OK in allowed, f"no error raised; expected one of {allowed}"
    return result


@pytest.fixture(scope="module")
def fitted():
    return {cls: make_tiny(cls).fit(X) for cls in TRANSFORMERS}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_fit_on_bad_input(cls, case):
    data, on_fit, _ = CASES[case]
    est = _run(lambda: make_tiny(cls).fit(data), on_fit)
    if est is not None:
        _check_fitted(est, data)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("cls", TRANSFORMERS, ids=estimator_id)
def test_transform_on_bad_input(cls, case, fitted):
    data, _, on_transform = CASES[case]
    est = fitted[cls]
    Z = _run(lambda: est.transform(data), on_transform)
    if Z is not None:
        _check_embeddings(est, data, Z)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_min_length_is_exact_and_named(cls, fitted):
    """Series of ``min_length`` steps work; one step fewer fails naming the minimum."""
    est = make_tiny(cls)
    for training in (True, False) if is_transformer(est) else (True,):
        need = est.min_length(training)
        base = small_series(12, max(need, 24))
        if training:
            make_tiny(cls).fit(base[:, :need])
        else:
            fitted[cls].transform(base[:, :need])
        if need > 1:
            call = make_tiny(cls).fit if training else fitted[cls].transform
            with pytest.raises(ValueError, match=f"minimum of {need} is required"):
                call(base[:, : need - 1])
            with pytest.raises(ValueError, match=f"minimum of {need} is required"):
                call(base[:, : need - 1, None])  # 3-D input gets the same message


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_batch_size_larger_than_the_data(cls):
    est = make_tiny(cls, batch_size=100).fit(X)
    _check_fitted(est, X)
    assert est.n_iter_ == 2  # one full-data batch per step


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=estimator_id)
def test_y_is_accepted_and_ignored(cls):
    y = np.arange(len(X)) % 2
    expected = make_tiny(cls).fit(X).transform(X)
    np.testing.assert_array_equal(make_tiny(cls).fit(X, y).transform(X), expected)
    np.testing.assert_array_equal(make_tiny(cls).fit_transform(X, y), expected)


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=estimator_id)
def test_multichannel_fit_rejects_univariate_transform(cls):
    est = make_tiny(cls).fit(np.stack([X, -X, 2 * X], axis=2))
    with pytest.raises(ValueError, match="1 channel.*fitted on.* 3"):
        est.transform(X)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_input_is_never_modified(cls):
    data = _with(np.nan, rows=range(6), cols=slice(18, None))
    before = data.copy()
    model_output(make_tiny(cls).fit(data), data)
    np.testing.assert_array_equal(data, before)


@st.composite
def _series_with_gaps(draw, min_length: int):
    n = draw(st.integers(2, 6))
    T = draw(st.integers(max(min_length, 2), max(min_length, 2) + 20))
    C = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    missing = draw(st.floats(0.0, 0.6))
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, T, C)) * draw(st.sampled_from([1e-3, 1.0, 1e3]))
    gaps = rng.random((n, T, C)) < missing
    gaps[np.arange(n), rng.integers(0, T, n)] = False  # every series keeps a value
    lengths = rng.integers(1, T + 1, n)  # and some are NaN-padded to T
    gaps |= np.arange(T)[None, :, None] >= lengths[:, None, None]
    gaps[np.arange(n), np.minimum(rng.integers(0, T, n), lengths - 1)] = False
    return np.where(gaps, np.nan, values)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_any_shape_and_missing_pattern_gives_finite_output(cls):
    need = make_tiny(cls).min_length(True)

    @settings(max_examples=6, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(data=_series_with_gaps(need))
    def check(data):
        est = make_tiny(cls, n_iters=1).fit(data)
        _check_fitted(est, data)
        if not is_transformer(est):
            return
        Z = est.transform(data)
        # A series' embedding does not depend on the others in its batch.
        alone = np.concatenate([est.transform(data[i : i + 1]) for i in range(len(data))])
        np.testing.assert_allclose(alone, Z, rtol=1e-4, atol=1e-4)

    check()
