"""SelfTime's relation-reasoning tasks: pair building, labels and losses.

Fan, Zhang and Gao, "Self-Supervised Time Series Representation Learning by
Inter-Intra Relational Reasoning", 2020, Section 3.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "inter_sample_pair_indices",
    "temporal_distance_class",
    "inter_sample_relation_loss",
    "intra_temporal_relation_loss",
]


def inter_sample_pair_indices(
    n_views: int, batch_size: int, device=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows of the positive and negative inter-sample pairs.

    The features of ``n_views`` augmented copies of a batch are stacked view-major:
    row ``k * batch_size + i`` is copy ``k`` of series ``i``.  For every pair of
    views ``k1 < k2`` (in ``triu`` order, pair number ``p``) and every series ``i``:

    - positive: ``(k1, i)`` with ``(k2, i)`` -- two copies of the same series;
    - negative: ``(k1, i)`` with ``(k2, (i - s_p) mod B)``, shift
      ``s_p = 1 + p mod (B - 1)``, which never pairs a series with itself and
      cycles through ``1 .. B - 1`` as the official ``aggregate`` does with
      ``torch.roll``.

    Parameters
    ----------
    n_views : int
        Number of augmented copies K (at least 2).
    batch_size : int
        Number of series B (at least 2).
    device : torch.device, default=None

    Returns
    -------
    left, right : LongTensor of shape (2 * P * B,)
        Row indices of the two members of each pair, ``P = K (K - 1) / 2``;
        the ``P * B`` positives come first.
    target : FloatTensor of shape (2 * P * B,)
        1 for positives, 0 for negatives.
    """
    if n_views < 2 or batch_size < 2:
        raise ValueError(
            f"Inter-sample pairs need at least 2 views and 2 series, got n_views={n_views}, "
            f"batch_size={batch_size}."
        )
    k1, k2 = torch.triu_indices(n_views, n_views, offset=1, device=device)  # (P,)
    i = torch.arange(batch_size, device=device)
    shift = 1 + torch.arange(len(k1), device=device) % (batch_size - 1)
    anchor = (k1[:, None] * batch_size + i).reshape(-1)
    positive = (k2[:, None] * batch_size + i).reshape(-1)
    negative = (k2[:, None] * batch_size + (i - shift[:, None]) % batch_size).reshape(-1)
    target = torch.cat([torch.ones_like(anchor), torch.zeros_like(anchor)]).float()
    return torch.cat([anchor, anchor]), torch.cat([positive, negative]), target


def temporal_distance_class(
    start1: torch.Tensor, start2: torch.Tensor, n_timestamps: int, n_classes: int
) -> torch.Tensor:
    """Bucket of the distance between two piece starts (the intra-temporal label).

    Class ``j`` when ``j * T / (2 n) <= |start1 - start2| < (j + 1) * T / (2 n)``;
    the last class also takes every larger distance.

    Parameters
    ----------
    start1, start2 : LongTensor of shape (N,)
        Start indices of the anchor and reference pieces.
    n_timestamps : int
        Length T of the series the pieces were cut from.
    n_classes : int
        Number of classes n.

    Returns
    -------
    LongTensor of shape (N,)
        Labels in ``[0, n_classes - 1]``.
    """
    distance = (start1 - start2).abs()
    # j * T <= 2 n |d| in integers: no rounding at the bucket edges.
    return torch.div(2 * n_classes * distance, n_timestamps, rounding_mode="floor").clamp(
        max=n_classes - 1
    )


def inter_sample_relation_loss(
    head: nn.Module, features: torch.Tensor, n_views: int
) -> torch.Tensor:
    """Binary cross-entropy of the relation head on all inter-sample pairs.

    Parameters
    ----------
    head : nn.Module
        Maps (N, 2 D) pair features to (N, 1) logits.
    features : Tensor of shape (n_views * B, D)
        View-major features (see :func:`inter_sample_pair_indices`).
    n_views : int

    Returns
    -------
    Scalar tensor.
    """
    left, right, target = inter_sample_pair_indices(
        n_views, features.shape[0] // n_views, features.device
    )
    logits = head(torch.cat([features[left], features[right]], dim=1)).squeeze(1)
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))


def intra_temporal_relation_loss(
    head: nn.Module, anchor: torch.Tensor, reference: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of the temporal-distance classifier on (anchor, reference) pieces.

    The head outputs logits; the official head ends with a softmax that is fed to
    ``CrossEntropyLoss``, a second softmax which flattens the gradients.

    Parameters
    ----------
    head : nn.Module
        Maps (N, 2 D) pair features to (N, n_classes) logits.
    anchor, reference : Tensor of shape (N, D)
        Features of the two pieces.
    labels : LongTensor of shape (N,)
        Temporal-distance classes (:func:`temporal_distance_class`).

    Returns
    -------
    Scalar tensor.
    """
    return F.cross_entropy(head(torch.cat([anchor, reference], dim=1)), labels)
