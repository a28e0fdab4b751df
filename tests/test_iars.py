"""IARSTransformer: each selection step against hand-computed values, and the estimator."""

import math
import pickle
import sys

import numpy as np
import pytest
import torch

from sslts import IARSTransformer, TrainContext, TS2VecTransformer, load, load_dataset
from sslts.encoders.resnet import ResNet18Encoder
from sslts.losses import hierarchical_contrastive_loss, level_losses, single_level_loss
from sslts.methods import iars
from sslts.methods.iars import align_level_losses, forward_fill, selection_probabilities
from sslts.utils.devices import seeded_torch
from sslts.utils.torch_utils import RandomStreams

TINY = dict(output_dims=8, hidden_dims=8, depth=2, batch_size=8, device="cpu")


@pytest.fixture(scope="module")
def gunpoint():
    X_train, _, X_test, _ = load_dataset("GunPoint")
    return X_train, X_test


# -- the single-level loss --------------------------------------------------------
@pytest.mark.parametrize("alpha, temporal_unit", [(0.5, 0), (0.3, 2)])
def test_single_level_loss_equals_that_level_of_the_hierarchy(alpha, temporal_unit):
    gen = torch.Generator().manual_seed(0)
    z1 = torch.randn(3, 23, 4, generator=gen, requires_grad=True)
    z2 = torch.randn(3, 23, 4, generator=gen, requires_grad=True)
    for d in range(5):  # 23 -> 11 -> 5 -> 2 -> 1
        ref = level_losses(z1, z2, alpha, temporal_unit)[d]
        got = single_level_loss(z1, z2, d, alpha, temporal_unit)
        g_ref = torch.autograd.grad(ref, (z1, z2))
        g_got = torch.autograd.grad(got, (z1, z2))
        torch.testing.assert_close(got, ref)
        for a, b in zip(g_got, g_ref):
            torch.testing.assert_close(a, b)


def test_single_level_loss_rejects_levels_the_crop_does_not_reach():
    z = torch.zeros(2, 8, 3)
    single_level_loss(z, z, 3)  # 8 -> 4 -> 2 -> 1
    with pytest.raises(ValueError, match=r"level must be in \[0, 3\]"):
        single_level_loss(z, z, 4)


# -- alignment, fill, scores, sampling ----------------------------------------------
def test_alignment_puts_losses_at_absolute_levels():
    nan = math.nan
    np.testing.assert_array_equal(align_level_losses([1.0, 2.0, 3.0], 5), [1, 2, 3, nan, nan])
    assert align_level_losses([1.0, 2.0, 3.0, 4.0, 5.0], 3) == [1.0, 2.0, 3.0]


def test_measured_row_of_a_short_crop_is_aligned_by_absolute_level():
    est = IARSTransformer(**TINY)
    est.n_levels_ = 10  # a crop of 100 steps reaches levels 0..6 of a 1000-step series
    gen = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(2, 4, 100, 3, generator=gen)
    trained = single_level_loss(z1, z2, 2)
    row = est._measure_levels(z1, z2, 2, trained)
    expected = [float(v) for v in level_losses(z1, z2)] + [math.nan] * 3
    np.testing.assert_allclose(row, expected, rtol=1e-6)


def test_forward_fill_keeps_the_last_recorded_loss():
    nan = math.nan
    table = np.array([[1.0, nan, 3.0], [nan, nan, 4.0], [2.0, 5.0, nan]])
    expected = np.array([[1.0, nan, 3.0], [1.0, nan, 4.0], [2.0, 5.0, 4.0]])
    np.testing.assert_array_equal(forward_fill(table), expected)


def test_scores_are_the_papers_softmax_of_softmaxed_differences():
    table = np.array([[1.0, 2.0, 3.0], [1.5, 2.0, 2.0]])  # differences 0.5, 0, -1
    e = [math.exp(0.5), 1.0, math.exp(-1.0)]
    s = [v / sum(e) for v in e]
    p = [math.exp(v) / sum(math.exp(w) for w in s) for v in s]
    np.testing.assert_allclose(selection_probabilities(table), p)


