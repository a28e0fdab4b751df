"""``n_threads``: torch's thread count is set for one call and always restored.

The session runs on one torch thread (``conftest.py``); these tests raise the
process's count to two around each check and fit with ``n_threads=1``, so that the
count seen inside a call differs from the one before it while every computation
still runs on one thread.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from estimator_configs import (
    configured_estimators,
    estimator_id,
    is_transformer,
    make_tiny,
    model_output,
    small_series,
)
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sslts import Callback, NCVQVAETransformer, TS2VecTransformer, _accelerate
from sslts._accelerate import thread_limit

ESTIMATORS = configured_estimators()
X = small_series()
OUTSIDE = 2  # the process's count around each test


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(OUTSIDE)
    yield
    torch.set_num_threads(previous)


class _RecordThreads(Callback):
    """Records ``torch.get_num_threads()`` at every hook of the fit."""

    def __init__(self):
        self.seen = []

    def on_fit_start(self, est, ctx):
        self.seen.append(torch.get_num_threads())

    def on_step_end(self, est, ctx):
        self.seen.append(torch.get_num_threads())

    def on_fit_end(self, est, ctx):
        self.seen.append(torch.get_num_threads())


def _record_embed(monkeypatch, est) -> list:
    seen, original = [], est.embed

    def embed(module, batch, level):
        seen.append(torch.get_num_threads())
        return original(module, batch, level)

    monkeypatch.setattr(est, "embed", embed)
    return seen


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_fit_and_transform_run_on_n_threads_and_restore(cls, two_threads, monkeypatch):
    est = make_tiny(cls, n_threads=1, callbacks=[_RecordThreads()]).fit(X)
    seen = est.callbacks_[0].seen
    assert len(seen) == 2 + est.n_iter_
    assert set(seen) == {1}
    assert torch.get_num_threads() == OUTSIDE
    if is_transformer(est):
        embedded = _record_embed(monkeypatch, est)
        est.transform(X)
        est.encode(X[:3], batch_size=2)
    else:  # a generator: the prior's passes while sampling
        embedded = []
        hook = est.module_.register_forward_pre_hook(
            lambda module, args: embedded.append(torch.get_num_threads()))
        est.sample(2, random_state=0)
        hook.remove()
    assert embedded and set(embedded) == {1}
    assert torch.get_num_threads() == OUTSIDE


@pytest.mark.parametrize("fault", ["fit", "encode"])
def test_count_is_restored_when_the_call_raises(fault, two_threads, monkeypatch):
    est = make_tiny(TS2VecTransformer, n_threads=1)
    if fault == "encode":
        est.fit(X)
        target = "embed"
    else:
        target = "training_step"

    def fail(*args):
        assert torch.get_num_threads() == 1
        raise RuntimeError("injected")

    monkeypatch.setattr(est, target, fail)
    with pytest.raises(RuntimeError, match="injected"):
        est.fit(X) if fault == "fit" else est.transform(X)
    assert torch.get_num_threads() == OUTSIDE


def test_ncvqvae_tokenize_and_reconstruct_run_on_n_threads(two_threads, monkeypatch):
    est = make_tiny(NCVQVAETransformer, n_threads=1).fit(X)
    seen, original = [], est._quantised

    def quantised(module, batch):
        seen.append(torch.get_num_threads())
        return original(module, batch)

    monkeypatch.setattr(est, "_quantised", quantised)
    est.tokenize(X)
    est.reconstruct(X)
    assert len(seen) >= 2 and set(seen) == {1}
    assert torch.get_num_threads() == OUTSIDE


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_none_leaves_the_setting_alone(cls, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n))
    before = torch.get_num_threads()
    est = make_tiny(cls, callbacks=[_RecordThreads()]).fit(X)
    model_output(est, X)
    assert est.n_threads is None
    assert calls == []
    assert set(est.callbacks_[0].seen) == {before}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_clone_and_get_params_keep_n_threads(cls):
    est = make_tiny(cls, n_threads=3)
    assert est.get_params()["n_threads"] == 3
    assert clone(est).n_threads == 3
    assert clone(est.set_params(n_threads=None)).n_threads is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_invalid_n_threads_fail_validation(bad):
    with pytest.raises(InvalidParameterError, match="'n_threads' parameter .* int in"):
        make_tiny(TS2VecTransformer, n_threads=bad).fit(X)


def test_invalid_n_threads_set_after_fit_fail_in_encode():
    est = make_tiny(TS2VecTransformer).fit(X).set_params(n_threads=0)
    with pytest.raises(ValueError, match="n_threads must be None or an int >= 1, got 0"):
        est.transform(X)


def test_thread_limits_nest_and_restore_in_order(two_threads, monkeypatch):
    monkeypatch.setattr(_accelerate, "busy_cores", lambda: 0)  # an idle machine
    with thread_limit(1):
        assert torch.get_num_threads() == 1
        with thread_limit(3), thread_limit(None):  # None: no more threads than cores
            assert torch.get_num_threads() == min(3, len(os.sched_getaffinity(0)))
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == OUTSIDE


@pytest.mark.parametrize("busy, expected", [(0, 2), (1, 1), (5, 1)])
def test_the_default_uses_only_the_idle_cores_and_restores_the_count(
        two_threads, monkeypatch, busy, expected):
    monkeypatch.setattr(_accelerate, "busy_cores", lambda: busy)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    est = make_tiny(TS2VecTransformer, callbacks=[_RecordThreads()]).fit(X)
    assert set(est.callbacks_[0].seen) == {expected}
    assert torch.get_num_threads() == OUTSIDE


def test_without_a_reading_the_default_keeps_torchs_count(two_threads, monkeypatch):
    monkeypatch.setattr(_accelerate, "busy_cores", lambda: None)
    assert _accelerate.auto_threads() == OUTSIDE


def test_busy_cores_reads_the_kernel_once_a_second(monkeypatch):
    reads = []
    real_open = open

    def counting_open(path, *args, **kwargs):
        reads.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_accelerate, "_BUSY", [-float("inf"), None])
    monkeypatch.setattr("builtins.open", counting_open)
    first = _accelerate.busy_cores()
    if first is None:
        pytest.skip("no /proc/stat here")
    _accelerate.busy_cores()
    assert len(reads) == 5  # five reads, then the cached answer


def test_n_threads_does_not_change_the_embeddings():
    Z = make_tiny(TS2VecTransformer).fit(X).transform(X)
    np.testing.assert_array_equal(make_tiny(TS2VecTransformer, n_threads=1).fit(X).transform(X), Z)
