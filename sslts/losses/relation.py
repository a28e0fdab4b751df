"""SelfTime's relation-reasoning tasks: pair building, labels and losses.

Fan, Zhang and Gao, "Self-Supervised Time Series Representation Learning by
Inter-Intra Relational Reasoning", 2020, Section 3.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "RelationHead",
    "inter_sample_pair_indices",
    "temporal_distance_class",
    "inter_sample_relation_loss",
    "intra_temporal_relation_loss",
]


class RelationHead(nn.Module):
    """SelfTime's relation head on a pair: Linear -> BatchNorm -> LeakyReLU -> Linear.

    The head reads the concatenation ``[f_a, f_b]`` of two features.  Its first
    layer is split as ``W [f_a, f_b] = W_a f_a + W_b f_b``, so every feature is
    projected once and the pairs only gather and add projections: with K = 16
    views this is about 15 times fewer multiply-adds than projecting the 240 B
    concatenated pairs, for the same result.

    Parameters
    ----------
    in_features : int
        Width D of one feature (the pair has 2 D).
    n_outputs : int
        1 for the inter-sample score, the number of classes for the intra head.
    hidden : int, default=256
        Hidden width.
    """

    def __init__(self, in_features: int, n_outputs: int, hidden: int = 256):
        super().__init__()
        self.hidden = nn.Linear(2 * in_features, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.out = nn.Linear(hidden, n_outputs)

    def forward(
        self, features: torch.Tensor, left: torch.Tensor, right: torch.Tensor
    ) -> torch.Tensor:
        """Logits of the pairs ``(features[left], features[right])``.

        Parameters
        ----------
        features : Tensor of shape (N, D)
        left, right : LongTensor of shape (P,)

        Returns
        -------
        Tensor of shape (P, n_outputs)
        """
        w_left, w_right = self.hidden.weight.chunk(2, dim=1)  # (H, D) each
        # index_select's backward is an index_add, much faster on CPU than the
        # accumulating index_put of advanced indexing.
        h = (
            (features @ w_left.T).index_select(0, left)
            + (features @ w_right.T).index_select(0, right)
            + self.hidden.bias
        )
        return self.out(F.leaky_relu(self.norm(h)))


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

    Examples
    --------
    >>> left, right, target = inter_sample_pair_indices(2, 3)
    >>> left.tolist(), right.tolist()
    ([0, 1, 2, 0, 1, 2], [3, 4, 5, 5, 3, 4])
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

    Examples
    --------
    With T = 300 and 3 classes the buckets are 50 steps wide:

    >>> d = torch.tensor([0, 49, 50, 120])
    >>> temporal_distance_class(torch.zeros_like(d), d, 300, 3).tolist()
    [0, 0, 1, 2]
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
    head : RelationHead
        With one output.
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
    logits = head(features, left, right).squeeze(1)
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))


def intra_temporal_relation_loss(
    head: nn.Module, anchor: torch.Tensor, reference: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of the temporal-distance classifier on (anchor, reference) pieces.

    The head outputs logits; the official head ends with a softmax that is fed to
    ``CrossEntropyLoss``, a second softmax which flattens the gradients.

    Parameters
    ----------
    head : RelationHead
        With ``n_classes`` outputs.
    anchor, reference : Tensor of shape (N, D)
        Features of the two pieces.
    labels : LongTensor of shape (N,)
        Temporal-distance classes (:func:`temporal_distance_class`).

    Returns
    -------
    Scalar tensor.
    """
    rows = torch.arange(len(anchor), device=anchor.device)
    logits = head(torch.cat([anchor, reference]), rows, rows + len(anchor))
    return F.cross_entropy(logits, labels)
