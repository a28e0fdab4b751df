"""SoftCLT's soft contrastive losses against slow, obviously-correct references.

Two independent references are written here:

- ``loop_*``: the paper's soft InfoNCE as Python loops over anchors and candidates,
  one dot product at a time (``sum_{c != r} w_rc * (logsumexp_{c' != r} s_rc' - s_rc)``);
- ``official_*``: the official implementation's construction re-stated (similarity
  matrix without its diagonal via shifted triangles, log-softmax, target matrices
  built by gluing the off-diagonal part of ``W`` to ``W``, summed and divided by 2NT).

sslts must match both in value and gradient (float64), and reduce to TS2Vec's hard
loss when the soft targets are the identity.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslts.losses import (
    hierarchical_contrastive_loss,
    instance_contrastive_loss,
    soft_hierarchical_contrastive_loss,
    soft_instance_contrastive_loss,
    soft_instance_weights,
    soft_temporal_contrastive_loss,
    soft_temporal_weights,
    temporal_contrastive_loss,
)


# ------------------------------------------------------------- references
def loop_group(z, W):
    """Mean over the 2N rows of z (2N, D) of sum_{c != r} W[r % N, c % N] (-log p_rc)."""
    n2 = z.shape[0]
    n = n2 // 2
    total = z.new_zeros(())
    for r in range(n2):
        others = [c for c in range(n2) if c != r]
        lse = torch.logsumexp(torch.stack([z[r] @ z[c] for c in others]), 0)
        for c in others:
            total = total + W[r % n][c % n] * (lse - z[r] @ z[c])
    return total / n2


def loop_temporal_weights(T, tau):
    w = [[1.0 if s == t else 2 / (1 + math.exp(tau * abs(t - s))) for s in range(T)]
         for t in range(T)]
    return [[x if x >= 1e-6 else 0.0 for x in row] for row in w]


def loop_instance(z1, z2, W):
    B, T = z1.shape[:2]
    if B == 1:
        return z1.new_zeros(())
    return sum(loop_group(torch.cat([z1[:, t], z2[:, t]]), W) for t in range(T)) / T


def loop_temporal(z1, z2, tau):
    B, T = z1.shape[:2]
    if T == 1:
        return z1.new_zeros(())
    W = loop_temporal_weights(T, tau) if tau is not None else torch.eye(T).tolist()
    return sum(loop_group(torch.cat([z1[b], z2[b]]), W) for b in range(B)) / B


def loop_hierarchical(z1, z2, W, alpha=0.5, tau_temp=None, temporal_unit=0, hierarchy=True):
    levels, d = [], 0
    while True:
        T = z1.shape[1]
        loss = alpha * loop_instance(z1, z2, W) if alpha != 0 else z1.new_zeros(())
        if T > 1 and d >= temporal_unit and alpha != 1:
            tau = None if tau_temp is None else tau_temp * (2**d if hierarchy else 1)
            loss = loss + (1 - alpha) * loop_temporal(z1, z2, tau)
        levels.append(loss)
        if T == 1:
            return sum(levels) / len(levels)
        z1 = F.max_pool1d(z1.transpose(1, 2), 2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), 2).transpose(1, 2)
        d += 1


def official_group(z, W):
    """z (G, 2N, D); the official shifted-triangle logits and glued target matrices."""
    n = W.shape[0]
    sim = z @ z.transpose(1, 2)
    logits = torch.tril(sim, diagonal=-1)[:, :, :-1] + torch.triu(sim, diagonal=1)[:, :, 1:]
    logits = -F.log_softmax(logits, dim=-1)  # (G, 2N, 2N - 1)
    off = torch.tril(W, diagonal=-1)[:, :-1] + torch.triu(W, diagonal=1)[:, 1:]  # (N, N - 1)
    left, right = torch.cat([off, W], dim=1), torch.cat([W, off], dim=1)  # (N, 2N - 1)
    i = torch.arange(n)
    total = (logits[:, i] * left).sum() + (logits[:, n + i] * right).sum()
    return total / (2 * n * z.shape[0])


# ---------------------------------------------------------------- helpers
def pair(B, T, D=4, seed=0, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    z1 = (scale * torch.randn(B, T, D, generator=g, dtype=torch.float64)).requires_grad_()
    z2 = (scale * torch.randn(B, T, D, generator=g, dtype=torch.float64)).requires_grad_()
    return z1, z2


def random_weights(B, seed=0):
    """An asymmetric soft-label matrix with unit diagonal, like the official one."""
    g = torch.Generator().manual_seed(seed + 100)
    return soft_instance_weights(torch.rand(B, B, generator=g, dtype=torch.float64), tau=3.0)


def assert_same(fn, ref, z1, z2, rtol=1e-10, atol=1e-12):
    out, expected = fn(z1, z2), ref(z1, z2)
    torch.testing.assert_close(out, expected, rtol=rtol, atol=atol)
    if not expected.requires_grad:  # e.g. alpha = 0 with no level past temporal_unit
        assert not out.requires_grad
        return
    g = torch.autograd.grad(out, (z1, z2))
    r = torch.autograd.grad(expected, (z1, z2))
    for a, b in zip(g, r):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("B, T", [(2, 1), (3, 4), (5, 3)])
@pytest.mark.parametrize("chunk_size", [None, 2])
def test_instance_matches_loop_and_official(B, T, chunk_size):
    z1, z2 = pair(B, T, seed=B * 10 + T)
    W = random_weights(B)
    assert_same(lambda a, b: soft_instance_contrastive_loss(a, b, W, chunk_size),
                lambda a, b: loop_instance(a, b, W.tolist()), z1, z2)
    assert_same(lambda a, b: soft_instance_contrastive_loss(a, b, W, chunk_size),
                lambda a, b: official_group(torch.cat([a, b]).transpose(0, 1), W), z1, z2)


@pytest.mark.parametrize("tau", [0.1, 1.0, 7.0])
@pytest.mark.parametrize("chunk_size", [None, 3])
def test_temporal_matches_loop_and_official(tau, chunk_size):
    z1, z2 = pair(2, 6, seed=3)
    W = torch.tensor(loop_temporal_weights(6, tau), dtype=torch.float64)
    assert_same(lambda a, b: soft_temporal_contrastive_loss(a, b, tau, chunk_size),
                lambda a, b: loop_temporal(a, b, tau), z1, z2)
    assert_same(lambda a, b: soft_temporal_contrastive_loss(a, b, tau, chunk_size),
                lambda a, b: official_group(torch.cat([a, b], dim=1), W), z1, z2)


@pytest.mark.parametrize(
    "T, alpha, tau_temp, temporal_unit, hierarchy",
    [(8, 0.5, 2.0, 0, True), (7, 0.3, 0.5, 1, True), (5, 0.5, 1.0, 0, False),
     (6, 0.0, 0.5, 0, True), (4, 1.0, 2.0, 0, True), (6, 0.5, None, 2, True)],
)
@pytest.mark.parametrize("chunk_size", [None, 2])
def test_hierarchical_matches_loop(T, alpha, tau_temp, temporal_unit, hierarchy, chunk_size):
    z1, z2 = pair(3, T, seed=T)
    W = random_weights(3, seed=T)
    assert_same(
        lambda a, b: soft_hierarchical_contrastive_loss(
            a, b, W, alpha=alpha, tau_temp=tau_temp, temporal_unit=temporal_unit,
            temporal_hierarchy=hierarchy, chunk_size=chunk_size),
        lambda a, b: loop_hierarchical(a, b, W.tolist(), alpha, tau_temp, temporal_unit,
                                       hierarchy),
        z1, z2)


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 1.0])
@pytest.mark.parametrize("temporal_unit", [0, 1, 3])
@pytest.mark.parametrize("hard", ["none", "identity"])
def test_hard_limit_equals_hierarchical_contrastive_loss(alpha, temporal_unit, hard):
    z1, z2 = pair(4, 13, D=5, seed=7)
    if hard == "none":
        kwargs = {"instance_weights": None, "tau_temp": None}
    else:  # soft weights driven to 0/1: identity instance weights, infinitely sharp time
        kwargs = {"instance_weights": torch.eye(4), "tau_temp": math.inf}
    assert_same(
        lambda a, b: soft_hierarchical_contrastive_loss(
            a, b, alpha=alpha, temporal_unit=temporal_unit, **kwargs),
        lambda a, b: hierarchical_contrastive_loss(a, b, alpha, temporal_unit),
        z1, z2, rtol=1e-12, atol=1e-13)


def test_hard_limit_in_float32_and_through_the_weight_functions():
    z1, z2 = (z.detach().float() for z in pair(8, 40, D=16, seed=2))
    W = soft_instance_weights(torch.rand(8, 8), tau=1.0, max_weight=0.0)  # exactly I
    assert torch.equal(W, torch.eye(8))
    soft = soft_hierarchical_contrastive_loss(z1, z2, W, tau_temp=50.0)  # weights < 1e-6
    torch.testing.assert_close(soft, hierarchical_contrastive_loss(z1, z2), rtol=1e-6, atol=0)
    torch.testing.assert_close(soft_instance_contrastive_loss(z1, z2),
                               instance_contrastive_loss(z1, z2), rtol=1e-6, atol=0)
    torch.testing.assert_close(soft_temporal_contrastive_loss(z1, z2, None),
                               temporal_contrastive_loss(z1, z2), rtol=1e-6, atol=0)


@pytest.mark.parametrize("chunk_size", [None, 2])
def test_gradcheck_float64(chunk_size):
    z1, z2 = pair(3, 5, D=3)
    W = random_weights(3)
    assert torch.autograd.gradcheck(
        lambda a, b: soft_hierarchical_contrastive_loss(
            a, b, W, tau_temp=0.7, chunk_size=chunk_size), (z1, z2))


def test_gradient_scales_with_the_upstream_gradient():
    z1, z2 = pair(3, 7, seed=11)
    W = random_weights(3)
    loss = soft_instance_contrastive_loss(z1, z2, W)
    g = torch.autograd.grad(2.5 * loss, (z1, z2))
    r = torch.autograd.grad(2.5 * loop_instance(z1, z2, W.tolist()), (z1, z2))
    for a, b in zip(g, r):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def saved_sizes(fn):
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sizes


def test_memory_matches_the_hard_loss():
    B, T, D, chunk = 2, 64, 4, 8
    z1, z2 = pair(B, T, D=D)
    full = saved_sizes(lambda: soft_temporal_contrastive_loss(z1, z2, 1.0))
    chunked = saved_sizes(lambda: soft_temporal_contrastive_loss(z1, z2, 1.0, chunk))
    assert max(full) == B * (2 * T) ** 2  # one (B, 2T, 2T) softmax, as the hard loss
    # z, the (T, T) weights (never the tiled (2T, 2T) ones) and the row normalisers
    assert max(chunked) == max(B * 2 * T * D, T * T)
    assert max(saved_sizes(lambda: temporal_contrastive_loss(z1, z2))) == max(full)


def test_single_series_has_no_instance_term_and_single_step_no_temporal_term():
    z1, z2 = pair(1, 5)
    assert float(soft_instance_contrastive_loss(z1, z2)) == 0.0
    z1, z2 = pair(4, 1)
    assert float(soft_temporal_contrastive_loss(z1, z2, 1.0)) == 0.0


def test_soft_targets_on_near_neighbours_lower_the_loss_of_close_pairs():
    # Series 0 and 1 have equal representations: a soft target between them must
    # make the loss smaller than treating them as negatives.
    z1, z2 = (z.detach() for z in pair(3, 4, seed=5))
    z1[1], z2[1] = z1[0], z2[0]
    hard = soft_instance_contrastive_loss(z1, z2, torch.eye(3, dtype=torch.float64))
    W = torch.eye(3, dtype=torch.float64)
    W[0, 1] = W[1, 0] = 0.9
    soft = soft_instance_contrastive_loss(z1, z2, W)
    extra = loop_instance(z1, z2, (W - torch.eye(3, dtype=torch.float64)).tolist())
    torch.testing.assert_close(soft, hard + extra)  # the loss is linear in the targets


def test_bfloat16_inputs_under_autocast_give_a_float32_loss():
    z1, z2 = (z.detach() for z in pair(4, 9, D=8, seed=1))
    W = random_weights(4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = soft_hierarchical_contrastive_loss(z1.bfloat16(), z2.bfloat16(), W, tau_temp=1.0)
    exact = loop_hierarchical(z1.bfloat16().double(), z2.bfloat16().double(), W.tolist(),
                              tau_temp=1.0)
    assert loss.dtype == torch.float32
    assert float(loss) == pytest.approx(float(exact), rel=1e-5)


def test_large_similarities_do_not_overflow():
    z1, z2 = (z.detach() for z in pair(3, 6, scale=30.0))
    W = random_weights(3)
    loss = soft_hierarchical_contrastive_loss(z1.float(), z2.float(), W.float(), tau_temp=1.0)
    assert torch.isfinite(loss)
    expected = loop_hierarchical(z1, z2, W.tolist(), tau_temp=1.0)
    assert float(loss) == pytest.approx(float(expected), rel=1e-4)


@pytest.mark.parametrize("chunk_size", [None, 5])
def test_float32_close_to_float64(chunk_size):
    z1, z2 = (z.detach() for z in pair(6, 40, D=16, scale=2.0))  # similarities ~ 60
    W = random_weights(6)
    f64 = soft_hierarchical_contrastive_loss(z1, z2, W, tau_temp=0.5, chunk_size=chunk_size)
    f32 = soft_hierarchical_contrastive_loss(z1.float(), z2.float(), W, tau_temp=0.5,
                                             chunk_size=chunk_size)
    assert f32.dtype == torch.float32
    assert float(f32) == pytest.approx(float(f64), rel=1e-5)


def test_numpy_weights_are_accepted():
    z1, z2 = pair(3, 4)
    W = random_weights(3)
    torch.testing.assert_close(soft_instance_contrastive_loss(z1, z2, W.numpy()),
                               soft_instance_contrastive_loss(z1, z2, W))


# ------------------------------------------------------------ the weights
def test_temporal_weights_closed_form():
    W = soft_temporal_weights(30, 0.8, dtype=torch.float64)
    torch.testing.assert_close(W, torch.tensor(loop_temporal_weights(30, 0.8),
                                               dtype=torch.float64))
    assert torch.equal(W, W.T) and torch.all(W.diagonal() == 1)
    assert float(W[0, -1]) == 0.0  # 2 / (1 + e^{23.2}) < 1e-6 is cut to 0
    assert torch.equal(soft_temporal_weights(5, math.inf), torch.eye(5))


def test_instance_weights_equal_the_official_densify():
    rng = np.random.default_rng(0)
    D = rng.random((6, 6))
    np.fill_diagonal(D, 0.0)
    tau, a = 4.0, 0.3
    official = 2 * a / (1 + np.exp(tau * D)) + (1 - a) * np.eye(6)
    np.testing.assert_allclose(soft_instance_weights(D, tau, a).numpy(), official, rtol=1e-14)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"distances": np.zeros((2, 3)), "tau": 1.0}, "square"),
     ({"distances": np.zeros((2, 2)), "tau": 0.0}, "positive"),
     ({"distances": np.zeros((2, 2)), "tau": 1.0, "max_weight": 1.5}, r"\[0, 1\]")],
)
def test_instance_weights_reject_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        soft_instance_weights(**kwargs)


@pytest.mark.parametrize(
    "fn", [soft_hierarchical_contrastive_loss, soft_instance_contrastive_loss,
           soft_temporal_contrastive_loss],
)
@pytest.mark.parametrize(
    "z1, z2, match",
    [(torch.randn(4, 10, 8), torch.randn(4, 9, 8), "same shape"),
     (torch.randn(10, 8), torch.randn(10, 8), r"\(batch, time, dims\)"),
     (torch.randn(4, 0, 8), torch.randn(4, 0, 8), "no empty axis"),
     (torch.randn(4, 10, 8).numpy(), torch.randn(4, 10, 8), "torch.Tensor")],
    ids=["mismatch", "2-D", "empty", "ndarray"],
)
def test_losses_reject_bad_shapes(fn, z1, z2, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fn(z1, z2)


def test_losses_reject_bad_weights_and_taus():
    z1, z2 = torch.randn(4, 10, 8), torch.randn(4, 10, 8)
    with pytest.raises(ValueError, match=r"\(batch, batch\) = \(4, 4\)"):
        soft_hierarchical_contrastive_loss(z1, z2, torch.eye(3))
    with pytest.raises(ValueError, match="tau_temp must be a positive number or None"):
        soft_hierarchical_contrastive_loss(z1, z2, tau_temp=-1.0)
    with pytest.raises(ValueError, match="positive"):
        soft_temporal_contrastive_loss(z1, z2, tau=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_in_place_log_softmax_equals_out_of_place(dtype):
    from sslts.losses.soft_contrastive import _log_softmax_lastdim

    sim = 5 * torch.randn(3, 67, 67, generator=torch.Generator().manual_seed(0), dtype=dtype)
    sim.diagonal(dim1=1, dim2=2).fill_(float("-inf"))
    expected = torch.log_softmax(sim, dim=-1)
    torch.testing.assert_close(_log_softmax_lastdim(sim.clone()), expected, rtol=0, atol=0)
