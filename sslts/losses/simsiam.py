"""TimeDRL's two pretext losses (Chang et al., ICDE 2024, Section IV-B/C).

- Timestamp-predictive: mean squared error between each patch and its
  reconstruction from the patch's token (here restricted to observed values).
- Instance-contrastive: SimSiam's symmetrised negative cosine similarity between
  one view's predictor output and the *stop-gradient* embedding of the other view
  (Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["masked_mse", "negative_cosine", "simsiam_loss"]


def masked_mse(pred: torch.Tensor, target: torch.Tensor, observed: torch.Tensor | None = None):
    """Mean squared error over the observed entries.

    Parameters
    ----------
    pred, target : Tensor of the same shape
    observed : Tensor of that shape (bool or float weights), default=None
        Entries that count; all of them when None.

    Returns
    -------
    Tensor, scalar
    """
    sq = (pred - target).pow(2)
    if observed is None:
        return sq.mean()
    weight = observed.to(sq.dtype)
    return (sq * weight).sum() / weight.sum().clamp(min=1)


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``-mean_i cos(p_i, sg(z_i))``: no gradient flows into ``z``.

    Parameters
    ----------
    p : Tensor of shape (n, D)
        Predictor outputs (trained).
    z : Tensor of shape (n, D)
        Target embeddings (treated as constants).

    Returns
    -------
    Tensor, scalar in [-1, 1]
    """
    return -F.cosine_similarity(p, z.detach(), dim=-1).mean()


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor):
    """Symmetrised SimSiam loss ``(D(p1, z2) + D(p2, z1)) / 2``.

    Parameters
    ----------
    p1, p2 : Tensor of shape (n, D)
        Predictor outputs of views 1 and 2.
    z1, z2 : Tensor of shape (n, D)
        Embeddings of views 1 and 2 (stop-gradient targets).

    Returns
    -------
    Tensor, scalar in [-1, 1]
    """
    return 0.5 * (negative_cosine(p1, z2) + negative_cosine(p2, z1))