def test_scores_fill_absent_levels_before_differencing():
    nan = math.nan
    # Level 0 is absent now (kept at 1: difference 0); level 2 was never recorded before.
    table = np.array([[1.0, 2.0, nan], [nan, 2.5, 3.0]])
    e = [1.0, math.exp(0.5), 1.0]
    s = [v / sum(e) for v in e]
    p = [math.exp(v) / sum(math.exp(w) for w in s) for v in s]
    np.testing.assert_allclose(selection_probabilities(table), p)


def test_scores_are_uniform_without_history_and_bounded_by_e():
    np.testing.assert_allclose(selection_probabilities(np.ones((1, 4))), 0.25)
    p = selection_probabilities(np.array([[0.0, 0.0, 0.0], [50.0, 0.0, -50.0]]))
    assert p.max() / p.min() <= math.e + 1e-9


@pytest.mark.parametrize("selection", ["paper", "uniform"])
def test_sampling_frequencies_match_the_scores(selection):
    est = IARSTransformer(selection=selection, **TINY)
    est.n_levels_ = 4
    est.resolution_losses_ = torch.tensor([[1.0, 1.0, 1.0, 1.0], [3.0, 1.0, 0.0, 1.0]])
    expected = (
        selection_probabilities(est.resolution_losses_.numpy())
        if selection == "paper" else np.full(4, 0.25)
    )
    rng = np.random.default_rng(0)
    n = 20_000
    counts = np.bincount([est._draw_level(rng) for _ in range(n)], minlength=4)
    sigma = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(counts / n - expected) < 4 * sigma)


# -- only the sampled level is trained ------------------------------------------------
def _grads(module):
    return [p.grad.clone() for p in module.parameters()]


def test_only_the_sampled_level_receives_gradient(gunpoint):
    est = IARSTransformer(n_iters=1, selection_frequency="epoch", random_state=0,
                          **TINY).fit(gunpoint[0])
    module, batch = est.module_, torch.from_numpy(gunpoint[0][:8]).float()
    # Mid-period at level 3, on the epoch's last step: the levels are measured too.
    period = {"level": 3, "step": 1, "row": None}
    ctx = TrainContext(estimator=est, rng=None, state={"period": period},
                       is_last_step_of_epoch=True)

    def step(fn):
        module.zero_grad()
        with seeded_torch(7, torch.device("cpu")):  # same dropout draws
            loss = fn(RandomStreams(0, torch.device("cpu")))  # an overlap of 78 steps
        loss.backward()
        return loss.detach(), _grads(module)

    def iars_step(rng):
        ctx.rng = rng
        return est.training_step(module, batch, ctx)

    loss, grads = step(iars_step)
    ref, ref_grads = step(lambda rng: single_level_loss(*est._encode_views(module, batch, rng), 3))
    full, full_grads = step(lambda rng: hierarchical_contrastive_loss(
        *est._encode_views(module, batch, rng)))
    row = period["row"]
    assert period["step"] == 2 and period["level"] == 3
    assert row[4] < math.inf  # the crop reached the trained level
    torch.testing.assert_close(loss, ref)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r)
    assert not all(torch.allclose(g, f) for g, f in zip(grads, full_grads))
    assert row[3] == pytest.approx(float(loss))  # measured without a graph


@pytest.mark.parametrize(
    "selection, frequency, expected_calls",
    [("paper", "epoch", 2), ("uniform", "epoch", 0), ("paper", "iteration", 14),
     ("paper", 3, 6)],
)
def test_other_levels_are_computed_only_when_the_scorer_needs_them(
    gunpoint, monkeypatch, selection, frequency, expected_calls
):
    calls = []

    def counting(*args, **kwargs):
        calls.append(torch.is_grad_enabled())
        return level_losses(*args, **kwargs)

    monkeypatch.setattr(iars, "level_losses", counting)
    IARSTransformer(selection=selection, selection_frequency=frequency, n_epochs=2,
                    random_state=0, **TINY).fit(gunpoint[0])  # 50 series: 7 steps per epoch
    assert len(calls) == expected_calls
    assert not any(calls)  # never with a graph


