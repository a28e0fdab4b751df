"""TS2Vec's contrastive losses against slow, obviously-correct references.

Two independent references are written here:

- ``official_*``: the official implementation's construction re-stated literally
  (similarity matrix -> lower/upper triangles glued without the diagonal ->
  log_softmax -> gather the positive columns), a ``while`` loop over pooled levels;
- ``loop_*``: InfoNCE written as Python loops over anchors, one ``exp`` at a time.

sslts must match both in value and in gradient (float64, tight tolerances).
"""

import math

import pytest
import torch
import torch.nn.functional as F

from sslts.losses import (
    hierarchical_contrastive_loss,
    instance_contrastive_loss,
    level_losses,
    single_level_loss,
    temporal_contrastive_loss,
)


# ------------------------------------------------------------- references
def official_group_loss(z, n):
    """z: (G, 2n, D) with row i and row n+i positives; official tril/triu recipe."""
    sim = z @ z.transpose(1, 2)  # (G, 2n, 2n)
    logits = torch.tril(sim, diagonal=-1)[:, :, :-1]  # entries left of the diagonal
    logits = logits + torch.triu(sim, diagonal=1)[:, :, 1:]  # right of it, shifted left
    logits = -F.log_softmax(logits, dim=-1)  # (G, 2n, 2n - 1)
    i = torch.arange(n)
    return (logits[:, i, n + i - 1].mean() + logits[:, n + i, i].mean()) / 2


def official_instance(z1, z2):
    if z1.shape[0] == 1:
        return z1.new_tensor(0.0)
    return official_group_loss(torch.cat([z1, z2], dim=0).transpose(0, 1), z1.shape[0])


def official_temporal(z1, z2):
    if z1.shape[1] == 1:
        return z1.new_tensor(0.0)
    return official_group_loss(torch.cat([z1, z2], dim=1), z1.shape[1])


def official_hierarchical(z1, z2, alpha=0.5, temporal_unit=0):
    loss, d = z1.new_tensor(0.0), 0
    while z1.shape[1] > 1:
        loss = loss + alpha * official_instance(z1, z2)
        if d >= temporal_unit:
            loss = loss + (1 - alpha) * official_temporal(z1, z2)
        d += 1
        z1 = F.max_pool1d(z1.transpose(1, 2), kernel_size=2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), kernel_size=2).transpose(1, 2)
    if z1.shape[1] == 1:
        loss = loss + alpha * official_instance(z1, z2)
        d += 1
    return loss / d


def loop_infonce(groups):
    """Mean over every anchor of -log(exp(s_pos) / sum_{j != anchor} exp(s_j)).

    groups: list of (2n, D) tensors; rows a and (a + n) mod 2n are positives.
    """
    terms = []
    for z in groups:
        n2 = z.shape[0]
        for a in range(n2):
            pos = (a + n2 // 2) % n2
            denom = sum(torch.exp(z[a] @ z[j]) for j in range(n2) if j != a)
            terms.append(-torch.log(torch.exp(z[a] @ z[pos]) / denom))
    return torch.stack(terms).mean()


def loop_instance(z1, z2):
    return loop_infonce([torch.cat([z1[:, t], z2[:, t]]) for t in range(z1.shape[1])])


def loop_temporal(z1, z2):
    return loop_infonce([torch.cat([z1[b], z2[b]]) for b in range(z1.shape[0])])


# ---------------------------------------------------------------- helpers
def pair(B, T, D=4, seed=0, scale=0.7):
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        (scale * torch.randn(B, T, D, generator=gen, dtype=torch.float64)).requires_grad_()
        for _ in range(2)
    )


def value_and_grads(fn, z1, z2):
    loss = fn(z1, z2)
    return loss.detach(), torch.autograd.grad(loss, (z1, z2), allow_unused=True)


def assert_same(fn, ref, z1, z2, rtol=1e-10):
    value, grads = value_and_grads(fn, z1, z2)
    ref_value, ref_grads = value_and_grads(ref, z1, z2)
    torch.testing.assert_close(value, ref_value, rtol=rtol, atol=1e-12)
    for g, rg in zip(grads, ref_grads):
        rg = torch.zeros_like(z1) if rg is None else rg
        g = torch.zeros_like(z1) if g is None else g
        torch.testing.assert_close(g, rg, rtol=rtol, atol=1e-12)


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("B,T", [(2, 1), (3, 5), (4, 7)])
def test_instance_matches_both_references(B, T):
    z1, z2 = pair(B, T)
    assert_same(instance_contrastive_loss, official_instance, z1, z2)
    assert_same(instance_contrastive_loss, loop_instance, z1, z2)


