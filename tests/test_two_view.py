"""Encoders, views and the three two-view estimators (InfoNCE, Barlow Twins, VIbCReg).

The losses and IterNorm are in ``test_two_view_losses.py``; the common suites
(``test_common.py`` and friends) run these estimators from their tiny configurations.
"""

import math
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from sslts import Checkpoint, EarlyStopping
from sslts.augment.views import (
    gaussian_amplitude,
    make_views,
    min_view_length,
    neighbour_windows,
    vertical_shift,
)
from sslts.encoders.backbones import backbone_keeps_time, make_backbone, pool_observed
from sslts.encoders.iternorm import IterNorm
from sslts.encoders.lstm import LSTMEncoder
from sslts.encoders.vibcreg_resnet import VIbCRegResNet
from sslts.losses.two_view import barlow_twins_loss, info_nce_loss, vibcreg_loss
from sslts.methods.two_view import (
    BarlowTwinsTransformer,
    InfoNCETransformer,
    VIbCRegTransformer,
)
from sslts.methods.two_view_base import make_projector

TINY_LSTM = {"output_dims": 4, "hidden_dims": 4}
TINY_RESNET = {"base_width": 2}
TINY_CONV = {"output_dims": 4, "hidden_dims": 4, "depth": 1}
COMMON = {"n_iters": 2, "batch_size": 4, "device": "cpu", "random_state": 0}


def _X(n=12, T=24, C=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 4 * np.pi, T)[None, :, None]
    return np.sin(t + rng.uniform(0, 6, (n, 1, C))) + 0.1 * rng.normal(size=(n, T, C))


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def tiny(cls, **params):
    defaults = {
        InfoNCETransformer: {"encoder_params": TINY_LSTM, "window_length": 8},
        BarlowTwinsTransformer: {"encoder_params": TINY_RESNET, "projector_dims": 8},
        VIbCRegTransformer: {"encoder_params": TINY_RESNET, "projector_dims": 8,
                             "iternorm_groups": 2},
    }[cls]
    return cls(**{**COMMON, **defaults, **params})


ESTIMATORS = [InfoNCETransformer, BarlowTwinsTransformer, VIbCRegTransformer]


def conv_factory(n_channels):  # expects (B, C, T): the wrong layout for an encoder
    return nn.Conv1d(n_channels, 3, 1)


class FourD(nn.Module):
    def forward(self, x):
        return x[:, None]


class ChannelsLast(nn.Module):
    """(B, T, C) -> (B, T, 3) through a 1x1 convolution (a user-supplied encoder)."""

    def __init__(self, n_channels):
        super().__init__()
        self.conv = nn.Conv1d(n_channels, 3, 1)

    def forward(self, x):
        return self.conv(torch.nan_to_num(x).transpose(1, 2)).transpose(1, 2)


class Pooling(ChannelsLast):
    def forward(self, x):
        return super().forward(x).mean(dim=1)


# ---------------------------------------------------------------- encoders
def test_lstm_per_step_head_is_the_tutorials_flatten_linear_with_tied_weights():
    enc = LSTMEncoder(2, output_dims=5, hidden_dims=6).double()
    x = torch.randn(3, 30, 2, generator=_gen(), dtype=torch.float64)
    h, _ = enc.layers[0](x)  # (3, 30, 6)
    # The tutorial's Linear(30 * 6 -> 5) with every position's weights W / 30:
    flat = nn.Linear(30 * 6, 5).double()
    with torch.no_grad():
        flat.weight.copy_(enc.head.weight.repeat(1, 30) / 30)
        flat.bias.copy_(enc.head.bias)
    torch.testing.assert_close(enc(x).mean(dim=1), flat(h.flatten(1)))


def test_lstm_outputs_at_observed_steps_ignore_right_padding():
    enc = LSTMEncoder(1, output_dims=3, hidden_dims=4)
    x = torch.randn(1, 20, 1, generator=_gen())
    padded = torch.cat([x, torch.full((1, 7, 1), math.nan)], dim=1)
    torch.testing.assert_close(enc(padded)[:, :20], enc(x))
    assert torch.isfinite(enc(padded)).all()


