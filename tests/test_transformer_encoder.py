"""Tests of TimeDRL's encoder options: token embeddings and positional encodings."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from sslts.encoders.transformer import (
    CircularConvEmbedding,
    PatchTransformerEncoder,
    n_patches,
    sinusoidal_positions,
)


def _encoder(token_embedding="linear", positional_encoding="learnable", n_layers=0, **kw):
    args = dict(n_channels=2, patch_len=4, stride=2, d_model=8, n_heads=2, n_layers=n_layers,
                dropout=0.0, max_patches=n_patches(12, 4, 2), channel_independent=True)
    args.update(kw)
    torch.manual_seed(0)
    enc = PatchTransformerEncoder(**args, token_embedding=token_embedding,
                                  positional_encoding=positional_encoding)
    return enc.eval()


def _x(B=3, T=12, C=2, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(B, T, C)).astype(np.float32))


# ------------------------------------------------------------ positions
@pytest.mark.parametrize("L, D", [(5, 8), (3, 7), (1, 2)])
def test_sinusoidal_positions_match_the_formula(L, D):
    ref = np.empty((L, D))
    for p in range(L):
        for j in range(D):
            angle = p / 10000 ** ((j - j % 2) / D)
            ref[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    got = sinusoidal_positions(L, D, dtype=torch.float64).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------- conv embedding
def _reference_circular_conv(x, weight):
    """Literal loops: out[b, t] = sum_j W[:, :, j] @ x[b, (t + j - k // 2) mod L]."""
    B, L, _ = x.shape
    D, _, k = weight.shape
    out = np.zeros((B, L, D))
    for b in range(B):
        for t in range(L):
            for j in range(k):
                out[b, t] += weight[:, :, j] @ x[b, (t + j - k // 2) % L]
    return out


@pytest.mark.parametrize("L, k", [(1, 3), (2, 5), (3, 3), (7, 5), (2, 7), (6, 1)])
def test_circular_conv_matches_loops(L, k):
    torch.manual_seed(0)
    emb = CircularConvEmbedding(4, 6, kernel_size=k).double()
    x = torch.randn(2, L, 4, dtype=torch.float64)
    with torch.no_grad():
        got = emb(x).numpy()
    ref = _reference_circular_conv(x.numpy(), emb.weight.detach().numpy())
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_circular_conv_equals_torch_circular_padding_where_torch_allows_it():
    torch.manual_seed(0)
    emb = CircularConvEmbedding(3, 5, kernel_size=5)
    conv = nn.Conv1d(3, 5, 5, padding=2, padding_mode="circular", bias=False)
    conv.weight.data.copy_(emb.weight.data)
    x = torch.randn(4, 9, 3)
    with torch.no_grad():
        torch.testing.assert_close(emb(x), conv(x.transpose(1, 2)).transpose(1, 2))


def test_circular_conv_initialisation_and_bad_kernel():
    emb = CircularConvEmbedding(32, 512, kernel_size=3)
    gain = math.sqrt(2.0 / (1 + 0.01**2))  # leaky ReLU, negative slope 0.01
    assert emb.weight.std().item() == pytest.approx(gain / math.sqrt(32 * 3), rel=0.03)
    assert [n for n, _ in emb.named_parameters()] == ["weight"]  # no bias
    for k in (0, 2, 4):
        with pytest.raises(ValueError, match="kernel_size must be a positive odd number"):
            CircularConvEmbedding(4, 8, kernel_size=k)


# ------------------------------------------------------- whole encoder
def _sequence(enc, x):
    """[CLS] + patch tokens, (B * C', 1 + N, P'), as the encoder builds them."""
    tokens = enc.tokens_in_patch_space(x)
    B, Cs, N, Pd = tokens.shape
    cls = enc.cls.view(1, Cs, 1, Pd).expand(B, -1, -1, -1)
    return torch.cat([cls, tokens], dim=2).reshape(B * Cs, N + 1, Pd)


@pytest.mark.parametrize("token_embedding", ["linear", "conv"])
@pytest.mark.parametrize("positional_encoding", ["none", "fixed", "learnable"])
def test_without_layers_output_is_layernorm_of_embedding_plus_position(token_embedding,
                                                                       positional_encoding):
    enc = _encoder(token_embedding, positional_encoding)
    x = _x()
    with torch.no_grad():
        seq = _sequence(enc, x).numpy()
        if token_embedding == "linear":
            emb = seq @ enc.embed.weight.numpy().T
        else:
            emb = _reference_circular_conv(seq, enc.embed.weight.numpy())
        L = seq.shape[1]
        if positional_encoding == "fixed":
            emb = emb + sinusoidal_positions(L, 8).numpy()
        elif positional_encoding == "learnable":
            emb = emb + enc.position[:L].numpy()
        ref = enc.norm(torch.from_numpy(emb).float()).numpy().reshape(3, 2, L, 8)
        np.testing.assert_allclose(enc(x).numpy(), ref, rtol=1e-4, atol=1e-5)


def test_conv_cls_sees_the_first_and_last_patch_linear_does_not():
    x = _x()
    changed = x.clone()
    changed[:, -1] += 5.0  # alters only the last patches
    for token_embedding, moves in (("linear", False), ("conv", True)):
        enc = _encoder(token_embedding, "none")
        with torch.no_grad():
            delta = (enc(changed)[:, :, 0] - enc(x)[:, :, 0]).abs().max().item()
        assert (delta > 1e-3) == moves, token_embedding


def test_no_positional_encoding_makes_patches_order_free():
    # Without positions a transformer with per-token embedding is permutation
    # equivariant: reversing the patches reverses the patch outputs, [CLS] is unchanged.
    enc = _encoder("linear", "none", n_layers=2)
    x = _x()
    tokens = _sequence(enc, x)
    flipped = torch.cat([tokens[:, :1], tokens[:, 1:].flip(1)], dim=1)
    with torch.no_grad():
        z, z_flip = enc.embed(tokens), enc.embed(flipped)
        for layer in enc.layers:
            z, z_flip = layer(z), layer(z_flip)
    torch.testing.assert_close(z_flip[:, 0], z[:, 0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(z_flip[:, 1:], z[:, 1:].flip(1), rtol=1e-4, atol=1e-5)
    # ... and the encoder itself agrees with this layer-by-layer computation.
    torch.testing.assert_close(enc(x).reshape(6, -1, 8), enc.norm(z), rtol=1e-4, atol=1e-5)


def test_only_learnable_positions_limit_the_length():
    long = _x(T=40)
    for positional_encoding in ("none", "fixed"):
        out = _encoder("conv", positional_encoding, n_layers=1)(long)
        assert out.shape == (3, 2, 1 + n_patches(40, 4, 2), 8)
    with pytest.raises(ValueError, match="learnable positional encoding covers 6.*'fixed'"):
        _encoder("linear", "learnable")(long)


def test_defaults_keep_the_earlier_parameters():
    # Saved models are rebuilt and their state dicts loaded: the default names must not move.
    enc = PatchTransformerEncoder(2, 4, 2, 8, 2, 1, 0.1, max_patches=5, channel_independent=False)
    names = {n for n, _ in enc.named_parameters()}
    assert {"cls", "embed.weight", "position"} <= names
    assert enc.embed.weight.shape == (8, 8) and enc.position.shape == (6, 8)
    conv = PatchTransformerEncoder(2, 4, 2, 8, 2, 1, 0.1, max_patches=5, channel_independent=False,
                                   token_embedding="conv", kernel_size=5,
                                   positional_encoding="fixed")
    assert conv.embed.weight.shape == (8, 8, 5) and conv.position is None
    assert "position" not in conv.state_dict()


def test_channel_mixing_conv_trains():
    enc = _encoder("conv", "fixed", n_layers=1, channel_independent=False).train()
    out = enc(_x())
    assert out.shape == (3, 1, 1 + n_patches(12, 4, 2), 8)
    out.square().sum().backward()
    assert enc.embed.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kw, match", [
    (dict(token_embedding="patch"), "token_embedding='patch' is not supported"),
    (dict(positional_encoding="rotary"), "positional_encoding='rotary' is not supported"),
])
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        PatchTransformerEncoder(1, 4, 2, 8, 2, 1, 0.1, max_patches=5, channel_independent=True,
                                **kw)