# -- the estimator on real data ---------------------------------------------------------
def test_fit_transform_shapes_and_fitted_attributes(gunpoint):
    X_train, X_test = gunpoint
    est = IARSTransformer(n_epochs=3, selection_frequency="epoch", random_state=0,
                          **TINY).fit(X_train)
    assert est.transform(X_test).shape == (150, 8)
    assert est.encode(X_test[:5], level="timestamp").shape == (5, 150, 8)
    assert est.n_levels_ == 8  # floor(log2 150) + 1
    assert len(est.resolution_history_) == 3 and len(est.loss_history_) == 3
    assert all(0 <= r < 8 for r in est.resolution_history_)
    table = np.asarray(est.resolution_losses_)
    assert table.shape == (3, 8)
    assert np.isfinite(table[:, 0]).all()  # the finest level is reached by every crop


def test_iteration_frequency_and_uniform_table(gunpoint):
    est = IARSTransformer(selection="uniform", selection_frequency="iteration", n_iters=5,
                          random_state=0, **TINY).fit(gunpoint[0])
    table = np.asarray(est.resolution_losses_)
    assert len(est.resolution_history_) == 5 and table.shape == (5, 8)
    measured = np.isfinite(table)
    assert (measured.sum(axis=1) == 1).all()  # only the trained level, possibly clipped
    assert (measured.argmax(axis=1) <= est.resolution_history_).all()


@pytest.mark.parametrize(
    "frequency, n_epochs, n_iters, expected",
    [("auto", 50, None, None), ("auto", 49, None, 6), ("auto", None, 200, 4),
     ("auto", None, 30, 1), ("epoch", None, 30, None), ("iteration", 60, None, 1), (5, 2, None, 5)],
)
def test_selection_period_rule(frequency, n_epochs, n_iters, expected):
    """"auto": per epoch when the budget spans >= 50 epochs, else >= 50 draws per fit."""
    ctx = TrainContext(estimator=None, rng=None, data=torch.zeros(50, 4, 1), batch_size=8,
                       drop_last=False, n_epochs=n_epochs, n_iters=n_iters)  # 7 steps/epoch
    est = IARSTransformer(selection_frequency=frequency)
    assert est._selection_period(ctx) == expected


def test_step_periods_span_epochs_and_the_last_step_closes_one(gunpoint):
    est = IARSTransformer(selection_frequency=3, n_iters=10, random_state=0,
                          **TINY).fit(gunpoint[0])  # 7 steps per epoch
    assert est.selection_period_ == 3
    # steps 1-3, 4-6, 7-9 (across the epoch boundary) and the last step alone
    assert len(est.resolution_history_) == 4
    table = np.asarray(est.resolution_losses_)
    assert table.shape == (4, 8) and np.isfinite(table[:, 0]).all()


def test_a_step_period_open_when_the_epochs_run_out_is_closed_with_its_row(gunpoint):
    est = IARSTransformer(selection_frequency=4, n_epochs=2, random_state=0,
                          **TINY).fit(gunpoint[0])  # 14 steps: periods of 4, 4, 4, 2
    table = np.asarray(est.resolution_losses_)
    assert len(est.resolution_history_) == 4 and table.shape == (4, 8)
    assert np.isfinite(table[:, 0]).all()  # the last period measured at the epoch end


def test_auto_selection_draws_many_levels_on_a_one_epoch_fit():
    X = np.random.default_rng(0).normal(size=(400, 32, 1))  # 50 steps per epoch
    est = IARSTransformer(n_iters=60, random_state=0, **TINY).fit(X)
    assert est.selection_period_ == 1  # 60 // 50
    assert len(est.resolution_history_) == 60
    assert len(set(est.resolution_history_)) == est.n_levels_ == 6  # every level drawn