def _loop_lstm(cell: nn.LSTM, x: torch.Tensor, reverse: bool) -> torch.Tensor:
    """One LSTM direction step by step from the gate equations, (T, C) -> (T, H)."""
    sfx = "_reverse" if reverse else ""
    w_ih, w_hh = getattr(cell, "weight_ih_l0" + sfx), getattr(cell, "weight_hh_l0" + sfx)
    bias = getattr(cell, "bias_ih_l0" + sfx) + getattr(cell, "bias_hh_l0" + sfx)
    H = w_hh.shape[1]
    h, c, out = x.new_zeros(H), x.new_zeros(H), []
    for t in (reversed(range(len(x))) if reverse else range(len(x))):
        i, f, g, o = (w_ih @ x[t] + w_hh @ h + bias).split(H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        out.append(h)
    return torch.stack(out[::-1] if reverse else out)


def test_bidirectional_lstm_reads_each_series_backwards_from_its_last_observed_step():
    enc = LSTMEncoder(2, output_dims=3, hidden_dims=4, bidirectional=True).double()
    x = torch.randn(3, 12, 2, generator=_gen(), dtype=torch.float64)
    x[1, 8:] = math.nan  # right padding: the backward pass starts at step 7
    x[2, 4, 0] = math.nan  # a missing value inside: the whole step is read as 0
    out = enc(x)
    for b, length in ((0, 12), (1, 8), (2, 12)):
        xb = x[b, :length].masked_fill(torch.isnan(x[b, :length]).any(-1, keepdim=True), 0.0)
        h = torch.cat([_loop_lstm(enc.layers[0], xb, False),
                       _loop_lstm(enc.layers[0], xb, True)], dim=1)
        torch.testing.assert_close(out[b, :length], enc.head(h))
    torch.testing.assert_close(enc(x[:1]), out[:1])  # unpadded batches skip packing


def test_vibcreg_resnet_architecture_and_masked_pooling():
    enc = VIbCRegResNet(1).eval()
    assert enc.output_dims == 512
    blocks = list(enc.stages)
    assert [b.conv1.out_channels for b in blocks] == [64, 128, 256, 512]
    assert [b.conv1.stride[0] for b in blocks] == [1, 2, 2, 2]
    x = torch.randn(2, 64, 1, generator=_gen())
    assert enc.stages(enc.stem(x.transpose(1, 2))).shape == (2, 512, 2)  # 64 / 32 steps
    # Reference pooling: average the output steps whose input share is observed.
    small = VIbCRegResNet(1, base_width=2).eval()
    padded = x.clone()
    padded[0, 40:] = math.nan
    with torch.no_grad():
        h = small.stages(small.stem(torch.nan_to_num(padded).transpose(1, 2)))
        out = small(padded)
    T_out = h.shape[-1]
    for b, last_observed in ((0, 39), (1, 63)):
        # Adaptive pooling's share of output step j starts at floor(j * 64 / T_out);
        # with a prefix observed, the share sees an observed step iff it starts in it.
        keep = [(j * 64) // T_out <= last_observed for j in range(T_out)]
        torch.testing.assert_close(out[b], h[b][:, keep].mean(dim=1))


def test_make_backbone_names_params_and_factories():
    assert isinstance(make_backbone("lstm", 2), LSTMEncoder)
    assert make_backbone("resnet", 1, {"base_width": 3}).output_dims == 24
    assert make_backbone("dilated_conv", 1, TINY_CONV)(torch.randn(2, 9, 1)).shape == (2, 9, 4)
    with pytest.raises(ValueError, match=r"\['widht'\] are not parameters.*accepts"):
        make_backbone("resnet", 1, {"widht": 3})
    with pytest.raises(ValueError, match="not a known backbone.*callable"):
        make_backbone("gru", 1)
    with pytest.raises(ValueError, match="only configures the named"):
        make_backbone(ChannelsLast, 1, {"x": 1})
    with pytest.raises(TypeError, match="must return a torch.nn.Module"):
        make_backbone(lambda c: "not a module", 1)
    assert [backbone_keeps_time(e) for e in ("lstm", "resnet", "dilated_conv", Pooling)] == [
        True, False, True, None]


@pytest.mark.parametrize("how", ["mean", "max"])
def test_pool_timestamps_against_loops(how):
    h = torch.randn(3, 5, 2, generator=_gen())
    observed = torch.tensor([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]]).bool()
    out = pool_observed(h, observed, how)
    for b in range(3):
        steps = [t for t in range(5) if observed[b, t]] or list(range(5))
        rows = h[b, steps]
        expected = rows.mean(0) if how == "mean" else rows.max(0).values
        torch.testing.assert_close(out[b], expected)
    # A backbone that resamples time pools over all its steps; a pooled one passes.
    torch.testing.assert_close(pool_observed(h[:, :3], observed, "mean"), h[:, :3].mean(1))
    pooled = h[:, 0]
    assert pool_observed(pooled, observed) is pooled


# ------------------------------------------------------------------- views
def test_vertical_shift_is_a_constant_within_the_bound():
    x = torch.randn(64, 30, 2, generator=_gen()) * torch.tensor([1.0, 10.0])
    x[0, :5, 0] = math.nan
    y = vertical_shift(x, 0.5, generator=_gen(1))
    shift = y - x
    assert torch.isnan(y[0, :5, 0]).all() and torch.isfinite(y[1:]).all()
    np.testing.assert_allclose(shift[1:].std(dim=1), 0, atol=1e-5)  # constant over time
    std = x[1:].std(dim=1, unbiased=False)
    ratio = shift[1:, 0] / std
    assert ratio.abs().max() <= 0.5 + 1e-5 and ratio.abs().max() > 0.3
    torch.testing.assert_close(vertical_shift(x, 0.5, generator=_gen(1)), y, equal_nan=True)


def test_gaussian_amplitude_draws_one_factor_per_series():
    x = torch.ones(4000, 3, 2)
    y = gaussian_amplitude(x, 0.2, generator=_gen())
    factors = y[:, 0, 0]
    assert torch.equal(y, factors[:, None, None].expand_as(y))
    assert abs(float(factors.mean()) - 1) < 0.02 and abs(float(factors.std()) - 0.2) < 0.02


def test_neighbour_windows_are_slices_at_most_max_shift_apart():
    x = torch.arange(100.0).repeat(16, 1)[:, :, None] + 1000 * torch.arange(16.0)[:, None, None]
    a, b = neighbour_windows(x, 30, 5, generator=_gen())
    assert a.shape == b.shape == (16, 30, 1)
    for v in (a, b):  # contiguous pieces of their own series
        assert torch.equal(v.diff(dim=1), torch.ones(16, 29, 1))
        assert torch.equal(v[:, 0, 0] // 1000, torch.arange(16.0))
    shifts = (a[:, 0, 0] - b[:, 0, 0]).abs()
    assert shifts.max() <= 5 and shifts.max() > 0
    short_a, short_b = neighbour_windows(x[:, :20], 30, 5, generator=_gen())
    assert torch.equal(short_a, x[:, :20]) and torch.equal(short_b, x[:, :20])


def test_make_views_shapes_and_contents():
    x = torch.randn(8, 40, 2, generator=_gen())
    g = _gen(1)
    for name, length in (("warp", 40), ("slice", 40), ("gauss", 40)):
        v1, v2 = make_views(x, name, generator=g)
        assert torch.equal(v1, x) and v2.shape == (8, length, 2) and not torch.equal(v2, x)
    _, sliced = make_views(x, "slice", generator=g)
    assert torch.equal(sliced.sort(dim=1).values, x.sort(dim=1).values)  # reordered only
    _, noisy = make_views(x, "gauss", generator=g)
    assert abs(float((noisy - x).std()) - 0.05) < 0.005
    v1, v2 = make_views(x, "vibcreg", generator=g, crop_ratio=0.3)
    assert v1.shape == v2.shape == (8, 12, 2)
    v1, v2 = make_views(x, "neighbour", generator=g, window_length=10)
    assert v1.shape == (8, 10, 2)
    custom = make_views(x, lambda batch, gen: (batch, -batch), generator=g)
    assert torch.equal(custom[1], -x)
    with pytest.raises(ValueError, match="not a known pipeline"):
        make_views(x, "mixup", generator=g)
    assert [min_view_length(v) for v in ("warp", "slice", "gauss", "vibcreg", print)] == [
        5, 4, 1, 1, 1]


def test_views_draw_only_from_the_generator():
    x = torch.randn(4, 30, 1, generator=_gen())
    before = torch.get_rng_state()
    for name in ("neighbour", "warp", "slice", "gauss", "vibcreg"):
        first = make_views(x, name, generator=_gen(5))
        again = make_views(x, name, generator=_gen(5))
        assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert torch.equal(torch.get_rng_state(), before)


# -------------------------------------------------------------- estimators
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_training_step_is_views_encoder_projector_objective(cls):
    est = tiny(cls).fit(_X())
    module = est.module_.train()
    batch = torch.from_numpy(_X(6, seed=1)).float()
    ctx = SimpleNamespace(rng=SimpleNamespace(torch=_gen(3)), training=True)
    loss = est.training_step(module, batch, ctx)
    v1, v2 = make_views(batch, est.views, generator=_gen(3), window_length=est.window_length,
                        crop_ratio=est.crop_ratio)
    # InfoNCE's LSTM keeps the time axis: its default pooling is the maximum over time.
    z1 = module.projector(module.encoder(v1).reshape(6, -1, module.output_dims).amax(1)
                          if cls is InfoNCETransformer else module.encoder(v1))
    z2 = module.projector(module.encoder(v2).reshape(6, -1, module.output_dims).amax(1)
                          if cls is InfoNCETransformer else module.encoder(v2))
    expected = {
        InfoNCETransformer: lambda: info_nce_loss(z1, z2, temperature=0.5),
        BarlowTwinsTransformer: lambda: barlow_twins_loss(z1, z2, lambda_=0.005),
        VIbCRegTransformer: lambda: vibcreg_loss(z1, z2, lambda_=25, mu=25, nu=200),
    }[cls]()
    torch.testing.assert_close(loss, expected)


def test_defaults_follow_the_references_with_the_official_values_one_parameter_away():
    info, bt, vib = InfoNCETransformer(), BarlowTwinsTransformer(), VIbCRegTransformer()
    # InfoNCE: the tutorial's LSTM, views and temperature; max pooling and a projector
    # are this library's (the tutorial's setting: pooling="mean", projector_dims=None).
    assert (info.encoder, info.views, info.temperature, info.window_length) == (
        "lstm", "neighbour", 0.5, 30)
    assert (info.pooling, info.projector_dims) == ("max", 128)
    assert (bt.lambda_, bt.projector_dims, bt.encoder) == (0.005, 512, "resnet")
    assert (vib.lambda_, vib.mu, vib.nu, vib.iternorm_groups) == (25.0, 25.0, 200.0, 64)
    X = _X(12, 24)
    vib_fit = VIbCRegTransformer(n_iters=1, batch_size=4, device="cpu", random_state=0).fit(X)
    whitening = vib_fit.module_.projector[-1]
    assert isinstance(whitening, IterNorm) and whitening.group_size == 8  # 512 / 64
    assert vib_fit.module_.output_dims == 512
    official = make_projector(512, 4096, iternorm_groups=64)
    assert official[-1].group_size == 64
    assert sum(p.numel() for p in official.parameters()) > 35_000_000
    assert isinstance(InfoNCETransformer(**COMMON, projector_dims=None).fit(X)
                      .module_.projector, nn.Identity)
    info_fit = InfoNCETransformer(**COMMON).fit(X)
    assert [m.out_features for m in info_fit.module_.projector.modules()
            if isinstance(m, nn.Linear)][-1] == 128
    # Budgets: the reference's epochs, but at least 200 steps on small sets.
    assert info.default_budget(np.zeros((640, 5, 1))) == (None, 200)
    assert info.default_budget(np.zeros((6400, 5, 1))) == (None, 1000)
    assert bt.default_budget(np.zeros((1280, 5, 1))) == (None, 500)


@pytest.mark.parametrize("encoder", ["lstm", "dilated_conv", ChannelsLast])
def test_timestamp_level_where_the_encoder_keeps_time(encoder):
    params = {"lstm": TINY_LSTM, "dilated_conv": TINY_CONV}.get(encoder)
    est = tiny(BarlowTwinsTransformer, encoder=encoder, encoder_params=params,
               level="timestamp").fit(_X())
    Z = est.transform(_X(5, 30))
    assert Z.shape == (5, 30, est.module_.output_dims) and np.isfinite(Z).all()
    assert est.encode(_X(5, 30), level="instance").shape == (5, est.module_.output_dims)


@pytest.mark.parametrize("cls", [BarlowTwinsTransformer, VIbCRegTransformer])
def test_timestamp_level_on_a_pooling_encoder_is_a_clear_error(cls):
    with pytest.raises(ValueError, match="encoder='resnet' pools it.*level='instance'"):
        tiny(cls, level="timestamp").fit(_X())
    est = tiny(cls).fit(_X())
    with pytest.raises(ValueError, match="keeps the time axis"):
        est.encode(_X(), level="timestamp")
    with pytest.raises(ValueError, match="keeps the time axis"):
        tiny(cls, encoder=Pooling, encoder_params=None, level="timestamp").fit(_X())
    factory = tiny(cls, encoder=Pooling, encoder_params=None).fit(_X())
    assert factory.transform(_X()).shape == (12, 3)
    with pytest.raises(ValueError, match="keeps the time axis"):
        factory.encode(_X(), level="timestamp")


def test_a_factory_with_a_bad_output_or_layout_is_named():
    with pytest.raises(ValueError, match=r"encoder must map.*returned \(1, 1, 24, 1\)"):
        tiny(InfoNCETransformer, encoder=lambda c: FourD(), encoder_params=None).fit(_X())
    with pytest.raises(ValueError, match=r"encoder failed on a batch of shape \(1, 24, 1\)"):
        tiny(InfoNCETransformer, encoder=conv_factory, encoder_params=None).fit(_X())


def test_window_embeddings_against_a_loop_over_windows():
    est = tiny(InfoNCETransformer, window_length=8).fit(_X())
    X = _X(3, 21)
    X[1, 15:] = np.nan  # variable length
    enc = est.module_.encoder
    starts = [0, 4, 8, 12, 13]  # half-overlapping, the last one flush with the end
    with torch.no_grad():
        outs = [enc(torch.from_numpy(X[:, s : s + 8]).float()) for s in starts]
    instance, timestamp = [], np.zeros((3, 21, 4))
    count = np.zeros(21)
    for s, out in zip(starts, outs):
        count[s : s + 8] += 1
        timestamp[:, s : s + 8] += out.numpy()
    for b in range(3):
        pooled = []
        for s, out in zip(starts, outs):
            steps = [t for t in range(8) if not np.isnan(X[b, s + t, 0])]
            if steps:
                pooled.append(out[b, steps].amax(0).numpy())  # pooling="max"
        instance.append(np.mean(pooled, axis=0))
    np.testing.assert_allclose(est.transform(X), np.array(instance), rtol=1e-5, atol=1e-6)
    observed = ~np.isnan(X[:, :, 0])
    Z = est.encode(X, level="timestamp")
    np.testing.assert_allclose(Z[observed], (timestamp / count[None, :, None])[observed],
                               rtol=1e-5, atol=1e-6)


def test_neighbour_windows_are_at_most_half_the_training_length(monkeypatch):
    from sslts.methods import two_view_base

    shapes = []

    def recording(*args, **kwargs):
        views = make_views(*args, **kwargs)
        shapes.append(views[0].shape[1])
        return views

    monkeypatch.setattr(two_view_base, "make_views", recording)
    tiny(InfoNCETransformer, window_length=30, n_iters=1).fit(_X(T=24))
    tiny(InfoNCETransformer, window_length=30, n_iters=1).fit(_X(T=90))
    assert shapes == [12, 30]


def _lrs(est, X, n_iters):
    seen = []
    original = est.training_step

    def step(module, batch, ctx):
        seen.append(ctx.optimizer.param_groups[0]["lr"])
        return original(module, batch, ctx)

    est.training_step = step
    est.set_params(n_iters=n_iters).fit(X)
    del est.training_step
    return seen


def test_cosine_schedule_per_step_and_restarted_by_a_warm_start():
    est = tiny(VIbCRegTransformer, lr=0.01)
    lrs = _lrs(est, _X(), 6)
    np.testing.assert_allclose(lrs, [0.005 * (1 + math.cos(math.pi * k / 6)) for k in range(6)])
    est.set_params(warm_start=True)
    np.testing.assert_allclose(_lrs(est, _X(), 4)[:2], [0.01, 0.005 * (1 + math.cos(math.pi / 4))])
    assert _lrs(tiny(InfoNCETransformer, lr=0.01), _X(), 3) == [0.01] * 3  # constant


def test_cosine_run_resumes_from_a_checkpoint_exactly(tmp_path, monkeypatch):
    X = _X()
    params = {"n_iters": None, "n_epochs": 4}
    uninterrupted = tiny(BarlowTwinsTransformer, **params).fit(X)
    est = tiny(BarlowTwinsTransformer, **params)
    original = est.training_step

    def step(module, batch, ctx):
        if est.n_epochs_ >= 2:
            raise KeyboardInterrupt
        return original(module, batch, ctx)

    monkeypatch.setattr(est, "training_step", step)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        est.fit(X, checkpoint=Checkpoint(tmp_path))
    resumed = tiny(BarlowTwinsTransformer, **params).fit(X, checkpoint=Checkpoint(tmp_path))
    assert resumed.loss_history_ == uninterrupted.loss_history_
    np.testing.assert_array_equal(resumed.transform(X), uninterrupted.transform(X))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_one_series_or_a_batch_of_one_is_refused(cls):
    with pytest.raises(ValueError, match="at least 2 training series.*1 sample"):
        tiny(cls).fit(_X(1))
    with pytest.raises(ValueError, match="batch_size"):
        tiny(cls, batch_size=1).fit(_X())


def test_views_need_their_minimum_length():
    est = tiny(InfoNCETransformer, views="warp")
    assert est.min_length(True) == 5 and est.min_length(False) == 1
    with pytest.raises(ValueError, match="minimum of 5 is required"):
        est.fit(_X(T=4))
    est.fit(_X(T=5))


@pytest.mark.parametrize("views, need", [("warp", 5), ("slice", 4)])
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_minimum_length_error_names_time_steps_and_views(cls, views, need):
    """Also for 2-D input, whose columns scikit-learn's wording calls features."""
    short = _X(T=need - 1)
    expected = rf"at least {need} time step\(s\) with views='{views}' \(the views 'neighbour'"
    for X in (short, short[:, :, 0]):
        with pytest.raises(ValueError, match=expected):
            tiny(cls, views=views).fit(X)


def test_factory_encoder_pickles_and_saves_by_its_name(tmp_path):
    est = tiny(VIbCRegTransformer, encoder=ChannelsLast, encoder_params=None).fit(_X())
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.transform(_X()), est.transform(_X()))
    est.save(tmp_path / "model.pt")  # an importable class: saved by name
    loaded = VIbCRegTransformer.load(tmp_path / "model.pt")
    assert loaded.encoder is ChannelsLast
    np.testing.assert_array_equal(loaded.transform(_X()), est.transform(_X()))


def test_any_named_view_trains_every_objective():
    X = _X(8, 30, C=2)
    for cls in ESTIMATORS:
        for views in ("neighbour", "warp", "slice", "gauss", "vibcreg"):
            est = tiny(cls, views=views, n_iters=1).fit(X)
            assert np.isfinite(est.loss_history_).all() and np.isfinite(est.transform(X)).all()


def test_infonce_learns_to_match_neighbouring_windows():
    """Sixty steps on noisy sines: the NT-Xent loss falls clearly below chance level."""
    rng = np.random.default_rng(0)
    freq = np.repeat(np.arange(1, 5), 8)
    X = np.sin(2 * np.pi * freq[:, None] * np.arange(60) / 40 + rng.uniform(0, 6, (32, 1)))
    X = X + 0.1 * rng.normal(size=X.shape)
    params = {"encoder_params": {"output_dims": 8, "hidden_dims": 8}, "lr": 1e-2,
              "batch_size": 16, "n_iters": 60, "device": "cpu", "random_state": 0}
    chance = math.log(31)  # 2B - 1 = 31 candidates
    # The tutorial's setting: the untrained mean-pooled embeddings are all alike, so the
    # first loss is at chance level.
    tutorial = InfoNCETransformer(**params, pooling="mean", projector_dims=None).fit(X)
    history = tutorial.loss_history_
    assert history[0] == pytest.approx(chance, abs=0.05)
    assert np.mean(history[-3:]) < 0.95 * np.mean(history[:3])
    # The defaults (max pooling, projector) start below chance and fall further.
    history = InfoNCETransformer(**params).fit(X).loss_history_
    assert history[0] < chance
    assert np.mean(history[-3:]) < min(0.9 * np.mean(history[:3]), 0.7 * chance)


def test_compile_covers_training_and_inference(monkeypatch):
    """With compile=True every forward goes through the compiled network."""
    calls = []

    class Compiled(nn.Module):
        def __init__(self, network):
            super().__init__()
            self.network = network

        def forward(self, *args):
            calls.append(args[1])
            return self.network(*args)

    monkeypatch.setattr(torch, "compile", lambda module, dynamic=None: Compiled(module))
    est = tiny(InfoNCETransformer, compile=True).fit(_X())
    assert calls.count("projection") == 2 * est.n_iter_  # both views of every step
    est.transform(_X(3, 30))
    est.encode(_X(3, 30), level="timestamp")
    assert calls[-2:] == ["pooled", "encoder"]


def test_a_validation_loss_leaves_iternorm_statistics_alone():
    est = tiny(VIbCRegTransformer).fit(_X())
    whitening = est.module_.projector[-1]
    before = [t.clone() for t in whitening.buffers()]
    batch = torch.from_numpy(_X(6, seed=2)).float()
    ctx = SimpleNamespace(rng=SimpleNamespace(torch=_gen()), training=False)
    with torch.no_grad():
        assert torch.isfinite(est.training_step(est.module_.train(), batch, ctx))
    assert all(torch.equal(a, b) for a, b in zip(before, whitening.buffers()))
    assert whitening.training  # back in training mode afterwards
    ctx.training = True
    with torch.no_grad():
        est.training_step(est.module_, batch, ctx)
    assert not torch.equal(before[0], whitening.running_mean)
    # And through the loop: early stopping on held-out series trains and stops.
    est = tiny(VIbCRegTransformer, n_iters=None, n_epochs=3,
               callbacks=[EarlyStopping(patience=1, validation_fraction=0.25)]).fit(_X())
    assert np.isfinite(est.transform(_X())).all()
