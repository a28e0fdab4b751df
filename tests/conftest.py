"""Shared fixtures: the real benchmark data beside the checkout."""

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("SSLTS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)

#: Seconds a subprocess of a test may run before it counts as hung.  Generous on
#: purpose: a slow or busy machine must not fail a test; only a hang should.
TIMEOUT = int(os.environ.get("SSLTS_TEST_TIMEOUT", 3600))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data`` (UCR/UEA/ETT); skips when it is not there."""
    if not (SHARED_DATA / "ucr").is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """pytest-xdist runs one worker per core; more torch threads would oversubscribe."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
