"""Tests of sslts.augment against slow per-series NumPy/SciPy references."""

import math

import numpy as np
import pytest
import torch
from scipy.interpolate import CubicSpline

from sslts import augment as A

SHAPE_PRESERVING = [
    (A.jitter, {}),
    (A.gaussian_noise, {}),
    (A.scaling, {}),
    (A.amplitude_resize, {}),
    (A.magnitude_warp, {}),
    (A.time_warp, {}),
    (A.window_warp, {}),
    (A.window_slice, {}),
    (A.cutout, {}),
    (A.timestamp_mask, {}),
    (A.slice_and_shuffle, {}),
]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def batch(B=6, T=40, C=3, seed=0, dtype=torch.float32):
    return torch.randn(B, T, C, generator=gen(seed + 100), dtype=dtype)


@pytest.mark.parametrize("fn, kwargs", SHAPE_PRESERVING, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_determinism(fn, kwargs, dtype):
    x = batch(dtype=dtype)
    x_copy = x.clone()
    out = fn(x, generator=gen(1), **kwargs)
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert torch.equal(x, x_copy)  # input untouched
    assert torch.equal(out, fn(x, generator=gen(1), **kwargs))
    assert not torch.equal(out, fn(x, generator=gen(2), **kwargs))


def test_random_crop_is_a_window():
    B, T, L = 8, 30, 7
    x = torch.arange(T, dtype=torch.float32).expand(B, T)[:, :, None].repeat(1, 1, 2)
    out = A.random_crop(x, L, generator=gen())
    assert out.shape == (B, L, 2)
    assert torch.all(out.diff(dim=1) == 1)  # contiguous steps of the source
    assert torch.all(out[:, 0] >= 0) and torch.all(out[:, -1] <= T - 1)
    with pytest.raises(ValueError, match="length"):
        A.random_crop(x, T + 1, generator=gen())


def test_jitter_has_the_set_std():
    x = torch.zeros(200, 500, 2)
    noise = A.jitter(x, 0.3, generator=gen())
    assert noise.std().item() == pytest.approx(0.3, rel=0.02)
    assert abs(noise.mean().item()) < 0.01


def test_gaussian_noise_is_relative_to_each_channel():
    x = torch.randn(100, 400, 2, generator=gen(5)) * torch.tensor([0.01, 100.0])
    diff = A.gaussian_noise(x, 0.2, generator=gen()) - x
    ratio = diff.std(dim=1) / x.std(dim=1, unbiased=False)  # (B, C)
    assert ratio.mean().item() == pytest.approx(0.2, rel=0.02)


def test_scaling_factor_per_channel():
    B, T, C, sigma = 4000, 10, 3, 0.4
    x = torch.rand(B, T, C, generator=gen(3)) + 1
    factors = A.scaling(x, sigma, generator=gen()) / x
    assert torch.allclose(factors, factors[:, :1].expand_as(factors), rtol=1e-5)  # const in time
    f = factors[:, 0]  # (B, C)
    assert f.mean().item() == pytest.approx(1, abs=0.02)
    assert f.std().item() == pytest.approx(sigma, rel=0.05)
    assert not torch.allclose(f[:, 0], f[:, 1])  # channels drawn independently


def test_amplitude_resize_one_factor_per_series():
    x = torch.rand(2000, 10, 3, generator=gen(3)) + 1
    f = A.amplitude_resize(x, 0.5, 1.5, generator=gen()) / x
    assert torch.allclose(f, f[:, :1, :1].expand_as(f), rtol=1e-5)
    assert f.min() >= 0.5 and f.max() <= 1.5
    assert f[:, 0, 0].mean().item() == pytest.approx(1.0, abs=0.03)


def test_cubic_spline_basis_matches_scipy():
    rng = np.random.default_rng(0)
    knots = np.sort(rng.uniform(0, 50, 7))
    t = np.linspace(knots[0], knots[-1], 200)
    values = rng.normal(size=(7, 4))
    assert np.allclose(A.cubic_spline_basis(knots, t) @ values, CubicSpline(knots, values)(t))
    with pytest.raises(ValueError, match="4 knots"):
        A.cubic_spline_basis(knots[:3], t)


def test_magnitude_warp_matches_scipy_reference():
    B, T, C, sigma, n_knots = 5, 41, 2, 0.3, 4
    x = batch(B, T, C, dtype=torch.float64)
    out = A.magnitude_warp(x, sigma, n_knots, generator=gen(7))
    knots = 1 + sigma * torch.randn(B, n_knots + 2, C, generator=gen(7), dtype=torch.float64)
    steps = np.linspace(0, T - 1, n_knots + 2)
    for b in range(B):
        for c in range(C):
            curve = CubicSpline(steps, knots[b, :, c].numpy())(np.arange(T))
            assert np.allclose(out[b, :, c].numpy(), x[b, :, c].numpy() * curve)


def reference_time_warp(series, speeds, T):
    """Official SelfTime time warp for one series (plus the running maximum)."""
    steps = np.linspace(0, T - 1, len(speeds))
    warped = CubicSpline(steps, steps * speeds)(np.arange(T))
    warped = np.clip(warped * (T - 1) / warped[-1], 0, T - 1)
    warped = np.maximum.accumulate(warped)
    out = np.stack([np.interp(np.arange(T), warped, s) for s in series.T], axis=1)
    out[0] = series[0]  # sslts keeps the first value where the warp is flat at 0
    return out


def test_time_warp_matches_reference_and_keeps_endpoints():
    B, T, C, sigma, n_knots = 8, 60, 2, 0.2, 8
    x = batch(B, T, C, dtype=torch.float64)
    out = A.time_warp(x, sigma, n_knots, generator=gen(4))
    speeds = 1 + sigma * torch.randn(B, n_knots + 2, 1, generator=gen(4), dtype=torch.float64)
    for b in range(B):
        ref = reference_time_warp(x[b].numpy(), speeds[b, :, 0].numpy(), T)
        assert np.allclose(out[b].numpy(), ref, atol=1e-9)
    assert torch.allclose(out[:, [0, -1]], x[:, [0, -1]])


def test_time_warp_is_monotone_on_a_ramp_and_identity_without_noise():
    ramp = torch.linspace(0, 1, 50).expand(30, 50)[:, :, None]
    assert torch.all(A.time_warp(ramp, 0.5, generator=gen()).diff(dim=1) >= -1e-6)
    x = batch()
    assert torch.allclose(A.time_warp(x, 0.0, generator=gen()), x, atol=1e-5)


def reference_window_warp(series, start, w, scale):
    """Continuous window warp for one series: piecewise-linear time map."""
    T = len(series)
    total = T - 1 + w * (scale - 1)
    out_knots = np.array([0, start, start + w * scale, total]) * (T - 1) / total
    src = np.interp(np.arange(T), out_knots, [0, start, start + w, T - 1])
    return np.stack([np.interp(src, np.arange(T), s) for s in series.T], axis=1)


def test_window_warp_matches_reference():
    B, T, C, ratio, scales = 10, 50, 2, 0.3, (0.5, 2.0)
    x = batch(B, T, C, dtype=torch.float64)
    out = A.window_warp(x, ratio, scales, generator=gen(9))
    g = gen(9)  # replay the draws: start, then scale index
    w = math.ceil(ratio * T)
    start = 1 + (torch.rand(B, generator=g, dtype=torch.float64) * (T - w - 2)).long()
    pick = (torch.rand(B, generator=g, dtype=torch.float64) * len(scales)).long()
    for b in range(B):
        ref = reference_window_warp(x[b].numpy(), int(start[b]), w, scales[pick[b]])
        assert np.allclose(out[b].numpy(), ref, atol=1e-9)
    with pytest.raises(ValueError, match="window_warp needs"):
        A.window_warp(batch(T=5), 0.5, generator=gen())


def test_window_slice_keeps_length_and_stretches_a_window():
    B, T, ratio = 10, 50, 0.8
    x = torch.arange(T, dtype=torch.float64).expand(B, T)[:, :, None]
    out = A.window_slice(x, ratio, generator=gen(2))
    w = math.ceil(ratio * T)
    assert out.shape == x.shape
    span = out[:, -1, 0] - out[:, 0, 0]
    assert torch.allclose(span, torch.full((B,), w - 1.0, dtype=torch.float64))
    assert torch.allclose(out.diff(dim=1), torch.tensor((w - 1) / (T - 1), dtype=torch.float64))
    assert torch.equal(A.window_slice(x, 1.0, generator=gen()), x)


def test_cutout_zeroes_one_window_of_the_right_fraction():
    B, T, C, ratio = 50, 40, 3, 0.25
    x = torch.rand(B, T, C, generator=gen(1)) + 1  # no zeros in the input
    out = A.cutout(x, ratio, generator=gen())
    zero = out == 0
    assert torch.equal(zero.all(dim=2), zero.any(dim=2))  # whole timestamps
    cut = zero.all(dim=2)
    assert torch.all(cut.sum(dim=1) == int(ratio * T))
    assert torch.all(cut.int().diff(dim=1).abs().sum(dim=1) <= 2)  # one contiguous run
    assert torch.equal(out[~cut], x[~cut])


def test_timestamp_mask_fraction_and_whole_timestamps():
    x = torch.rand(100, 200, 2, generator=gen(1)) + 1
    out = A.timestamp_mask(x, 0.3, value=-5.0, generator=gen())
    masked = out == -5.0
    assert torch.equal(masked.all(dim=2), masked.any(dim=2))
    assert masked[:, :, 0].float().mean().item() == pytest.approx(0.3, abs=0.01)


def test_slice_and_shuffle_permutes_contiguous_pieces():
    B, T, n = 20, 30, 4
    x = torch.arange(T, dtype=torch.float32).expand(B, T)[:, :, None].repeat(1, 1, 2)
    out = A.slice_and_shuffle(x, n, generator=gen())
    src = out[:, :, 0]
    assert torch.equal(src.sort(dim=1).values, x[:, :, 0])  # a permutation of steps
    assert torch.equal(out[:, :, 0], out[:, :, 1])  # channels move together
    jumps = (src.diff(dim=1) != 1).sum(dim=1)
    assert torch.all(jumps <= n - 1)
    assert torch.equal(A.slice_and_shuffle(x, 1, generator=gen()), x)


def test_apply_with_probability():
    x = batch(B=400)
    assert torch.equal(A.apply_with_probability(A.jitter, x, 0.0, generator=gen()), x)
    out = A.apply_with_probability(A.jitter, x, 1.0, generator=gen(3))
    g = gen(3)
    torch.rand(400, generator=g)  # the selection draw
    assert torch.equal(out, A.jitter(x, generator=g))
    changed = (A.apply_with_probability(A.scaling, x, 0.3, generator=gen()) != x).any(dim=(1, 2))
    assert changed.float().mean().item() == pytest.approx(0.3, abs=0.08)


def test_nan_propagation():
    x = batch()
    x[0, 5, 1] = float("nan")
    nan = torch.isnan(x)
    for fn in (A.jitter, A.gaussian_noise, A.scaling, A.amplitude_resize, A.magnitude_warp):
        assert torch.equal(torch.isnan(fn(x, generator=gen())), nan), fn.__name__
    # Resampling on the identity grid must not spread NaN to neighbours.
    assert torch.equal(torch.isnan(A.time_warp(x, 0.0, generator=gen())), nan)
    assert torch.equal(torch.isnan(A.window_slice(x, 1.0, generator=gen())), nan)
    assert torch.isnan(A.slice_and_shuffle(x, generator=gen())).sum() == 1
    gn = A.gaussian_noise(x, 0.1, generator=gen())
    assert torch.isfinite(gn[0, :, 1][~nan[0, :, 1]]).all()


def test_generator_on_the_tensor_device():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    x = batch().cuda()
    g = torch.Generator(device="cuda").manual_seed(0)
    for fn, kwargs in SHAPE_PRESERVING:
        assert fn(x, generator=g, **kwargs).device == x.device


_SHAPE_CHECKED = [
    ("sample_overlapping_crops", lambda x: A.sample_overlapping_crops(x, np.random.default_rng(0))),
    ("jitter", lambda x: A.jitter(x, generator=torch.Generator())),
    ("time_warp", lambda x: A.time_warp(x, generator=torch.Generator())),
    ("window_slice", lambda x: A.window_slice(x, generator=torch.Generator())),
    ("cutout", lambda x: A.cutout(x, generator=torch.Generator())),
    ("slice_and_shuffle", lambda x: A.slice_and_shuffle(x, generator=torch.Generator())),
    ("random_crop", lambda x: A.random_crop(x, 2, generator=torch.Generator())),
]


@pytest.mark.parametrize("name, call", _SHAPE_CHECKED, ids=[n for n, _ in _SHAPE_CHECKED])
@pytest.mark.parametrize(
    "x, error",
    [(torch.randn(4, 20), ValueError), (torch.randn(4, 0, 2), ValueError),
     (np.zeros((4, 20, 1)), TypeError)],
    ids=["2-D", "empty", "ndarray"],
)
def test_augmentations_reject_bad_batches_by_name(name, call, x, error):
    with pytest.raises(error, match=name):
        call(x)
