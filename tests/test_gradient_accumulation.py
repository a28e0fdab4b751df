"""Gradient accumulation (``sslts.callbacks.GradientAccumulation``)."""

import numpy as np
import pytest
import torch

from sslts import IARSTransformer, TimeDRLTransformer, TS2VecTransformer
from sslts.callbacks import Callback, GradientAccumulation
from sslts.encoders import FastDropout

TINY_TIMEDRL = dict(output_dims=8, n_heads=2, n_layers=1, patch_len=4, stride=4, n_epochs=1,
                    min_epoch_steps=1, random_state=0)


class _NoDropoutTimeDRL(TimeDRLTransformer):
    """TimeDRL whose loss is a mean of per-series terms: no dropout (its views), and the
    predictor's batch norm on its (initial) running statistics."""

    def on_fit_start(self, ctx):
        for m in self.module_.modules():
            if isinstance(m, (torch.nn.Dropout, FastDropout)):
                m.p = 0.0
            if isinstance(getattr(m, "dropout", None), float):  # attention dropout
                m.dropout = 0.0
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
        super().on_fit_start(ctx)


def _series(n=16, T=24, C=2):
    return np.random.default_rng(0).normal(size=(n, T, C)).astype(np.float32)


class _KeepGradient(Callback):
    """Records the gradient every optimiser step used."""

    def on_fit_start(self, estimator, ctx):
        self.grads_ = []

    def on_step_end(self, estimator, ctx):
        self.grads_.append(torch.cat([p.grad.flatten() for p in estimator.module_.parameters()
                                      if p.grad is not None]))


def test_micro_batches_give_the_whole_batch_gradient():
    # TimeDRL's loss is a mean over series, and without dropout its two views are
    # deterministic: one step from four micro-batches must equal one whole-batch step.
    X = _series()
    whole = _NoDropoutTimeDRL(batch_size=16, callbacks=[_KeepGradient()], **TINY_TIMEDRL)
    micro = _NoDropoutTimeDRL(batch_size=16, callbacks=[_KeepGradient(), GradientAccumulation(4)],
                              **TINY_TIMEDRL)
    whole.fit(X)
    micro.fit(X)
    assert whole.n_iter_ == micro.n_iter_ == 1
    (g_whole,), (g_micro,) = whole.callbacks_[0].grads_, micro.callbacks_[0].grads_
    torch.testing.assert_close(g_micro, g_whole, rtol=1e-4, atol=1e-7)
    assert micro.loss_history_ == pytest.approx(whole.loss_history_, rel=1e-5)
    # The check can fail: the gradient of a quarter of the batch is another one.
    quarter = _NoDropoutTimeDRL(batch_size=4, callbacks=[_KeepGradient()],
                                **{**TINY_TIMEDRL, "n_epochs": None, "n_iters": 1}).fit(X)
    assert not torch.allclose(quarter.callbacks_[0].grads_[0], g_whole, rtol=1e-4, atol=1e-7)


class _RecordBatches(TimeDRLTransformer):
    def training_step(self, module, batch, ctx):
        self.seen_.append((len(batch), ctx.is_last_micro_batch))
        return super().training_step(module, batch, ctx)

    def on_fit_start(self, ctx):
        self.seen_ = []
        super().on_fit_start(ctx)


def test_micro_batches_are_bounded_and_a_single_series_tail_is_merged():
    enc = _RecordBatches(batch_size=9, callbacks=[GradientAccumulation(4)], **TINY_TIMEDRL)
    enc.fit(_series(n=9))
    # 9 = 4 + 4 + 1: the one-series tail joins the previous micro-batch.
    assert enc.seen_ == [(4, False), (5, True)]
    assert enc.n_iter_ == 1


def test_micro_batch_at_least_the_batch_changes_nothing():
    X = _series(n=8, T=20, C=1)
    kw = dict(output_dims=4, hidden_dims=4, depth=1, n_iters=3, batch_size=4, random_state=0)
    plain = TS2VecTransformer(**kw).fit(X)
    same = TS2VecTransformer(callbacks=[GradientAccumulation(4)], **kw).fit(X)
    np.testing.assert_array_equal(same.transform(X), plain.transform(X))


def test_iars_keeps_one_resolution_per_accumulated_step():
    X = _series(n=8, T=32, C=1)
    enc = IARSTransformer(output_dims=4, hidden_dims=4, depth=1, n_iters=3, batch_size=8,
                          selection_frequency="iteration", random_state=0,
                          callbacks=[GradientAccumulation(2)]).fit(X)
    assert len(enc.resolution_history_) == enc.n_iter_ == 3
    assert enc.resolution_losses_.shape[0] == 3


@pytest.mark.parametrize("size", [0, -2, 2.5, True, "4"])
def test_bad_micro_batch_size_is_a_clear_error(size):
    enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_iters=1,
                            callbacks=[GradientAccumulation(size)])
    with pytest.raises((ValueError, TypeError), match="micro_batch_size"):
        enc.fit(_series(n=4, T=16, C=1))
