"""Two-view losses and IterNorm against slow, obviously-correct references.

References written here:

- ``loop_nt_xent``: NT-Xent as a Python loop over anchors, one ``exp`` at a time;
- ``tutorial_info_nce``: the popular tutorial's (wrong) construction, re-stated;
- ``numpy_barlow`` / ``numpy_vibcreg_terms``: the formulas with ``np.corrcoef`` and
  ``np.var`` on float64 arrays;
- ``eigh_inverse_sqrt``: ``Sigma^{-1/2}`` by eigendecomposition, for IterNorm.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslts.encoders.iternorm import IterNorm
from sslts.losses.two_view import (
    barlow_twins_loss,
    cross_correlation,
    info_nce_loss,
    invariance_loss,
    normalised_covariance_loss,
    variance_loss,
    vibcreg_loss,
)


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _decorrelated(B, D, seed=0):
    """(B, D) with zero-mean, unit-variance, mutually uncorrelated columns."""
    z = _randn(B, D, seed=seed)
    q, _ = torch.linalg.qr(z - z.mean(0))  # columns orthogonal to the ones vector
    return q * math.sqrt(B)


# ---------------------------------------------------------------- InfoNCE
def loop_nt_xent(z1, z2, t):
    z = torch.cat([z1, z2])
    n = len(z)
    total = 0.0
    for i in range(n):
        p = (i + n // 2) % n
        sims = [F.cosine_similarity(z[i], z[k], dim=0) / t for k in range(n)]
        denom = sum(torch.exp(sims[k]) for k in range(n) if k != i)
        total = total - torch.log(torch.exp(sims[p]) / denom)
    return total / n


def tutorial_info_nce(z1, z2, t):
    """The tutorial's construction: self-similarity as positive, target i mod N."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / t
    n = len(z)
    off = ~torch.eye(n, dtype=torch.bool)
    logits = torch.cat([sim.diagonal()[:, None], sim[off].view(n, n - 1)], dim=1)
    return F.cross_entropy(logits, torch.arange(n) % (n // 2))


@pytest.mark.parametrize("B,D,t", [(2, 3, 0.5), (5, 4, 0.5), (7, 2, 0.1), (4, 6, 2.0)])
def test_info_nce_matches_the_loop_in_value_and_gradient(B, D, t):
    z1, z2 = _randn(B, D, seed=1).requires_grad_(), _randn(B, D, seed=2).requires_grad_()
    ours = info_nce_loss(z1, z2, temperature=t)
    ref = loop_nt_xent(z1, z2, t)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    g_ours = torch.autograd.grad(ours, (z1, z2))
    g_ref = torch.autograd.grad(ref, (z1, z2))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_info_nce_is_cross_entropy_with_the_partner_as_target():
    z1, z2 = _randn(6, 5, seed=3), _randn(6, 5, seed=4)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / 0.5
    logits.fill_diagonal_(-math.inf)
    partner = torch.tensor([6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5])
    torch.testing.assert_close(info_nce_loss(z1, z2), F.cross_entropy(logits, partner))


def test_the_tutorial_formulation_is_different_and_wrong():
    z1, z2 = _randn(6, 5, seed=5), _randn(6, 5, seed=6)
    assert not torch.isclose(info_nce_loss(z1, z2), tutorial_info_nce(z1, z2, 0.5))
    # On the ideal embedding (each pair identical, all pairs orthogonal) the correct
    # loss is far below chance level log(2B - 1); the tutorial's is above it, because
    # it asks row i to match sample i - 1 rather than its partner.
    ideal = torch.eye(6, dtype=torch.float64)
    chance = math.log(11)
    assert info_nce_loss(ideal, ideal) < 0.5 * chance
    assert tutorial_info_nce(ideal, ideal, 0.5) > chance
    # And matching the views lowers the correct loss, not the tutorial's.
    shuffled = ideal[torch.tensor([1, 2, 3, 4, 5, 0])]
    assert info_nce_loss(ideal, ideal) < info_nce_loss(ideal, shuffled)
    assert tutorial_info_nce(ideal, ideal, 0.5) >= tutorial_info_nce(ideal, shuffled, 0.5)


def test_info_nce_rejects_bad_input():
    with pytest.raises(ValueError, match="same|shape"):
        info_nce_loss(torch.ones(3, 2), torch.ones(4, 2))
    with pytest.raises(ValueError, match="temperature"):
        info_nce_loss(torch.ones(3, 2), torch.ones(3, 2), temperature=0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        info_nce_loss(np.ones((3, 2)), torch.ones(3, 2))


# ------------------------------------------------------------ Barlow Twins
def numpy_barlow(z1, z2, lam):
    a, b = z1.numpy(), z2.numpy()
    D = a.shape[1]
    c = np.corrcoef(a.T, b.T)[:D, D:]  # Pearson correlation of z1_i with z2_j
    on = sum((1 - c[i, i]) ** 2 for i in range(D))
    off = sum(c[i, j] ** 2 for i in range(D) for j in range(D) if i != j)
    return on + lam * off


def test_barlow_twins_is_zero_for_correlated_decorrelated_standardised_pairs():
    z = _decorrelated(64, 8)
    assert float(barlow_twins_loss(z, z.clone(), eps=0.0)) < 1e-20
    # The standardisation makes any per-feature affine map of a view irrelevant.
    rescaled = 3.0 * z + torch.arange(8.0, dtype=torch.float64)
    assert float(barlow_twins_loss(z, rescaled, eps=0.0)) < 1e-20


@pytest.mark.parametrize("lam", [0.005, 1.0])
def test_barlow_twins_matches_the_correlation_formula(lam):
    z1, z2 = _randn(16, 5, seed=7), _randn(16, 5, seed=8) + 0.5 * _randn(16, 5, seed=7)
    expected = numpy_barlow(z1, z2, lam)
    ours = barlow_twins_loss(z1, z2, lambda_=lam, scale=1.0, eps=0.0)
    assert float(ours) == pytest.approx(expected, rel=1e-10)
    # The default scale is 1/D (NC-VQVAE's weight).
    default = barlow_twins_loss(z1, z2, lambda_=lam, eps=0.0)
    assert float(default) == pytest.approx(expected / 5, rel=1e-10)


def test_cross_correlation_is_the_pearson_matrix_and_barlow_has_a_clear_minimum_batch():
    z1, z2 = _randn(10, 3, seed=9), _randn(10, 3, seed=10)
    expected = np.corrcoef(z1.numpy().T, z2.numpy().T)[:3, 3:]
    np.testing.assert_allclose(cross_correlation(z1, z2, eps=0.0).numpy(), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="at least 2 rows"):
        barlow_twins_loss(torch.ones(1, 3), torch.ones(1, 3))


def test_barlow_twins_collapse_is_penalised():
    z = _decorrelated(32, 4)
    collapsed = torch.ones(32, 4, dtype=torch.float64)
    assert barlow_twins_loss(collapsed, collapsed) > barlow_twins_loss(z, z) + 0.9


# ----------------------------------------------------------------- VIbCReg
def numpy_vibcreg_terms(z, eps=1e-4):
    a = z.numpy()
    D = a.shape[1]
    v = np.mean([max(0.0, 1 - math.sqrt(np.var(a[:, j], ddof=1) + eps)) for j in range(D)])
    r = np.corrcoef(a.T)
    c = sum(r[i, j] ** 2 for i in range(D) for j in range(D) if i != j) / D**2
    return v, c


def test_invariance_is_the_mean_squared_difference():
    z1, z2 = _randn(5, 3, seed=11), _randn(5, 3, seed=12)
    expected = sum(float(z1[i, j] - z2[i, j]) ** 2 for i in range(5) for j in range(3)) / 15
    assert float(invariance_loss(z1, z2)) == pytest.approx(expected, rel=1e-12)
    assert float(invariance_loss(z1, z1)) == 0.0


def test_collapsed_batch_maximises_the_variance_term():
    collapsed = torch.full((16, 4), 2.5, dtype=torch.float64)
    top = 1 - math.sqrt(1e-4)
    assert float(variance_loss(collapsed)) == pytest.approx(top, rel=1e-12)
    for seed in range(5):  # anything with spread scores lower
        z = 0.3 * _randn(16, 4, seed=seed)
        assert float(variance_loss(z)) < top
        assert float(variance_loss(z)) == pytest.approx(numpy_vibcreg_terms(z)[0], rel=1e-10)
    assert float(variance_loss(5 * _randn(16, 4))) == 0.0  # std well above 1: no penalty


def test_normalised_covariance_term():
    z = _randn(20, 6, seed=13) + _randn(20, 1, seed=14)  # correlated features
    expected = numpy_vibcreg_terms(z)[1]
    assert float(normalised_covariance_loss(z)) == pytest.approx(expected, rel=1e-10)
    # Scale-free, zero for decorrelated features, largest for identical ones.
    assert float(normalised_covariance_loss(100 * z)) == pytest.approx(expected, rel=1e-10)
    assert float(normalised_covariance_loss(_decorrelated(20, 6))) < 1e-25
    same = _randn(20, 1).expand(20, 6)
    assert float(normalised_covariance_loss(same)) == pytest.approx(5 / 6, rel=1e-10)


def test_vibcreg_total_is_the_weighted_sum_of_its_terms():
    z1, z2 = _randn(12, 4, seed=15), _randn(12, 4, seed=16)
    v1, c1 = numpy_vibcreg_terms(z1)
    v2, c2 = numpy_vibcreg_terms(z2)
    s = float(((z1 - z2) ** 2).mean())
    expected = 25 * s + 25 * (v1 + v2) + 200 * (c1 + c2)
    assert float(vibcreg_loss(z1, z2)) == pytest.approx(expected, rel=1e-10)
    custom = float(vibcreg_loss(z1, z2, lambda_=1.0, mu=2.0, nu=3.0))
    assert custom == pytest.approx(s + 2 * (v1 + v2) + 3 * (c1 + c2), rel=1e-10)


def test_losses_run_in_float32_under_bfloat16_inputs():
    z1 = _randn(8, 4, seed=17).to(torch.bfloat16)
    z2 = _randn(8, 4, seed=18).to(torch.bfloat16)
    for loss in (info_nce_loss, barlow_twins_loss, vibcreg_loss):
        assert loss(z1, z2).dtype == torch.float32


# ----------------------------------------------------------------- IterNorm
def eigh_inverse_sqrt(sigma):
    w, v = torch.linalg.eigh(sigma)
    return v @ torch.diag(w.rsqrt()) @ v.T


def _group_covariances(y, g):
    groups = y.T.reshape(-1, g, y.shape[0])
    groups = groups - groups.mean(-1, keepdim=True)
    return groups @ groups.transpose(1, 2) / y.shape[0]


def test_iternorm_output_covariance_is_near_identity():
    mix = torch.eye(32, dtype=torch.float64) + 0.3 * _randn(32, 32, seed=19)
    x = _randn(512, 32, seed=20) @ mix  # correlated features
    layer = IterNorm(32, num_groups=4).double()  # 4 groups of 8, T=5 (official)
    assert layer.group_size == 8
    cov = _group_covariances(layer(x).detach(), 8)
    assert (cov - torch.eye(8, dtype=torch.float64)).abs().max() < 0.05
    before = _group_covariances(x, 8)
    assert (before - torch.eye(8, dtype=torch.float64)).abs().max() > 0.5


def test_iternorm_converges_to_the_inverse_square_root():
    x = _randn(200, 6, seed=21) @ (torch.eye(6, dtype=torch.float64) + _randn(6, 6, seed=22))
    layer = IterNorm(6, num_groups=1, n_iters=60, eps=1e-5, affine=False).double()
    xc = x - x.mean(0)
    sigma = xc.T @ xc / 200 + 1e-5 * torch.eye(6, dtype=torch.float64)
    torch.testing.assert_close(layer(x), xc @ eigh_inverse_sqrt(sigma), rtol=1e-7, atol=1e-7)


def test_iternorm_eval_mode_uses_running_statistics():
    layer = IterNorm(4, num_groups=2, momentum=0.1).double()
    x = _randn(50, 4, seed=23) + 3.0
    layer(x)
    torch.testing.assert_close(
        layer.running_mean.reshape(4), 0.1 * x.mean(0), rtol=1e-12, atol=1e-12
    )
    for seed in range(60):  # running estimates settle on the distribution's
        layer(_randn(256, 4, seed=100 + seed) * torch.tensor([1.0, 2, 3, 4]) + 3.0)
    layer.eval()
    batch = _randn(300, 4, seed=24) * torch.tensor([1.0, 2, 3, 4]) + 3.0
    out = layer(batch)
    torch.testing.assert_close(layer(batch[:7]), out[:7])  # independent of the batch
    assert (_group_covariances(out, 2) - torch.eye(2, dtype=torch.float64)).abs().max() < 0.25
    assert out.mean(0).abs().max() < 0.25


def test_iternorm_uneven_groups_gradients_and_affine():
    layer = IterNorm(10, num_groups=4).double()  # groups of 3: 3 + 3 + 3 + 1
    assert (layer.group_size, layer.n_groups) == (3, 4)
    x = _randn(40, 10, seed=25).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: layer(v), (x[:12].detach().requires_grad_(),))
    y = layer(x)
    y.pow(2).sum().backward()
    assert torch.isfinite(x.grad).all() and layer.weight.grad is not None
    with pytest.raises(ValueError, match=r"shape \(batch, 10\)"):
        layer(torch.ones(3, 9, dtype=torch.float64))


def test_iternorm_keeps_bfloat16_inputs_in_bfloat16_but_computes_in_float32():
    layer = IterNorm(8, num_groups=2)
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    ref = IterNorm(8, num_groups=2)(x)
    torch.testing.assert_close(out.float(), ref, rtol=0.02, atol=0.02)
