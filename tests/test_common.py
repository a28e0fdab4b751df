"""Checks every sslts estimator must pass: scikit-learn's suite, determinism, composition.

Estimators come from the registry, so a new method is picked up automatically; it
needs a tiny configuration in ``tests/estimator_configs.py``.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from estimator_configs import (
    configured_estimators,
    estimator_id,
    make_tiny,
    model_output,
    small_series,
)
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

import sslts
from sslts import all_estimators

ESTIMATORS = configured_estimators()  # the shared machinery: every estimator
TRANSFORMERS = configured_estimators("transformer")  # embeddings, scikit-learn's suite

# Declared failures, each with its reason; keep this short and fix estimators instead.
_TIME_AXIS = (
    "for 2-D input the features are time steps, and transform accepts series of any "
    "length (n_features_in_ records the training length, it is not a constraint)"
)
EXPECTED_FAILED_CHECKS = {
    "check_n_features_in_after_fitting": _TIME_AXIS,
    "check_transformer_general": _TIME_AXIS,
}
ESTIMATOR_FAILED_CHECKS = {
    "SelfTimeTransformer": {
        "check_fit2d_1sample": (
            "SelfTime's inter-sample task pairs different series: one series fails with a "
            "ValueError that names mode='intra', not scikit-learn's expected wording"
        ),
    },
}
# Allowed, not required, to fail: float32 kernels block the batch axis, so a series'
# embedding may change in the last bit (~1e-7 relative) with its place in the batch,
# and these checks compare at rtol=1e-7.  test_embeddings_do_not_depend_on_the_batch
# checks the same property at float32 precision.
FLOAT32_ROUNDING = {
    "check_methods_sample_order_invariance": "last-bit float32 differences",
    "check_methods_subset_invariance": "last-bit float32 differences",
}


def _expected_failed_checks(estimator) -> dict[str, str]:
    return {**EXPECTED_FAILED_CHECKS, **ESTIMATOR_FAILED_CHECKS.get(type(estimator).__name__, {})}


@pytest.fixture(scope="module")
def X_small() -> np.ndarray:
    return small_series()


@pytest.fixture(scope="module")
def gunpoint():
    """A quick slice of the bundled GunPoint data: 24 train / 24 test series, 30 steps."""
    X_train, y_train, X_test, y_test = sslts.load_dataset("GunPoint")
    pick = np.random.default_rng(0).permutation(len(X_train))[:24]
    return X_train[pick, ::5], y_train[pick], X_test[:24, ::5], y_test[:24]


@pytest.mark.parametrize("cls", all_estimators(), ids=estimator_id)
def test_every_estimator_has_a_tiny_config(cls):
    estimator = make_tiny(cls)  # fails with instructions when the table lacks cls
    assert estimator.get_params()["device"] == "cpu"


def test_registry_finds_the_public_estimators():
    public = {n for n in sslts.__all__
              if n.endswith(("Transformer", "Generator")) and not n.startswith("Base")}
    assert {cls.__name__ for cls in all_estimators()} == public
    transformers = {cls.__name__ for cls in all_estimators(type_filter="transformer")}
    generators = {cls.__name__ for cls in all_estimators(type_filter="generator")}
    assert transformers == {n for n in public if n.endswith("Transformer")}
    assert generators == {n for n in public if n.endswith("Generator")}
    both = all_estimators(type_filter=["transformer", "generator"])
    assert {cls.__name__ for cls in both} == public
    with pytest.raises(ValueError, match="type_filter must be"):
        all_estimators(type_filter="classifier")


@parametrize_with_checks(
    [make_tiny(cls) for cls in TRANSFORMERS],
    expected_failed_checks=_expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_compatible_estimator(estimator, check):
    name = getattr(check, "func", check).__name__
    if name not in FLOAT32_ROUNDING or name in _expected_failed_checks(estimator):
        check(estimator)
        return
    try:
        check(estimator)
    except AssertionError as exc:
        if "not invariant" not in str(exc):
            raise
        pytest.xfail(FLOAT32_ROUNDING[name])


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=estimator_id)
def test_embeddings_do_not_depend_on_the_batch(cls, X_small):
    est = make_tiny(cls).fit(X_small)
    order = np.random.default_rng(0).permutation(len(X_small))
    full = est.transform(X_small)
    np.testing.assert_allclose(est.transform(X_small[order]), full[order], rtol=1e-5, atol=1e-6)
    halves = [est.transform(X_small[:5]), est.transform(X_small[5:])]
    np.testing.assert_allclose(np.concatenate(halves), full, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_same_random_state_gives_identical_output(cls, X_small):
    first = model_output(make_tiny(cls).fit(X_small), X_small)
    second = model_output(make_tiny(cls).fit(X_small), X_small)
    other = model_output(make_tiny(cls, random_state=1).fit(X_small), X_small)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def _global_state():
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state()[1].copy(),  # noqa: NPY002 (the global state is the point)
        "python": random.getstate(),
        "threads": (torch.get_num_threads(), torch.get_num_interop_threads()),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "dtype": torch.get_default_dtype(),
        "grad": torch.is_grad_enabled(),
    }


def _assert_same_state(before, after, skip=()):
    for key in before:
        if key in skip:
            continue
        if isinstance(before[key], (torch.Tensor, np.ndarray)):
            assert np.array_equal(np.asarray(before[key]), np.asarray(after[key])), key
        else:
            assert before[key] == after[key], key


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_library_never_touches_global_state(cls, X_small):
    before = _global_state()
    est = make_tiny(cls).fit(X_small)
    model_output(est, X_small)
    est.set_params(warm_start=True).fit(X_small)
    _assert_same_state(before, _global_state())
    # random_state=None draws the seed from numpy's global RandomState, as every
    # scikit-learn estimator does; torch and Python's generators stay untouched.
    before = _global_state()
    model_output(make_tiny(cls, random_state=None).fit(X_small), X_small)
    _assert_same_state(before, _global_state(), skip=("numpy",))


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=estimator_id)
def test_pipeline_grid_search_and_cross_validation(cls, gunpoint):
    X, y, _, _ = gunpoint
    pipe = Pipeline([("enc", make_tiny(cls)), ("svc", SVC())])
    grid = {"enc__lr": [1e-3, 1e-2], "svc__C": [1.0]}
    serial = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    for key in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(serial.cv_results_[key], parallel.cv_results_[key])
    # cross_val_score on a clone reproduces the grid search's folds for lr=1e-2.
    scores = cross_val_score(clone(pipe).set_params(enc__lr=1e-2), X, y, cv=2)
    expected = [serial.cv_results_[f"split{k}_test_score"][1] for k in range(2)]
    np.testing.assert_array_equal(scores, expected)
    assert 0.0 <= serial.best_score_ <= 1.0
