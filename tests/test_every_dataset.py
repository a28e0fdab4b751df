"""Every estimator, with its default architecture, on every shared UCR/UEA dataset.

The shared archive spans 7 to 2,500 time steps, 1 to 28 channels, variable lengths
(NaN right-padding) and missing values, leading ones included.  Each estimator is
built with its default parameters except the budget (one optimiser step), fitted on
a few training series chosen to keep those properties, and must return finite
embeddings of the expected shape.  Only what leaves the code path unchanged is
shrunk (series and steps), never the architecture: the point is that the defaults
work on every length and channel count.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest
from conftest import SHARED_DATA

from sslts import all_estimators, load_dataset

# The generator has no transform; its fits on real data are the generation benchmark's.
ESTIMATORS = all_estimators(type_filter="transformer")
DATASETS = sorted(
    folder.name
    for archive in ("ucr", "uea")
    if (SHARED_DATA / archive).is_dir()
    for folder in (SHARED_DATA / archive).iterdir()
    if folder.is_dir()
)
# The smallest budget that still runs a training step.
BUDGET = {"n_iters": 1, "n_epochs": None}
N_FIRST_TRAIN, N_FIRST_TEST = 6, 2


def _defaults(cls: type):
    """``cls`` with default parameters, a one-step budget, on the CPU, seeded."""
    accepted = inspect.signature(cls).parameters
    budget = {k: v for k, v in BUDGET.items() if k in accepted}
    assert "n_iters" in budget, f"{cls.__name__} has no n_iters: give BUDGET its parameter"
    return cls(**budget, device="cpu", random_state=0)


def _lengths(X: np.ndarray) -> np.ndarray:
    """Observed length of each series: one past its last step with any value."""
    observed = ~np.isnan(X).all(axis=2)
    return X.shape[1] - np.argmax(observed[:, ::-1], axis=1)


def _pick(X: np.ndarray, n_first: int) -> np.ndarray:
    """The first series plus the longest, the shortest and the most incomplete ones.

    No stratification: the series are chosen for their shape, not their label.
    """
    lengths, nan_steps = _lengths(X), np.isnan(X).any(axis=2)
    interior = nan_steps & (np.arange(X.shape[1]) < lengths[:, None])
    chosen = set(range(min(n_first, len(X))))
    chosen |= {int(np.argmax(lengths)), int(np.argmin(lengths)), int(np.argmax(interior.sum(1)))}
    leading = np.flatnonzero(nan_steps[:, 0])
    if len(leading):
        chosen.add(int(leading[0]))
    return X[sorted(chosen)]


@functools.cache
def _data(name: str):
    """``(X_fit, X_test, shortest)``: NaN-padded subsets, and the shortest test series
    without its padding (a collection of one, as a user would pass it)."""
    X_train, _, X_test, _ = load_dataset(name, data_home=SHARED_DATA, download=False)
    X_test = _pick(X_test, N_FIRST_TEST)
    shortest = X_test[np.argmin(_lengths(X_test))]
    return _pick(X_train, N_FIRST_TRAIN), X_test, shortest[: _lengths(shortest[None])[0]]


@pytest.mark.slow
# One step on ten series leaves most of NC-VQVAE's codebook unused, as it says.
@pytest.mark.filterwarnings("ignore:NCVQVAETransformer. only .* codes are used:UserWarning")
@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_defaults_fit_and_transform(shared_data, cls, name):
    X_fit, X_test, shortest = _data(name)
    est = _defaults(cls)
    est.fit(X_fit)
    assert est.n_iter_ == 1, "the training step did not run"

    n_out = len(est.get_feature_names_out())
    Z = est.transform(X_test)
    assert Z.shape == (len(X_test), n_out)
    assert np.isfinite(Z).all()
    Z_short = est.transform([shortest])
    assert Z_short.shape == (1, n_out) and np.isfinite(Z_short).all()

    if "timestamp" in est.valid_levels:
        Zt = est.encode(X_test, level="timestamp")
        assert Zt.shape == (*X_test.shape[:2], est.embedding_dims("timestamp"))
        assert np.isfinite(Zt[~np.isnan(X_test).any(axis=2)]).all()


def test_every_shared_dataset_is_listed(shared_data):
    """The cross product above covers the whole archive (35 UCR and 12 UEA sets)."""
    assert len(DATASETS) >= 47
    assert {"JapaneseVowels", "PenDigits", "StandWalkJump", "DodgerLoopDay"} <= set(DATASETS)
