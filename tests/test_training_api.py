"""The method-author and training API: public hooks, one learning-rate schedule, the
gradient hook and GradientClipping, the constructor convention and the shared docs."""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest
import torch
from estimator_configs import configured_estimators, estimator_id, make_tiny, small_series

from sslts import TimeDRLTransformer, TS2VecTransformer, all_estimators
from sslts.base import BaseSSLTransformer, store_init_arguments
from sslts.callbacks import (
    Callback,
    Checkpoint,
    GradientAccumulation,
    GradientClipping,
    History,
    LearningRateScheduler,
)
from sslts.encoders import TS2VecEncoder

ESTIMATORS = configured_estimators()
X = small_series(n_series=12, n_timestamps=24)


def _params(est):
    return [p for p in est.module_.parameters() if p.requires_grad]


class GradientProbe(Callback):
    """Records the gradient norm every time the optimiser is about to step."""

    def on_fit_start(self, est, ctx):
        self.norms = []

    def on_before_optimizer_step(self, est, ctx):
        grads = [p.grad for p in _params(est) if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(g) for g in grads]))))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_gradient_clipping_bounds_every_step(cls):
    free = make_tiny(cls, n_iters=4, callbacks=[GradientProbe()]).fit(X)
    unclipped = free.callbacks_[0].norms
    assert len(unclipped) == free.n_iter_ and min(unclipped) > 0
    max_norm = min(unclipped) / 10
    clipped = make_tiny(cls, n_iters=4,
                        callbacks=[GradientClipping(max_norm), GradientProbe()]).fit(X)
    norms = clipped.callbacks_[1].norms
    assert len(norms) == clipped.n_iter_
    assert max(norms) <= max_norm * (1 + 1e-4)
    assert float(clipped.callbacks_[0].last_norm_) > max_norm  # it did clip
    # Clipping changed the training, and nothing else did: same first gradient.
    assert clipped.callbacks_[0].last_norm_.ndim == 0
    assert not all(torch.equal(a, b) for a, b in zip(_params(free), _params(clipped)))


def test_clipping_a_large_bound_changes_nothing():
    ref = make_tiny(TS2VecTransformer, n_iters=3).fit(X)
    est = make_tiny(TS2VecTransformer, n_iters=3, callbacks=[GradientClipping(1e9)]).fit(X)
    assert est.loss_history_ == ref.loss_history_
    np.testing.assert_array_equal(est.transform(X), ref.transform(X))


@pytest.mark.parametrize("bad", [0, -1.0, True, "1", float("nan")])
def test_gradient_clipping_refuses_bad_bounds(bad):
    with pytest.raises(ValueError, match="'max_norm' parameter of GradientClipping"):
        make_tiny(TS2VecTransformer, callbacks=[GradientClipping(bad)]).fit(X)


def _rates(est):
    history = next(cb for cb in est.callbacks_ if isinstance(cb, History))
    return [row["lr"] for row in history.history_]


