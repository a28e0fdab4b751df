"""TS2Vec's contextual contrastive losses (Yue et al., AAAI 2022, Section 3.3).

Similarities are raw dot products (no normalisation, no temperature), as in the
paper.  Each loss builds one similarity matrix per group, masks its diagonal in
place and takes a log-sum-exp; the positives are read off as row-wise dot products.
This equals the official implementation's log-softmax over the off-diagonal
entries without its lower/upper-triangular copies (see ``tests/test_losses.py``,
which checks values and gradients against a literal re-statement of the formula).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "instance_contrastive_loss",
    "temporal_contrastive_loss",
    "hierarchical_contrastive_loss",
    "level_losses",
    "single_level_loss",
]


def _info_nce_same_group(z: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Mean of ``logsumexp_{j != i} z_i.z_j - positive_i`` over rows of each group.

    z : (G, 2N, D) -- two views stacked along dim 1; positive : (G, N).
    """
    sim = torch.matmul(z, z.transpose(1, 2))  # (G, 2N, 2N)
    sim.diagonal(dim1=1, dim2=2).fill_(float("-inf"))
    lse = torch.logsumexp(sim, dim=-1)  # (G, 2N)
    # Both rows of a positive pair share the same positive similarity.
    return lse.mean() - positive.mean()


def instance_contrastive_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Instance-wise contrastive loss.

    For each timestamp, the positive of series ``i`` in one view is series ``i`` in
    the other view; all other series of both views at that timestamp are negatives.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, T, D)
        Representations of the overlapping timestamps in the two views.

    Returns
    -------
    Tensor
        Scalar loss; 0 when ``B == 1`` (no negatives).
    """
    if z1.shape[0] == 1:
        return z1.new_zeros(())
    z = torch.cat([z1, z2], dim=0).transpose(0, 1)  # (T, 2B, D)
    positive = (z1 * z2).sum(-1).transpose(0, 1)  # (T, B)
    return _info_nce_same_group(z, positive)


def temporal_contrastive_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Temporal contrastive loss.

    For each series, the positive of timestamp ``t`` in one view is timestamp ``t``
    in the other view; all other timestamps of both views are negatives.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, T, D)

    Returns
    -------
    Tensor
        Scalar loss; 0 when ``T == 1``.
    """
    if z1.shape[1] == 1:
        return z1.new_zeros(())
    z = torch.cat([z1, z2], dim=1)  # (B, 2T, D)
    positive = (z1 * z2).sum(-1)  # (B, T)
    return _info_nce_same_group(z, positive)


def _pool(z: torch.Tensor) -> torch.Tensor:
    """Max-pool by 2 along time (an odd last step is dropped): (B, T, D) -> (B, T//2, D)."""
    return F.max_pool1d(z.transpose(1, 2), kernel_size=2).transpose(1, 2)


def level_losses(
    z1: torch.Tensor, z2: torch.Tensor, alpha: float = 0.5, temporal_unit: int = 0,
    levels=None,
) -> list[torch.Tensor]:
    """Loss of every pooling level of the hierarchy.

    Level ``d`` pools the representations ``d`` times by 2 along time.  Its loss is
    ``alpha * instance + (1 - alpha) * temporal``; the temporal term is left out below
    ``temporal_unit`` and at the last level (length 1).

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, T, D)
    alpha : float, default=0.5
        Weight of the instance term.
    temporal_unit : int, default=0
        Finest level that gets a temporal term.
    levels : container of int, default=None
        Levels to evaluate (others are skipped but still pooled through); all if None.

    Returns
    -------
    list of Tensor
        One scalar per level ``0 .. floor(log2 T)`` (``None`` for skipped levels).
    """
    out = []
    d = 0
    while True:
        length = z1.shape[1]
        if levels is None or d in levels:
            loss = alpha * instance_contrastive_loss(z1, z2) if alpha != 0 else z1.new_zeros(())
            if length > 1 and d >= temporal_unit and alpha != 1:
                loss = loss + (1 - alpha) * temporal_contrastive_loss(z1, z2)
            out.append(loss)
        else:
            out.append(None)
        if length == 1:
            return out
        if levels is not None and d >= max(levels):
            return out
        z1, z2 = _pool(z1), _pool(z2)
        d += 1


def hierarchical_contrastive_loss(
    z1: torch.Tensor, z2: torch.Tensor, alpha: float = 0.5, temporal_unit: int = 0
) -> torch.Tensor:
    """TS2Vec's hierarchical contrastive loss: the mean of :func:`level_losses`.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, T, D)
        Representations of the overlapping timestamps of two views.
    alpha : float, default=0.5
        Weight of the instance term (the temporal term gets ``1 - alpha``).
    temporal_unit : int, default=0
        Finest level that gets a temporal term.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    losses = level_losses(z1, z2, alpha, temporal_unit)
    return torch.stack(losses).sum() / len(losses)


def single_level_loss(
    z1: torch.Tensor, z2: torch.Tensor, level: int, alpha: float = 0.5, temporal_unit: int = 0
) -> torch.Tensor:
    """Loss of one pooling level of the hierarchy, computed directly.

    Pooling ``level`` times by 2 (flooring odd lengths) equals one max-pool with
    kernel and stride ``2**level``, so level ``d`` of :func:`level_losses` is reached
    without building the finer levels: only this level enters the autograd graph.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, T, D)
        Representations of the overlapping timestamps of two views.
    level : int
        Pooling level, ``0 <= level <= floor(log2 T)``.
    alpha : float, default=0.5
        Weight of the instance term.
    temporal_unit : int, default=0
        Finest level that gets a temporal term.

    Returns
    -------
    Tensor
        Scalar loss, equal to ``level_losses(z1, z2, alpha, temporal_unit)[level]``.
    """
    n_levels = z1.shape[1].bit_length()  # floor(log2 T) + 1
    if not 0 <= level < n_levels:
        raise ValueError(f"level must be in [0, {n_levels - 1}] for T={z1.shape[1]}, got {level}.")
    if level > 0:
        k = 2**level
        z1 = F.max_pool1d(z1.transpose(1, 2), k).transpose(1, 2)  # (B, T // k, D)
        z2 = F.max_pool1d(z2.transpose(1, 2), k).transpose(1, 2)
    # The pooled tensors are level 0 of a hierarchy that starts ``level`` steps deeper.
    return level_losses(z1, z2, alpha, temporal_unit - level, levels=(0,))[0]
