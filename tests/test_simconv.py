"""Tests of SelfTime's SimConv4 backbone, including series shorter than 16 steps."""

import numpy as np
import pytest
import torch

from sslts.encoders.simconv import SIMCONV4_MIN_LENGTH, SimConv4, stretch_to_min_length


def _x(B=3, T=10, C=2, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(B, T, C)).astype(np.float32))


@pytest.mark.parametrize("T", [1, 2, 7, 15])
def test_pad_appends_zeros(T):
    x = _x(T=T)
    got = stretch_to_min_length(x, 16, "pad").numpy()
    ref = np.concatenate([x.numpy(), np.zeros((3, 16 - T, 2), np.float32)], axis=1)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("T", [1, 2, 7, 15])
def test_resize_interpolates_between_first_and_last_step(T):
    x = _x(T=T).double()
    got = stretch_to_min_length(x, 16, "resize").numpy()
    grid = np.linspace(0, T - 1, 16)  # 16 equally spaced points over the series
    for b in range(3):
        for c in range(2):
            ref = np.interp(grid, np.arange(T), x[b, :, c].numpy())
            np.testing.assert_allclose(got[b, :, c], ref, rtol=1e-12, atol=1e-12)


def test_long_series_are_untouched_and_bad_mode():
    x = _x(T=16)
    for mode in ("pad", "resize"):
        assert stretch_to_min_length(x, 16, mode) is x
    with pytest.raises(ValueError, match="mode='crop' is not supported"):
        stretch_to_min_length(x, 16, "crop")
    with pytest.raises(ValueError, match="short_input='crop' is not supported"):
        SimConv4(1, short_input="crop")


def test_parameters_and_shapes():
    net = SimConv4(1)
    assert sum(p.numel() for p in net.parameters()) == 11_024  # the official count
    for T in (1, 5, 15, 16, 17, 31, 32, 300):
        fmap = net.feature_map(torch.randn(4, T, 1))
        assert fmap.shape == (4, 64, max(T, SIMCONV4_MIN_LENGTH) // 16)
    z = SimConv4(3, 32)(torch.randn(5, 9, 3))
    assert z.shape == (5, 32) and torch.allclose(z.norm(dim=1), torch.ones(5))


@pytest.mark.parametrize("mode", ["pad", "resize"])
def test_short_series_are_encoded_as_their_stretched_version(mode):
    torch.manual_seed(0)
    net = SimConv4(2, 16, short_input=mode)
    x = _x(T=10)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(stretch_to_min_length(x, 16, mode)))
    # Training mode: gradients reach the first block through the stretched steps.
    net(x).sum().backward()
    assert net.blocks[0].weight.grad.abs().sum() > 0


def test_missing_values_are_zero_before_padding():
    net = SimConv4(1, 8).eval()
    x = _x(T=12, C=1)
    holed = x.clone()
    holed[:, 3] = float("nan")
    zeroed = x.clone()
    zeroed[:, 3] = 0.0
    with torch.no_grad():
        torch.testing.assert_close(net(holed), net(zeroed))
        assert torch.isfinite(net(holed)).all()
