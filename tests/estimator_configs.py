"""Tiny CPU configurations of every sslts estimator, shared by the reliability tests.

Every class that :func:`sslts.all_estimators` finds needs an entry in
``TINY``; ``tests/test_common.py::test_every_estimator_has_a_tiny_config`` fails with
instructions when a new estimator has none.
"""

from __future__ import annotations

import numpy as np
import pytest

from sslts import all_estimators

# Shared by every configuration: a few CPU iterations, reproducible.
COMMON = {"n_iters": 2, "batch_size": 4, "device": "cpu", "random_state": 0}

# Method-specific sizes: the smallest networks that still exercise every layer type.
TINY = {
    "BarlowTwinsTransformer": {"encoder_params": {"base_width": 2}, "projector_dims": 8},
    "IARSTransformer": {"output_dims": 4, "hidden_dims": 4, "depth": 1},
    "InfoNCETransformer": {
        "encoder_params": {"output_dims": 4, "hidden_dims": 4},
        "window_length": 8,
    },
    "NCVQVAETransformer": {
        "output_dims": 8,
        "n_codes": 4,
        "n_res_blocks": 1,
        "projector_dims": 16,
    },
    "SelfTimeTransformer": {"output_dims": 4, "n_views": 2, "piece_size": 0.7},
    "TS2VecTransformer": {"output_dims": 4, "hidden_dims": 4, "depth": 1},
    "TimeDRLTransformer": {
        "output_dims": 4,
        "n_heads": 1,
        "n_layers": 1,
        "patch_len": 4,
        "stride": 2,
        "min_epoch_steps": 1,  # an epoch is one pass, as the suites count steps
    },
    "VIbCRegTransformer": {
        "encoder_params": {"base_width": 2},
        "projector_dims": 8,
        "iternorm_groups": 2,
    },
}


def configured_estimators() -> list[type]:
    """Registered estimator classes that have a tiny configuration."""
    return [cls for cls in all_estimators() if cls.__name__ in TINY]


def make_tiny(cls: type, **overrides):
    """A tiny, seeded CPU instance of ``cls`` (``overrides`` win)."""
    if cls.__name__ not in TINY:
        pytest.fail(
            f"{cls.__name__} has no tiny configuration: add an entry to TINY in "
            "tests/estimator_configs.py (small widths and depth, so that a fit takes "
            "milliseconds) to run the common checks on it."
        )
    return cls(**{**COMMON, **TINY[cls.__name__], **overrides})


def estimator_id(cls: type) -> str:
    return cls.__name__


def small_series(n_series: int = 12, n_timestamps: int = 24, seed: int = 0):
    """Noisy sines with random phases, shape (n_series, n_timestamps)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 4 * np.pi, n_timestamps)
    phase = rng.uniform(0, 2 * np.pi, (n_series, 1))
    return np.sin(t[None, :] + phase) + 0.1 * rng.normal(size=(n_series, n_timestamps))
