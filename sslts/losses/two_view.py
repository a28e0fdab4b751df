"""Objectives on two batches of paired embeddings: NT-Xent, Barlow Twins, VIbCReg.

Every loss takes ``z1`` and ``z2`` of shape (B, D): row ``i`` of ``z1`` and row ``i``
of ``z2`` embed two views of the same sample.  Each returns a scalar tensor.  The
functions check shapes only (scanning values would cost a device sync per step):
NaN propagates to the loss, and the estimators stop on a non-finite loss.

Batch statistics (standardisation, variances, correlations) are computed in at
least float32, so that the losses behave the same under bfloat16 autocast.

- :func:`info_nce_loss`: NT-Xent (Chen et al., 2020) with cosine similarity, as
  taught by the temporal-contrast LSTM tutorial, but with the correct positive.
- :func:`barlow_twins_loss` (Zbontar et al., 2021): the cross-correlation of the
  batch-standardised embeddings is pushed toward the identity.
- :func:`vibcreg_loss` (Lee & Aune, 2021): invariance + variance + normalised
  covariance, available as :func:`invariance_loss`, :func:`variance_loss` and
  :func:`normalised_covariance_loss`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "info_nce_loss",
    "cross_correlation",
    "barlow_twins_loss",
    "invariance_loss",
    "variance_loss",
    "normalised_covariance_loss",
    "vibcreg_loss",
]


def _check_pair(z1, z2, name: str) -> None:
    for arg, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"{name}: {arg} must be a torch.Tensor, got {type(z).__name__}.")
    if z1.ndim != 2 or z1.shape != z2.shape or 0 in z1.shape:
        raise ValueError(
            f"{name}: z1 and z2 must both have shape (batch, dims) with no empty axis, got "
            f"{tuple(z1.shape)} and {tuple(z2.shape)}."
        )


def _check_batch(z: torch.Tensor, name: str, minimum: int = 2) -> None:
    if z.shape[0] < minimum:
        raise ValueError(
            f"{name} needs a batch of at least {minimum} rows to compute batch statistics, "
            f"got {z.shape[0]}; raise batch_size."
        )


def _float(z: torch.Tensor) -> torch.Tensor:
    return z.float() if z.dtype in (torch.float16, torch.bfloat16) else z


def info_nce_loss(z1: torch.Tensor, z2: torch.Tensor, *, temperature: float = 0.5):
    """NT-Xent: each row must pick its partner among the other ``2B - 1`` rows.

    With ``z = [z1; z2]`` (2B rows), cosine similarities ``s_ik`` and the partner
    ``p(i) = (i + B) mod 2B``::

        loss = mean_i -log( exp(s_{i,p(i)} / t) / sum_{k != i} exp(s_ik / t) )

    i.e. the cross-entropy of the similarity logits (self-similarity excluded) with
    the partner as the target class.

    The tutorial this objective comes from computes something else: it places
    the self-similarity (always 1) in the positive column, keeps the true partner
    among the negatives and then uses ``i mod B`` instead of 0 as the target
    column, so that row ``i`` is pulled toward sample ``i - 1`` and pushed away from
    its real partner.  That loss is not minimised by matching views; this one is.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, D)
        Embeddings of the two views; row ``i`` of each is a positive pair.
    temperature : float, default=0.5
        Softmax temperature ``t`` (the tutorial's value).

    Returns
    -------
    Tensor, scalar
        At least ``0``; ``log(2B - 1)`` when all similarities are equal.

    Examples
    --------
    >>> import torch
    >>> z = torch.eye(4)
    >>> round(float(info_nce_loss(z, z)), 4)  # log(1 + 6 / e**2): partners equal, rest orthogonal
    0.5944
    """
    _check_pair(z1, z2, "info_nce_loss")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}.")
    B = z1.shape[0]
    z = F.normalize(_float(torch.cat([z1, z2])), dim=1)
    logits = (z @ z.T) / temperature  # (2B, 2B)
    logits = logits.masked_fill(torch.eye(2 * B, dtype=torch.bool, device=z.device), -torch.inf)
    target = (torch.arange(2 * B, device=z.device) + B) % (2 * B)
    return F.cross_entropy(logits, target)


def _standardise(z: torch.Tensor, eps: float) -> torch.Tensor:
    """Columns of ``z`` with zero mean and unit (biased) variance over the batch."""
    z = _float(z)
    return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + eps)


def cross_correlation(z1: torch.Tensor, z2: torch.Tensor, *, eps: float = 1e-5):
    """Barlow Twins' ``C = z1_std^T z2_std / B``: the (D, D) Pearson correlation matrix.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, D)
        Embeddings of the two views.
    eps : float, default=1e-5
        Added to the variances before the square root (a constant column then
        standardises to 0 instead of NaN).  1e-5 is the non-affine batch norm of
        the official Barlow Twins.

    Returns
    -------
    Tensor of shape (D, D)
        ``C[i, j]`` is the correlation of feature ``i`` of ``z1`` with feature ``j``
        of ``z2`` over the batch (times ``var / (var + eps)``).

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> cross_correlation(z, z, eps=0.0).round(decimals=4)
    tensor([[1., 0.],
            [0., 1.]])
    """
    _check_pair(z1, z2, "cross_correlation")
    _check_batch(z1, "cross_correlation")
    return _standardise(z1, eps).T @ _standardise(z2, eps) / z1.shape[0]


def barlow_twins_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    lambda_: float = 0.005,
    scale: float | None = None,
    eps: float = 1e-5,
):
    """Barlow Twins' redundancy-reduction loss.

    ``scale * (sum_i (1 - C_ii)**2 + lambda_ * sum_{i != j} C_ij**2)`` with ``C`` the
    :func:`cross_correlation` of the batch-standardised embeddings.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, D)
        Projector outputs of the two views; ``B >= 2``.
    lambda_ : float, default=0.005
        Weight of the off-diagonal (redundancy) term; 0.005 in the time-series
        Barlow Twins of the VIbCReg repository and in NC-VQVAE (0.0051 on ImageNet).
    scale : float or None, default=None
        Multiplier of the whole loss.  None uses ``1 / D`` (NC-VQVAE's weight), which
        keeps the loss of order one whatever the projector width; the official
        Barlow Twins uses 1.
    eps : float, default=1e-5
        See :func:`cross_correlation`.

    Returns
    -------
    Tensor, scalar
        Zero exactly when ``C`` is the identity (perfectly correlated pairs,
        decorrelated features).

    Notes
    -----
    The standardisation divides by the biased (population) standard deviation, so
    that ``C`` is exactly the correlation matrix and identical views reach
    ``C_ii = 1``.  The VIbCReg repository divides by the unbiased one while averaging
    over ``B``, which caps ``C_ii`` at ``(B - 1) / B``.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> round(float(barlow_twins_loss(z, z, eps=0.0)), 6)
    0.0
    >>> round(float(barlow_twins_loss(z, -z, eps=0.0, scale=1.0)), 6)  # 2 * (1 - (-1))**2
    8.0
    """
    _check_pair(z1, z2, "barlow_twins_loss")
    c = cross_correlation(z1, z2, eps=eps)
    on_diagonal = (1 - c.diagonal()).pow(2).sum()
    off_diagonal = c.pow(2).sum() - c.diagonal().pow(2).sum()
    loss = on_diagonal + lambda_ * off_diagonal
    return loss * (1.0 / c.shape[0] if scale is None else scale)


def invariance_loss(z1: torch.Tensor, z2: torch.Tensor):
    """VIbCReg's (and VICReg's) invariance term: ``mean((z1 - z2)**2)``.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, D)
        Embeddings of the two views.

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> float(invariance_loss(torch.zeros(2, 2), torch.ones(2, 2)))
    1.0
    """
    _check_pair(z1, z2, "invariance_loss")
    return F.mse_loss(_float(z1), _float(z2))


def variance_loss(z: torch.Tensor, *, eps: float = 1e-4):
    """VIbCReg's variance (hinge) term: ``mean_j relu(1 - sqrt(Var_b z_j + eps))``.

    Parameters
    ----------
    z : Tensor of shape (B, D)
        One view's embeddings; ``B >= 2`` (unbiased variance).
    eps : float, default=1e-4
        Added to the variance before the square root, as in VIbCReg and VICReg.

    Returns
    -------
    Tensor, scalar in ``[0, 1 - sqrt(eps)]``
        Zero when every feature has a standard deviation of at least about 1; its
        maximum ``1 - sqrt(eps)`` on a collapsed batch (all rows equal).

    Examples
    --------
    >>> import torch
    >>> round(float(variance_loss(torch.ones(4, 3))), 4)  # collapsed
    0.99
    >>> float(variance_loss(torch.tensor([[2.0], [-2.0]])))
    0.0
    """
    _check_pair(z, z, "variance_loss")
    _check_batch(z, "variance_loss")
    std = torch.sqrt(_float(z).var(dim=0) + eps)
    return F.relu(1 - std).mean()


def normalised_covariance_loss(z: torch.Tensor):
    """VIbCReg's feature-decorrelation term: mean squared off-diagonal correlation.

    Each column is centred and L2-normalised over the batch, so ``R = Z^T Z`` is the
    (D, D) correlation matrix; the loss is ``sum_{i != j} R_ij**2 / D**2``.  Unlike
    VICReg's covariance term it does not depend on the scale of ``z``.

    Parameters
    ----------
    z : Tensor of shape (B, D)
        One view's embeddings; ``B >= 2``.

    Returns
    -------
    Tensor, scalar in ``[0, (D - 1) / D]``
        Zero for decorrelated features; a constant column counts as uncorrelated.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])  # two identical features
    >>> round(float(normalised_covariance_loss(z)), 6)  # (1**2 + 1**2) / 2**2
    0.5
    """
    _check_pair(z, z, "normalised_covariance_loss")
    _check_batch(z, "normalised_covariance_loss")
    z = _float(z)
    zn = F.normalize(z - z.mean(dim=0), dim=0)
    r = zn.T @ zn
    D = z.shape[1]
    return (r.pow(2).sum() - r.diagonal().pow(2).sum()) / D**2


def vibcreg_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    lambda_: float = 25.0,
    mu: float = 25.0,
    nu: float = 200.0,
    eps: float = 1e-4,
):
    """VIbCReg's loss ``lambda_ * s + mu * (v1 + v2) + nu * (c1 + c2)``.

    ``s`` is :func:`invariance_loss`, ``v`` :func:`variance_loss` and ``c``
    :func:`normalised_covariance_loss` of each view (summed over the views, not
    averaged as in VICReg).

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, D)
        Projector outputs (after IterNorm) of the two views; ``B >= 2``.
    lambda_, mu, nu : float, default=25, 25, 200
        Weights of the invariance, variance and covariance terms: the official
        VIbCReg values (NC-VQVAE uses ``nu=100`` and scales the whole loss by 0.01).
    eps : float, default=1e-4
        See :func:`variance_loss`.

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    >>> round(float(vibcreg_loss(z, z)), 4)  # invariant, spread, decorrelated
    0.0
    """
    _check_pair(z1, z2, "vibcreg_loss")
    variance = variance_loss(z1, eps=eps) + variance_loss(z2, eps=eps)
    covariance = normalised_covariance_loss(z1) + normalised_covariance_loss(z2)
    return lambda_ * invariance_loss(z1, z2) + mu * variance + nu * covariance