def test_a_method_schedule_and_a_callback_schedule_are_refused():
    sched = LearningRateScheduler(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    est = make_tiny(TimeDRLTransformer, n_iters=None, n_epochs=3, callbacks=[sched])
    with pytest.raises(ValueError, match="lr_schedule='constant'"):
        est.fit(X)
    est.set_params(lr_schedule="constant", callbacks=[sched, History()], lr=1e-3).fit(X)
    assert _rates(est) == [1e-3, 5e-4, 2.5e-4]


def test_two_callback_schedules_are_refused():
    make = lambda: LearningRateScheduler(torch.optim.lr_scheduler.StepLR, step_size=1)  # noqa: E731
    with pytest.raises(ValueError, match="at most one LearningRateScheduler"):
        make_tiny(TS2VecTransformer, callbacks=[make(), make()]).fit(X)


@pytest.mark.parametrize("step_every", ["epoch", "step"])
def test_a_callback_schedule_resumes_from_a_checkpoint_exactly(tmp_path, step_every):
    def est(callbacks=()):
        sched = LearningRateScheduler(torch.optim.lr_scheduler.StepLR, step_every=step_every,
                                      step_size=2, gamma=0.5)
        return make_tiny(TS2VecTransformer, n_iters=None, n_epochs=4,
                         callbacks=[sched, History(), *callbacks])

    class StopAfterTwo(Callback):
        def on_epoch_end(self, e, ctx):
            if ctx.epoch == 2:
                raise KeyboardInterrupt

    ref = est().fit(X)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        est([StopAfterTwo()]).fit(X, checkpoint=Checkpoint(tmp_path))
    resumed = est().fit(X, checkpoint=Checkpoint(tmp_path))
    assert resumed.loss_history_ == ref.loss_history_
    assert _rates(resumed)[-2:] == _rates(ref)[-2:]


def test_a_warm_start_trains_at_the_new_learning_rate():
    est = make_tiny(TS2VecTransformer, n_iters=None, n_epochs=1, lr=1e-3,
                    callbacks=[History()]).fit(X)
    est.set_params(warm_start=True, lr=1e-5).fit(X)
    assert _rates(est) == [1e-5]
    assert est.n_epochs_ == 2


def test_the_cosine_schedule_reaches_zero_at_the_end_of_the_budget():
    cls = next(c for c in ESTIMATORS if c.__name__ == "VIbCRegTransformer")
    seen = []

    class Rate(Callback):
        def on_step_end(self, est, ctx):
            seen.append(ctx.optimizer.param_groups[0]["lr"])

    make_tiny(cls, n_iters=4, lr=1e-2, callbacks=[Rate()]).fit(X)
    expected = [1e-2 * 0.5 * (1 + np.cos(np.pi * k / 4)) for k in range(1, 5)]
    np.testing.assert_allclose(seen, expected, atol=1e-15)


class _Denoiser(BaseSSLTransformer):
    """A test method.

    Parameters
    ----------
    output_dims : int, default=4
        Size of the embeddings.
    [shared parameters]

    Attributes
    ----------
    [shared attributes]
    """

    def __init__(self, *, output_dims=4, n_epochs=None, n_iters=None, batch_size=4, lr=1e-3,
                 drop_last=True, level="instance", device="cpu", random_state=None, verbose=0,
                 warm_start=False, n_iter_no_change=None, tol=1e-4, precision="float32",
                 compile=False, callbacks=None, sync_batchnorm=False,
                 input_layout="channels_last", n_threads=None):
        store_init_arguments(self, locals())

    def build_module(self, n_channels):
        return TS2VecEncoder(n_channels, self.output_dims, hidden_dims=4, depth=1, dropout=0.0)

    def training_step(self, module, batch, ctx):
        return module(torch.nan_to_num(batch)).pow(2).mean()

    def embed(self, module, batch, level):
        z = module(batch)
        return z if level == "timestamp" else z.amax(dim=1)


def test_the_gradient_hook_runs_once_per_step_on_the_whole_accumulated_gradient():
    def probe(callbacks):
        est = _Denoiser(n_iters=2, batch_size=12, random_state=3, callbacks=callbacks).fit(X)
        return est.callbacks_[-1].norms

    whole, parts = probe([GradientProbe()]), probe([GradientAccumulation(4), GradientProbe()])
    assert len(parts) == 2
    # The loss is a mean of per-series terms: the summed micro-batch gradients are
    # the whole batch's.
    np.testing.assert_allclose(parts, whole, rtol=1e-5)


def test_a_method_on_the_public_hooks_fits_and_transforms():
    est = _Denoiser(n_iters=2, random_state=0).fit(X)
    assert est.transform(X).shape == (12, 4)


def test_the_old_private_hook_names_still_work_with_a_future_warning():
    with pytest.warns(FutureWarning, match="_build_module is the hook's old name"):
        class Old(_Denoiser):  # noqa: F811
            def _build_module(self, n_channels):
                return TS2VecEncoder(n_channels, 3, hidden_dims=4, depth=1)

            def _embed(self, module, batch, level):
                return module(batch).amax(dim=1)

    assert Old(n_iters=2, random_state=0).fit(X).transform(X).shape == (12, 3)


def test_the_constructor_convention_is_checked_when_the_class_is_defined():
    with pytest.raises(TypeError, match="keyword-only"):
        class Positional(_Denoiser):
            def __init__(self, output_dims=4):
                self.output_dims = output_dims
    with pytest.raises(TypeError, match=r"missing: \['n_threads'\]"):
        class Missing(_Denoiser):
            def __init__(self, *, output_dims=4, n_epochs=None, n_iters=None, batch_size=4,
                         lr=1e-3, drop_last=True, level="instance", device="cpu",
                         random_state=None, verbose=0, warm_start=False,
                         n_iter_no_change=None, tol=1e-4, precision="float32", compile=False,
                         callbacks=None, sync_batchnorm=False, input_layout="channels_last"):
                pass


def test_a_method_declares_only_its_own_constraints():
    class Checked(_Denoiser):
        parameter_constraints = {"output_dims": [int]}

    assert Checked._parameter_constraints["output_dims"] == [int]
    assert Checked._parameter_constraints["lr"] == BaseSSLTransformer.parameter_constraints["lr"]


def _documented(doc: str, section: str = "Parameters") -> dict[str, list[str]]:
    """``name: [type heads]`` of a section's entries; "a, b : type" documents a and b.

    An entry without a type ("a, b" alone on its line) documents its names too, with
    an empty head, so a combined entry that repeats shared entries is caught.
    """
    body = re.search(rf"^    {section}\n    -+\n(.*?)(?=\n\n    \w[^\n]*\n    -+\n|\Z)", doc,
                     flags=re.S | re.M).group(1)
    entries = {}
    for names, head in re.findall(r"^    (\w+(?:, *\w+)*)(?: : (.*))?$", body, flags=re.M):
        for name in re.split(r", *", names):
            entries.setdefault(name, []).append(head)
    return entries


def test_documented_reads_combined_entries():
    doc = """Demo.

    Parameters
    ----------
    alpha, beta : int, default=1
        Two names, one entry.
    gamma, delta
        No type.
    alpha : int, default=1
        Again.

    Attributes
    ----------
    x_ : int
    """
    assert _documented(doc) == {"alpha": ["int, default=1", "int, default=1"],
                                "beta": ["int, default=1"], "gamma": [""], "delta": [""]}
    assert _documented(doc, "Attributes") == {"x_": ["int"]}


@pytest.mark.parametrize("cls", [*all_estimators(), _Denoiser], ids=lambda c: c.__name__)
def test_every_parameter_is_documented_once_with_its_own_default(cls):
    documented = _documented(cls.__doc__)
    signature = inspect.signature(cls.__init__).parameters
    assert "[shared" not in cls.__doc__
    for name, param in signature.items():
        if name == "self":
            continue
        assert len(documented.get(name, [])) == 1, f"{cls.__name__}.{name}: {documented.get(name)}"
        head = documented[name][0]
        default = param.default
        shown = f'"{default}"' if isinstance(default, str) else repr(default)
        if "default=" in head:
            value = head.split("default=", 1)[1]
            assert value == shown or float(value) == default, (cls.__name__, name, head)


@pytest.mark.parametrize("cls", [*all_estimators(), _Denoiser], ids=lambda c: c.__name__)
def test_every_attribute_is_documented_once(cls):
    # The [shared attributes] marker inserts the shared ones; a class that also lists
    # them itself (alone or in a combined entry) documents them twice.
    twice = {name: heads for name, heads in _documented(cls.__doc__, "Attributes").items()
             if len(heads) > 1}
    assert not twice, f"{cls.__name__}: {twice}"


def test_estimators_are_registered_by_subclassing():
    names = {cls.__name__ for cls in all_estimators()}
    assert "TS2VecTransformer" in names and "_Denoiser" not in names

    class UserMethod(_Denoiser):
        pass

    assert UserMethod in all_estimators(include_external=True)
    assert UserMethod not in all_estimators()


def test_no_warning_from_a_plain_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_tiny(TS2VecTransformer).fit(X)
