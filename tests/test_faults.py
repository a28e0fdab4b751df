"""Faults during training and inference: divergence, Ctrl-C, out of memory, resuming.

Each fault is injected into a real fit of every registered estimator by wrapping its
``training_step`` hook (and into the ``embed`` hook of the transformers); the
reference is an undisturbed fit with the same seed, so "keeps the last good weights"
is checked bit for bit.
"""

from __future__ import annotations

import math

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
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from sslts import Callback, Checkpoint, TrainingDivergedError

ESTIMATORS = configured_estimators()
TRANSFORMERS = configured_estimators("transformer")
# 12 series in batches of 4: three optimiser steps per epoch.
X = small_series()


def _epochs(cls, n_epochs, **params):
    return make_tiny(cls, n_iters=None, n_epochs=n_epochs, **params)


class _StopAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, est, ctx):
        ctx.stop = ctx.epoch >= self.epoch


def _reference(cls, n_epochs, stop_after):
    """An undisturbed fit with the same budget (schedules may depend on it), stopped early."""
    return _epochs(cls, n_epochs, callbacks=[_StopAfter(stop_after)]).fit(X)


def _inject(monkeypatch, est, epoch: int, fault):
    """From the first step of ``epoch`` (1-based) on, ``fault(original_step, args)``."""
    original = est.training_step

    def step(module, batch, ctx):
        if est.n_epochs_ + 1 >= epoch:  # n_epochs_ counts completed epochs
            return fault(original, module, batch, ctx)
        return original(module, batch, ctx)

    monkeypatch.setattr(est, "training_step", step)


def _raise(exc):
    def fault(*args):
        raise exc

    return fault


def _assert_same_model(est, ref):
    assert est.n_epochs_ == ref.n_epochs_
    assert est.n_iter_ == ref.n_iter_
    assert est.loss_history_ == ref.loss_history_
    np.testing.assert_array_equal(model_output(est, X), model_output(ref, X))


@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_divergence_stops_and_keeps_last_good_weights(cls, bad, monkeypatch):
    reference = _reference(cls, 4, stop_after=2)
    est = _epochs(cls, 4)
    # The poisoned loss is back-propagated, so the optimiser writes NaN weights.
    _inject(monkeypatch, est, 3, lambda step, *args: step(*args) * bad)
    with pytest.raises(TrainingDivergedError, match=r"epoch 3\..*Lower lr \(now 0\.0"):
        est.fit(X)
    assert all(torch.isfinite(p).all() for p in est.module_.parameters())
    _assert_same_model(est, reference)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_keyboard_interrupt_keeps_a_usable_estimator(cls, monkeypatch):
    reference = _reference(cls, 4, stop_after=2)
    est = _epochs(cls, 4)
    _inject(monkeypatch, est, 3, _raise(KeyboardInterrupt))
    with pytest.warns(RuntimeWarning, match="interrupted after 6 iterations"):
        est.fit(X)
    _assert_same_model(est, reference)
    monkeypatch.undo()
    est.set_params(warm_start=True, n_epochs=1).fit(X)  # and training can go on
    assert est.n_epochs_ == 3


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_fit_out_of_memory_names_the_parameters_to_lower(cls, monkeypatch):
    reference = _reference(cls, 3, stop_after=1)
    est = _epochs(cls, 3)
    _inject(monkeypatch, est, 2, _raise(torch.OutOfMemoryError("CUDA out of memory.")))
    with pytest.raises(torch.OutOfMemoryError, match="batch_size=4") as info:
        est.fit(X)
    if "max_train_length" in est.get_params():
        assert "max_train_length" in str(info.value)
    assert "Lower batch_size" in str(info.value)
    _assert_same_model(est, reference)


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=estimator_id)
def test_transform_retries_smaller_batches_on_out_of_memory(cls, monkeypatch):
    est = make_tiny(cls).fit(X)
    expected = est.encode(X, batch_size=3)
    original, sizes = est.embed, []

    def embed(module, batch, level):
        sizes.append(len(batch))
        if len(batch) > 3:
            raise torch.OutOfMemoryError("CUDA out of memory.")
        return original(module, batch, level)

    monkeypatch.setattr(est, "embed", embed)
    np.testing.assert_array_equal(est.encode(X, batch_size=12), expected)
    assert sizes == [12, 6, 3, 3, 3, 3]


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=estimator_id)
def test_transform_out_of_memory_on_one_series_says_what_to_do(cls, monkeypatch):
    est = make_tiny(cls).fit(X)
    monkeypatch.setattr(est, "embed", _raise(torch.OutOfMemoryError("CUDA out of memory.")))
    with pytest.raises(torch.OutOfMemoryError, match="single series of length 24"):
        est.transform(X)