def test_level_draws_leave_the_ts2vec_views_unchanged(gunpoint, monkeypatch):
    seen = {TS2VecTransformer: [], IARSTransformer: []}
    original = TS2VecTransformer._encode_views

    def spy(self, module, x, rng):
        out = original(self, module, x, rng)
        seen[type(self)].append(out[0].shape[1])
        return out

    monkeypatch.setattr(TS2VecTransformer, "_encode_views", spy)
    for cls in seen:  # IARS keeps the last partial batch by default, TS2Vec drops it
        cls(n_iters=8, drop_last=True, random_state=0, **TINY).fit(gunpoint[0])
    assert len(seen[IARSTransformer]) == 8
    assert seen[IARSTransformer] == seen[TS2VecTransformer]  # same crop lengths


def test_random_state_makes_fits_identical(gunpoint):
    X_train, X_test = gunpoint
    a = IARSTransformer(n_epochs=2, random_state=3, **TINY).fit(X_train)
    b = IARSTransformer(n_epochs=2, random_state=3, **TINY).fit(X_train)
    assert a.resolution_history_ == b.resolution_history_
    torch.testing.assert_close(a.resolution_losses_, b.resolution_losses_, equal_nan=True)
    np.testing.assert_array_equal(a.transform(X_test[:10]), b.transform(X_test[:10]))


def test_save_load_pickle_and_warm_start(gunpoint, tmp_path):
    X_train, X_test = gunpoint
    est = IARSTransformer(n_epochs=2, selection_frequency="epoch", random_state=0,
                          **TINY).fit(X_train)
    est.save(tmp_path / "iars.pt")
    for other in (load(tmp_path / "iars.pt"), pickle.loads(pickle.dumps(est))):
        assert other.resolution_history_ == est.resolution_history_
        torch.testing.assert_close(other.resolution_losses_, est.resolution_losses_,
                                   equal_nan=True)
        np.testing.assert_array_equal(other.transform(X_test[:5]), est.transform(X_test[:5]))
    est.set_params(warm_start=True).fit(X_train)
    assert len(est.resolution_history_) == 4 and est.resolution_losses_.shape == (4, 8)


# -- the ResNet18 backbone -------------------------------------------------------------
def test_resnet_keeps_one_vector_per_timestamp_and_masks():
    net = ResNet18Encoder(3, output_dims=5, base_width=4, dropout=0.0).eval()
    x = torch.randn(2, 37, 3)
    assert net(x).shape == (2, 37, 5)
    assert len(net.stages) == 8  # ResNet18: four stages of two basic blocks
    x_nan = x.clone()
    x_nan[0, 10, 1] = math.nan
    mask = torch.ones(2, 37, dtype=torch.bool)
    mask[0, 10] = False
    out = net(x_nan)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, net(x, mask))  # a NaN timestamp is a masked one


def test_resnet_backbone_fits_and_averages_batchnorm_statistics(gunpoint):
    X_train, X_test = gunpoint
    est = IARSTransformer(backbone="resnet18", output_dims=6, hidden_dims=4, batch_size=8,
                          n_iters=3, random_state=0, device="cpu").fit(X_train[:16])
    assert isinstance(est.module_, ResNet18Encoder)
    assert est.transform(X_test[:4]).shape == (4, 6)
    mean = est.averaged_module_.stem[1].running_mean
    assert mean.abs().sum() > 0  # buffers follow the iterates, not the initial zeros


# -- plotting -----------------------------------------------------------------------
def test_plot_resolutions(gunpoint, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    est = IARSTransformer(n_epochs=2, random_state=0, **TINY).fit(gunpoint[0])
    axes = est.plot_resolutions()
    assert len(axes[1].lines) == est.n_levels_
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        est.plot_resolutions()


@pytest.mark.parametrize("table", [np.array([1.0, 2.0]), np.empty((0, 0))])
def test_selection_probabilities_rejects_a_malformed_table(table):
    with pytest.raises(ValueError, match="n_periods, n_levels"):
        selection_probabilities(table)
