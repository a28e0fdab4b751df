"""Tiny CPU configurations of every sslts estimator, shared by the reliability tests.

Every class that :func:`sslts.all_estimators` finds needs an entry in
``TINY``; ``tests/test_common.py::test_every_estimator_has_a_tiny_config`` fails with
instructions when a new estimator has none.
"""

from __future__ import annotations

import numpy as np
import pytest

from sslts import NCVQVAETransformer, all_estimators

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
    "NCVQVAEGenerator": {
        "tokenizer": NCVQVAETransformer(output_dims=8, n_codes=4, n_res_blocks=1,
                                        projector_dims=16, n_iters=2, batch_size=4,
                                        device="cpu"),
        "hidden_dims": 8,
        "n_layers": 1,
        "n_heads": 1,
        "head_dims": 4,
        "n_decoding_steps": 3,
    },
    "NCVQVAETransformer": {
        "output_dims": 8,
        "n_codes": 4,
        "n_res_blocks": 1,
        "projector_dims": 16,
    },
    "SelfTimeTransformer": {"output_dims": 4, "n_views": 2, "piece_size": 0.7},
    "SoftCLTTransformer": {"output_dims": 4, "hidden_dims": 4, "depth": 1},
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


def configured_estimators(type_filter=None) -> list[type]:
    """Registered estimator classes that have a tiny configuration.

    ``type_filter="transformer"`` keeps the ones with ``transform`` (the checks of
    embeddings and of the aeon/sktime adapters); None keeps every estimator (the
    checks of the shared machinery: parameters, loop, faults, persistence).
    """
    return [cls for cls in all_estimators(type_filter=type_filter) if cls.__name__ in TINY]


def is_transformer(estimator) -> bool:
    """Whether an estimator (or class) computes embeddings (``transform``)."""
    return callable(getattr(estimator, "transform", None))


def model_output(estimator, X) -> np.ndarray:
    """What a fitted estimator computes, to compare two fits bit for bit.

    The embeddings of ``X`` for a transformer; four seeded samples for a generator.
    """
    if is_transformer(estimator):
        return estimator.transform(X)
    return estimator.sample(4, random_state=0)


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
