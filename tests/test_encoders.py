"""TS2Vec's dilated-convolution encoder against a slow, literal reference.

The reference below computes every convolution in full, with the kernel's three taps
and explicit zero padding, in (B, C, T) layout, exactly as the paper's encoder does;
sslts' shortcuts (pointwise tails in channels-last form, bucketed training lengths)
must give the same outputs and gradients.
"""

import pytest
import torch
import torch.nn.functional as F

from sslts.encoders import DilatedConvEncoder, SamePadConv, TS2VecEncoder
from sslts.encoders.dilated_conv import _bucketed_length
from sslts.encoders.dropout import dropout_generator


def reference_encoder(enc: TS2VecEncoder, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode forward of ``enc`` (fully observed ``x``), every conv in full."""
    h = enc.input_fc(x).transpose(1, 2)  # (B, hidden, T)
    for block in enc.feature_extractor:
        conv1, conv2 = block.conv1.conv, block.conv2.conv
        d = block.conv1.dilation
        residual = h if block.projector is None else block.projector(h)
        out = F.conv1d(F.gelu(h), conv1.weight, conv1.bias, padding=d, dilation=d)
        out = F.conv1d(F.gelu(out), conv2.weight, conv2.bias, padding=d, dilation=d)
        h = out + residual
    return h.transpose(1, 2)


def encoder(seed=0, **kwargs):
    torch.manual_seed(seed)
    params = dict(input_dims=2, output_dims=6, hidden_dims=5, depth=4, dropout=0.0)
    return TS2VecEncoder(**{**params, **kwargs}).double()


def series(B, T, C=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, C, generator=gen, dtype=torch.float64)


# Dilations 1..16: T=3 makes blocks 2-4 pointwise, T=9 blocks 4, T=40 none, T=1 all.
@pytest.mark.parametrize("T", [1, 3, 9, 40])
def test_encoder_matches_full_convolution_reference(T):
    enc = encoder().eval()
    x = series(3, T)
    torch.testing.assert_close(enc(x), reference_encoder(enc, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("T", [1, 5, 16])
def test_pointwise_equals_convolution_when_dilation_covers_the_series(T):
    torch.manual_seed(0)
    conv = SamePadConv(4, 3, kernel_size=3, dilation=16).double()
    x = torch.randn(2, 4, T, dtype=torch.float64)
    full = F.conv1d(x, conv.conv.weight, conv.conv.bias, padding=16, dilation=16)
    torch.testing.assert_close(conv(x), full)
    torch.testing.assert_close(conv.pointwise(x.transpose(1, 2)), full.transpose(1, 2))


def test_channels_last_tail_gives_the_reference_gradients():
    enc = encoder(seed=1).eval()
    x = series(2, 6, seed=1)
    g = torch.randn(2, 6, 6, dtype=torch.float64)
    grads = torch.autograd.grad((enc(x) * g).sum(), list(enc.parameters()))
    ref = torch.autograd.grad((reference_encoder(enc, x) * g).sum(), list(enc.parameters()))
    for a, b in zip(grads, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_dilated_stack_returns_channels_first():
    torch.manual_seed(0)
    stack = DilatedConvEncoder(3, [4, 4, 7], kernel_size=3)
    out = stack(torch.randn(2, 3, 2))  # T=2: blocks with dilation 2 and 4 are pointwise
    assert out.shape == (2, 7, 2)


@pytest.mark.parametrize("T", [5, 37, 64, 129])
def test_bucketed_training_lengths_change_nothing(T):
    bucketed, plain = encoder(seed=2), encoder(seed=2, bucket_lengths=False)
    x = series(3, T, seed=T).requires_grad_()
    mask = torch.rand(3, T, generator=torch.Generator().manual_seed(T)) < 0.5
    out_b, out_p = bucketed.train()(x, mask), plain.train()(x, mask)
    assert out_b.shape == (3, T, 6)
    torch.testing.assert_close(out_b, out_p, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(out_b)
    grads_b = torch.autograd.grad((out_b * g).sum(), [x, *bucketed.parameters()])
    grads_p = torch.autograd.grad((out_p * g).sum(), [x, *plain.parameters()])
    for a, b in zip(grads_b, grads_p):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_nan_padding_does_not_change_a_series_representation():
    enc = encoder(seed=3).eval()
    x = series(2, 11, seed=3)
    padded = torch.cat([x, torch.full((2, 5, 2), float("nan"), dtype=x.dtype)], dim=1)
    torch.testing.assert_close(enc(padded)[:, :11], enc(x), rtol=1e-12, atol=1e-12)


def test_bucketed_lengths_are_few_and_close():
    lengths = {T: _bucketed_length(T) for T in range(1, 3001)}
    assert all(L >= T and L % 8 == 0 for T, L in lengths.items())
    assert all(L <= 1.125 * T for T, L in lengths.items() if T > 64)
    assert len(set(lengths.values())) <= 60  # vs 3000 raw lengths


def test_training_dropout_draws_from_the_fits_generator_only():
    enc = encoder(seed=4, dropout=0.3).train()
    x = series(2, 37, seed=4)
    before = torch.random.get_rng_state()
    with dropout_generator(torch.Generator().manual_seed(7)):
        out = enc(x)
    with dropout_generator(torch.Generator().manual_seed(7)):
        again = enc(x)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global one untouched
    torch.testing.assert_close(out, again, rtol=0, atol=0)
    kept = out != 0
    levels = 2**15  # FastDropout's keep rate is quantised to multiples of 2**-15
    rate = (levels - round(0.3 * levels)) / levels
    ref = reference_encoder(enc.eval(), x)
    torch.testing.assert_close(out[kept], ref[kept] / rate, rtol=1e-5, atol=1e-6)
    assert 0.6 < kept.float().mean() < 0.8