@pytest.mark.parametrize("B,T", [(1, 2), (2, 5), (3, 8)])
def test_temporal_matches_both_references(B, T):
    z1, z2 = pair(B, T)
    assert_same(temporal_contrastive_loss, official_temporal, z1, z2)
    assert_same(temporal_contrastive_loss, loop_temporal, z1, z2)


def test_hand_computed_two_series_one_step():
    # B=2, T=1, D=1: z1 = (1, 0), z2 = (1, 2); the stacked rows are (1, 0, 1, 2).
    z1 = torch.tensor([[[1.0]], [[0.0]]], dtype=torch.float64)
    z2 = torch.tensor([[[1.0]], [[2.0]]], dtype=torch.float64)
    # rows (1, 0, 1, 2); anchor a, others j != a, positive (a + 2) % 4
    rows = [1.0, 0.0, 1.0, 2.0]
    expected = 0.0
    for a in range(4):
        others = [rows[a] * rows[j] for j in range(4) if j != a]
        expected += math.log(sum(math.exp(s) for s in others)) - rows[a] * rows[(a + 2) % 4]
    expected /= 4
    assert float(instance_contrastive_loss(z1, z2)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("T", [1, 2, 9, 16, 23])
@pytest.mark.parametrize("temporal_unit", [0, 2])
def test_hierarchical_matches_official(T, temporal_unit):
    z1, z2 = pair(3, T, seed=T)
    assert_same(lambda a, b: hierarchical_contrastive_loss(a, b, temporal_unit=temporal_unit),
                lambda a, b: official_hierarchical(a, b, temporal_unit=temporal_unit), z1, z2)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_hierarchical_alpha_matches_official(alpha):
    z1, z2 = pair(4, 11)
    assert_same(lambda a, b: hierarchical_contrastive_loss(a, b, alpha=alpha),
                lambda a, b: official_hierarchical(a, b, alpha=alpha), z1, z2)


def test_single_series_has_only_temporal_terms():
    z1, z2 = pair(1, 6)
    assert float(instance_contrastive_loss(z1, z2)) == 0.0
    assert_same(hierarchical_contrastive_loss, official_hierarchical, z1, z2)


def test_level_losses_average_to_hierarchical():
    z1, z2 = pair(3, 13)
    levels = level_losses(z1, z2)
    assert len(levels) == 4  # lengths 13, 6, 3, 1
    torch.testing.assert_close(torch.stack(levels).mean(), hierarchical_contrastive_loss(z1, z2))


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64])
@pytest.mark.parametrize("fn", [instance_contrastive_loss, temporal_contrastive_loss])
def test_chunked_equals_unchunked(fn, chunk_size):
    z1, z2 = pair(4, 9, seed=3)
    assert_same(lambda a, b: fn(a, b, chunk_size), fn, z1, z2, rtol=1e-9)


def test_chunked_hierarchical_equals_unchunked_and_official():
    z1, z2 = pair(3, 21, seed=5)
    assert_same(lambda a, b: hierarchical_contrastive_loss(a, b, chunk_size=4),
                official_hierarchical, z1, z2, rtol=1e-9)


@pytest.mark.parametrize("chunk_size", [None, 2])
def test_gradcheck_float64(chunk_size):
    z1, z2 = pair(2, 5, D=3)
    assert torch.autograd.gradcheck(
        lambda a, b: hierarchical_contrastive_loss(a, b, chunk_size=chunk_size), (z1, z2)
    )


def saved_sizes(fn):
    """Numels of every tensor autograd saves while ``fn`` builds its graph."""
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sizes


def test_chunked_loss_never_saves_the_full_similarity_matrix():
    B, T, D, chunk = 2, 64, 4, 8
    z1, z2 = pair(B, T, D=D)
    full = saved_sizes(lambda: temporal_contrastive_loss(z1, z2))
    chunked = saved_sizes(lambda: temporal_contrastive_loss(z1, z2, chunk_size=chunk))
    assert max(full) == B * (2 * T) ** 2  # one (B, 2T, 2T) softmax and nothing bigger
    assert max(chunked) <= B * 2 * T * D  # only z-sized tensors and row normalisers


