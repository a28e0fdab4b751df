"""sslts estimators as sktime transformers: sktime's own checks, sktime data and pipelines.

Each adapter runs ``sktime.utils.estimator_checks.check_estimator`` on the tiny
configuration of ``tests/estimator_configs.py``; its embeddings must equal, bit for
bit, those of the plain estimator on the same data in the sslts layout.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

pytest.importorskip("sktime")

from estimator_configs import COMMON, TINY, configured_estimators, estimator_id  # noqa: E402
from sklearn.linear_model import RidgeClassifierCV  # noqa: E402
from sktime.classification.compose import SklearnClassifierPipeline  # noqa: E402
from sktime.datasets import load_basic_motions  # noqa: E402
from sktime.datatypes import convert_to  # noqa: E402
from sktime.transformations.base import BaseTransformer  # noqa: E402
from sktime.utils.estimator_checks import check_estimator  # noqa: E402

import sslts.sktime  # noqa: E402
from sslts import all_estimators  # noqa: E402
from sslts._adapters import ADAPTER_OWNED  # noqa: E402
from sslts.utils.layouts import from_sktime  # noqa: E402

ESTIMATORS = configured_estimators("transformer")  # the adapters wrap the transformers

# Declared failure, for any method: sktime's Series scenarios and its categorical-y
# check fit on exactly one series, which methods whose objective needs several series
# in a batch (contrastive, batch statistics, batch normalisation) refuse with a
# ValueError that says they need at least 2.
ONE_SERIES = r"TransformerFitTransformSeries|test_categorical_y_raises_error"


def _adapter(cls: type, **overrides):
    return getattr(sslts.sktime, cls.__name__)(**{**COMMON, **TINY[cls.__name__], **overrides})


def _plain(cls: type, **overrides):
    return cls(**{**COMMON, **TINY[cls.__name__], **overrides})


@pytest.fixture(scope="module")
def basic_motions():
    """sktime's bundled BasicMotions training split as a nested_univ frame (40 x 6)."""
    X, _ = load_basic_motions(split="train", return_type="nested_univ")
    return X


@pytest.mark.parametrize("cls", all_estimators(type_filter="transformer"), ids=estimator_id)
def test_every_estimator_has_an_sktime_adapter(cls):
    adapter_class = getattr(sslts.sktime, cls.__name__)
    assert issubclass(adapter_class, BaseTransformer)
    assert adapter_class.__module__ == "sslts.sktime" and cls.__name__ in sslts.sktime.__all__
    expected = [p for p in inspect.signature(cls).parameters if p not in ADAPTER_OWNED]
    assert list(inspect.signature(adapter_class).parameters) == expected
    assert adapter_class().get_tag("scitype:transform-output") == "Primitives"


@pytest.mark.slow
@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_sktime_check_estimator(cls):
    results = check_estimator(_adapter(cls), verbose=False)
    assert len(results) > 100  # the suite ran (instance, class and transformer tests)
    failed = {test: result for test, result in results.items() if result != "PASSED"}
    unexpected = {
        test: result
        for test, result in failed.items()
        if not (re.search(ONE_SERIES, test) and "needs at least 2" in str(result))
    }
    assert not unexpected, "\n".join(f"{t}: {r!r}"[:800] for t, r in unexpected.items())


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_basic_motions_gives_the_same_embeddings_on_every_mtype(cls, basic_motions):
    X_sslts = from_sktime(basic_motions)
    reference = _plain(cls).fit(X_sslts).transform(X_sslts)
    for mtype in ("nested_univ", "numpy3D", "pd-multiindex"):
        X = convert_to(basic_motions, to_type=mtype, as_scitype="Panel")
        Z = _adapter(cls).fit(X).transform(X)
        assert list(Z.columns) == list(_plain(cls).fit(X_sslts).get_feature_names_out())
        np.testing.assert_array_equal(Z.to_numpy(), reference, err_msg=mtype)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_timestamp_level_returns_series_on_the_input_time_index(cls, basic_motions):
    if "timestamp" not in _plain(cls).valid_levels:
        pytest.skip(f"{cls.__name__} has no timestamp level")
    X = basic_motions.iloc[:6].copy()
    for column in X.columns:  # the first instance is shorter: unequal lengths
        X.at[X.index[0], column] = X.at[X.index[0], column].iloc[:60]
    adapter = _adapter(cls, level="timestamp")
    assert adapter.get_tag("scitype:transform-output") == "Series"
    Z = adapter.fit(X).transform(X)
    padded = from_sktime(X)
    expected = _plain(cls, level="timestamp").fit(padded).transform(padded)
    frames = convert_to(Z, to_type="df-list", as_scitype="Panel")
    assert [len(f) for f in frames] == [60] + [100] * 5
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(frame.to_numpy(), expected[i, : len(frame)])


def test_classifier_pipeline_is_reproducible(basic_motions):
    _, y = load_basic_motions(split="train", return_type="nested_univ")
    X_test, y_test = load_basic_motions(split="test", return_type="nested_univ")
    scores = []
    for _ in range(2):
        clf = SklearnClassifierPipeline(RidgeClassifierCV(), [_adapter(ESTIMATORS[0])])
        scores.append(clf.fit(basic_motions, y).score(X_test, y_test))
    assert scores[0] == scores[1] and 0.0 <= scores[0] <= 1.0


def test_gpu_training_is_declared_stochastic(monkeypatch):
    import torch

    adapter_class = sslts.sktime.TS2VecTransformer
    assert adapter_class(device="cpu").get_tag("property:randomness") == "derandomized"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert adapter_class(device="auto").get_tag("property:randomness") == "stochastic"