# ----------------------------------------------------------------- checkpoints
@pytest.mark.parametrize(("every", "stop_at"), [(1, 3), (2, 4)])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_resume_after_interrupt_equals_an_uninterrupted_fit(cls, every, stop_at, tmp_path,
                                                          monkeypatch):
    uninterrupted = _epochs(cls, 5).fit(X)
    est = _epochs(cls, 5)
    _inject(monkeypatch, est, stop_at, _raise(KeyboardInterrupt))
    with pytest.warns(RuntimeWarning, match="interrupted"):
        est.fit(X, checkpoint=Checkpoint(tmp_path, every=every))
    assert est.n_epochs_ == stop_at - 1
    resumed = _epochs(cls, 5).fit(X, checkpoint=Checkpoint(tmp_path, every=every))
    _assert_same_model(resumed, uninterrupted)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_resume_with_an_iteration_budget(cls, tmp_path, monkeypatch):
    # 7 steps: two full epochs of 3 and one step of a third.
    uninterrupted = make_tiny(cls, n_iters=7).fit(X)
    est = make_tiny(cls, n_iters=7)
    _inject(monkeypatch, est, 3, _raise(KeyboardInterrupt))
    with pytest.warns(RuntimeWarning):
        est.fit(X, checkpoint=str(tmp_path))  # a path stands for Checkpoint(path)
    resumed = make_tiny(cls, n_iters=7).fit(X, checkpoint=str(tmp_path))
    _assert_same_model(resumed, uninterrupted)


def test_checkpoint_refuses_other_parameters_or_data(tmp_path):
    cls = ESTIMATORS[0]
    _epochs(cls, 2).fit(X, checkpoint=Checkpoint(tmp_path))
    with pytest.raises(ValueError, match=r"other values of \['lr'\]"):
        _epochs(cls, 2, lr=0.1).fit(X, checkpoint=Checkpoint(tmp_path))
    with pytest.raises(ValueError, match="other data"):
        _epochs(cls, 2).fit(X[:8], checkpoint=Checkpoint(tmp_path))
    with pytest.raises(ValueError, match="is not a"):
        other = next(c for c in ESTIMATORS if c is not cls)
        _epochs(other, 2).fit(X, checkpoint=Checkpoint(tmp_path))


def test_finished_checkpoint_loads_without_training_and_resume_false_restarts(tmp_path):
    cls = ESTIMATORS[0]
    first = _epochs(cls, 2).fit(X, checkpoint=Checkpoint(tmp_path))
    again = _epochs(cls, 2).fit(X, checkpoint=Checkpoint(tmp_path))
    _assert_same_model(again, first)
    other_seed = _epochs(cls, 2, random_state=1)
    with pytest.raises(ValueError, match="random_state"):
        other_seed.fit(X, checkpoint=Checkpoint(tmp_path))
    other_seed.fit(X, checkpoint=Checkpoint(tmp_path, resume=False))
    _assert_same_model(other_seed, _epochs(cls, 2, random_state=1).fit(X))


def test_checkpoint_writes_every_n_epochs_and_through_a_pipeline(tmp_path, monkeypatch):
    cls = ESTIMATORS[0]
    written = []
    monkeypatch.setattr(Checkpoint, "write", lambda self, est, ctx: written.append(ctx.epoch))
    pipe = Pipeline([("enc", _epochs(cls, 5)), ("svc", SVC())])
    pipe.fit(X, np.arange(12) % 2, enc__checkpoint=Checkpoint(tmp_path, every=2))
    assert written == [2, 4, 5]  # every 2 epochs, and the end of training


def test_checkpoint_rejects_a_bad_interval(tmp_path):
    est = make_tiny(ESTIMATORS[0])
    with pytest.raises(ValueError, match="'every' parameter of Checkpoint"):
        est.fit(X, checkpoint=Checkpoint(tmp_path, every=0))
    assert not hasattr(est, "module_")
