"""FastDropout against torch's dropout: the same distribution, a cheaper mask."""

import pytest
import torch

from sslts.encoders import FastDropout, fast_dropout


def _masks(p, n=400_000, seed=0):
    torch.manual_seed(seed)
    return FastDropout(p)(torch.ones(n)) == 0


@pytest.mark.parametrize("p", [0.05, 0.1, 0.5, 0.9])
def test_drop_rate_matches_p(p):
    dropped = _masks(p).double()
    sd = (p * (1 - p) / dropped.numel()) ** 0.5
    assert abs(float(dropped.mean()) - p) < 5 * sd + 2**-15


def test_expectation_is_the_input_and_kept_values_are_scaled():
    torch.manual_seed(0)
    x = torch.randn(200, 1000)
    drop = FastDropout(0.3)
    y = drop(x)
    kept = y != 0
    scale = 2**15 / (2**15 - round(0.3 * 2**15))
    torch.testing.assert_close(y[kept], x[kept] * scale)
    mean = torch.stack([drop(x) for _ in range(50)]).mean(0)
    assert float((mean - x).abs().mean()) < 0.1  # the 50-draw mean approaches x


def test_neighbours_are_independent():
    # Four elements share a random word: their masks must still be uncorrelated.
    m = _masks(0.5, n=800_000).double().view(-1, 4)
    corr = torch.corrcoef(m.T)
    off_diagonal = corr[~torch.eye(4, dtype=torch.bool)]
    assert float(off_diagonal.abs().max()) < 0.01


def test_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(1)
    x = torch.randn(64, 17, 32, requires_grad=True)
    y = FastDropout(0.2)(x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, (y / x).detach())


def test_eval_mode_and_p_zero_are_the_identity_and_p_one_zeroes():
    x = torch.randn(10, 7)
    assert FastDropout(0.4).eval()(x) is x
    assert FastDropout(0.0)(x) is x
    assert torch.equal(FastDropout(1.0)(x), torch.zeros_like(x))


def test_seeded_masks_repeat_and_differ_across_seeds():
    assert torch.equal(_masks(0.1, seed=3), _masks(0.1, seed=3))
    assert not torch.equal(_masks(0.1, seed=3), _masks(0.1, seed=4))


def test_dtype_and_odd_sizes():
    x = torch.ones(3, 5, 7, dtype=torch.float64)  # 105 elements: not a multiple of 4
    y = FastDropout(0.5)(x)
    assert y.dtype == torch.float64 and y.shape == x.shape


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), True, "0.1"])
def test_bad_probability_is_a_clear_error(p):
    with pytest.raises(ValueError, match="dropout probability"):
        FastDropout(p)
    with pytest.raises(ValueError, match="dropout probability"):
        fast_dropout(torch.ones(3), p)


# ------------------------------------------------- the transformer layer that uses it
def _reference_layer(layer, x):
    """Post-LN transformer layer, one head at a time: the obviously correct version."""
    D, H = x.shape[-1], layer.n_heads
    d = D // H
    q, k, v = layer.qkv(x).split(D, dim=-1)
    heads = []
    for h in range(H):
        part = slice(h * d, (h + 1) * d)
        weights = torch.softmax(q[..., part] @ k[..., part].transpose(1, 2) / d**0.5, dim=-1)
        heads.append(weights @ v[..., part])
    x = layer.norm1(x + layer.out(torch.cat(heads, dim=-1)))
    return layer.norm2(x + layer.ffn(x))


def test_attention_paths_equal_a_per_head_reference():
    from sslts.encoders import PostLNTransformerLayer

    torch.manual_seed(0)
    layer = PostLNTransformerLayer(16, 4, dropout=1e-9)  # rounds to keep-everything masks
    x = torch.randn(5, 9, 16)
    expected = _reference_layer(layer, x)
    torch.testing.assert_close(layer.eval()(x), expected)  # scaled_dot_product_attention
    torch.testing.assert_close(layer.train()(x), expected)  # explicit weights + fast_dropout


def test_attention_dropout_is_active_in_training_only():
    from sslts.encoders import PostLNTransformerLayer

    torch.manual_seed(0)
    layer = PostLNTransformerLayer(16, 4, dropout=0.5)
    x = torch.randn(5, 9, 16)
    assert not torch.allclose(layer.train()(x), layer(x))
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))
    torch.testing.assert_close(layer(x), _reference_layer(layer, x))