def test_float32_close_to_float64():
    z1, z2 = (z.detach() for z in pair(4, 50, D=16, scale=0.3))
    f32 = hierarchical_contrastive_loss(z1.float(), z2.float())
    assert f32.dtype == torch.float32
    assert float(f32) == pytest.approx(float(official_hierarchical(z1, z2)), rel=1e-5)


def test_bfloat16_inputs_under_autocast_give_a_float32_loss():
    z1, z2 = (z.detach() for z in pair(4, 20, D=8, scale=0.3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = hierarchical_contrastive_loss(z1.bfloat16(), z2.bfloat16())
    exact = official_hierarchical(z1.bfloat16().double(), z2.bfloat16().double())
    assert loss.dtype == torch.float32
    # Only the inputs were rounded to bfloat16; the loss itself ran in float32.
    assert float(loss) == pytest.approx(float(exact), rel=1e-5)


def test_large_similarities_do_not_overflow():
    z1, z2 = (z.detach() for z in pair(3, 6, scale=30.0))  # dot products in the thousands
    loss = hierarchical_contrastive_loss(z1.float(), z2.float())
    assert torch.isfinite(loss)
    assert float(loss) == pytest.approx(float(official_hierarchical(z1, z2)), rel=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_in_place_log_softmax_equals_out_of_place(dtype):
    # The CPU fast path overwrites the similarity matrix with its log-softmax.
    from sslts.losses.contrastive import _log_softmax_lastdim

    sim = 5 * torch.randn(3, 67, 67, generator=torch.Generator().manual_seed(0), dtype=dtype)
    sim.diagonal(dim1=1, dim2=2).fill_(float("-inf"))
    expected = torch.log_softmax(sim, dim=-1)
    torch.testing.assert_close(_log_softmax_lastdim(sim.clone()), expected, rtol=0, atol=0)


@pytest.mark.parametrize(
    "fn", [hierarchical_contrastive_loss, level_losses, instance_contrastive_loss,
           temporal_contrastive_loss],
)
@pytest.mark.parametrize(
    "z1, z2, match",
    [
        (torch.randn(4, 10, 8), torch.randn(4, 9, 8), "same shape"),
        (torch.randn(10, 8), torch.randn(10, 8), r"\(batch, time, dims\)"),
        (torch.randn(4, 0, 8), torch.randn(4, 0, 8), "no empty axis"),
        (torch.randn(4, 10, 8).numpy(), torch.randn(4, 10, 8), "torch.Tensor"),
    ],
    ids=["mismatch", "2-D", "empty", "ndarray"],
)
def test_losses_reject_bad_shapes(fn, z1, z2, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fn(z1, z2)


def test_single_level_loss_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        single_level_loss(torch.randn(4, 10, 8), torch.randn(4, 9, 8), 0)


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_gradient_scales_with_the_upstream_gradient(chunk_size):
    # The hand-written backward multiplies by the incoming gradient (a tensor, never
    # read on the host); a weighted sum of levels must scale every term.
    z1, z2 = pair(3, 7, seed=11)
    loss = temporal_contrastive_loss(z1, z2, chunk_size)
    g1, g2 = torch.autograd.grad(2.5 * loss, (z1, z2))
    r1, r2 = torch.autograd.grad(2.5 * official_temporal(z1, z2), (z1, z2))
    torch.testing.assert_close(g1, r1, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g2, r2, rtol=1e-10, atol=1e-12)


def test_views_of_a_longer_output_give_the_same_loss():
    # TS2Vec passes slices of the encoder outputs (out1[:, -l:], out2[:, :l]).
    a, b = pair(3, 12, seed=4)
    z1, z2 = a[:, 4:], b[:, :8]
    assert not z1.is_contiguous()
    assert_same(hierarchical_contrastive_loss,
                lambda x, y: official_hierarchical(x.contiguous(), y.contiguous()), z1, z2)


@pytest.mark.parametrize("level", [0, 2])
def test_chunked_single_level_equals_unchunked_in_less_memory(level):
    z1, z2 = pair(3, 13 * 2**level, seed=6)
    assert_same(lambda a, b: single_level_loss(a, b, level, chunk_size=4),
                lambda a, b: single_level_loss(a, b, level), z1, z2, rtol=1e-9)
    full = saved_sizes(lambda: single_level_loss(z1, z2, level))
    chunked = saved_sizes(lambda: single_level_loss(z1, z2, level, chunk_size=4))
    assert max(full) == 3 * 26**2  # the (B, 2T, 2T) softmax of the pooled length 13
    assert max(chunked) < max(full)
