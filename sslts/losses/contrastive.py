"""TS2Vec's contextual contrastive losses (Yue et al., AAAI 2022, Section 3.3).

Similarities are raw dot products (no normalisation, no temperature), as in the
paper.  Each loss builds one similarity matrix per group, masks its diagonal in
place and reads the loss off a fused log-softmax; the hand-written backward is one
matmul with the symmetrised softmax.  This equals the
official implementation's log-softmax over the off-diagonal entries with the same
three (N, N, D) matmuls per group but without its lower/upper-triangular copies, its
negated copy and the elementwise backward passes through them
(``tests/test_losses.py`` checks values and gradients against a literal re-statement
of that construction and against a Python-loop InfoNCE).  With ``chunk_size`` the
matrix is processed in row blocks, for long crops.

Every public loss raises ``ValueError`` (``TypeError`` for non-tensors) unless ``z1``
and ``z2`` are (B, T, D) tensors of the same shape with no empty axis.  Values are not
scanned (that would cost a device sync per step): NaN propagates to the loss, and the
estimators stop on a non-finite loss with a clear error.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

__all__ = [
    "instance_contrastive_loss",
    "temporal_contrastive_loss",
    "hierarchical_contrastive_loss",
    "level_losses",
    "single_level_loss",
]


class _PairedInfoNCE(torch.autograd.Function):
    """Mean InfoNCE of ``G`` groups of ``2N`` rows with a hand-written backward.

    Row ``i`` of a group is contrasted with every other row ``j != i`` of its group
    and its positive is its partner ``p(i) = (i + N) mod 2N`` (the same timestamp or
    series in the other view).  With ``s_ij = z_i . z_j`` and ``M = G * 2N`` rows,

    ``loss = -(1/M) sum_i log softmax_{j != i}(s_i.)[p(i)]``.

    Costs are what make TS2Vec's loss slow, so this avoids every pass over the
    (2N, 2N) similarity matrix and every (2N, D) temporary that is not needed:

    - forward: one matmul, the diagonal set to ``-inf``, a fused ``log_softmax``
      whose positive entries give the loss, and an in-place ``exp_`` that turns it
      into the softmax ``P`` saved for the backward pass;
    - backward: ``d loss / d s_ij = (P_ij - [j = p(i)]) / M`` and ``s`` is symmetric
      in ``z``, so ``grad = ((P + P^T) z - 2 z_p) / M`` where ``z_p`` is ``z`` with its
      two halves swapped: one elementwise sum over the (2N, 2N) matrix and one
      matmul, the partner term subtracted in place, one scaling.

    With ``chunk_size`` only the row normalisers are saved and row blocks of the
    similarity are recomputed in the backward pass: memory O(chunk_size * 2N) per
    group instead of O(N**2), for one extra matmul.
    """

    @staticmethod
    def forward(ctx, z, chunk_size):
        n2 = z.shape[1]
        ctx.chunk_size = chunk_size
        ctx.chunked = chunk_size is not None and chunk_size < n2
        if ctx.chunked:
            lse = torch.cat([
                torch.logsumexp(_masked_rows(z, rows), dim=-1) for rows in _chunks(n2, chunk_size)
            ], dim=1)  # (G, 2N)
            positive = (z * _swap_halves(z)).sum(-1)  # (G, 2N): s_{i, p(i)}
            ctx.save_for_backward(z, lse)
            return (lse - positive).mean()
        sim = torch.matmul(z, z.transpose(1, 2))  # (G, 2N, 2N)
        sim.diagonal(dim1=1, dim2=2).fill_(float("-inf"))
        rows = torch.arange(n2, device=z.device)
        logp = _log_softmax_lastdim(sim)
        del sim
        loss = -logp[:, rows, (rows + n2 // 2) % n2].mean()
        if ctx.needs_input_grad[0]:  # forward-only calls (scoring) skip the softmax
            ctx.save_for_backward(z, logp.exp_())  # softmax over j != i (diagonal 0)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        z, saved = ctx.saved_tensors
        G, n2, _ = z.shape
        if ctx.chunked:
            grad = torch.zeros_like(z)
            for rows in _chunks(n2, ctx.chunk_size):
                prob = _masked_rows(z, rows).sub_(saved[:, rows, None]).exp_()  # (G, c, 2N)
                grad[:, rows].baddbmm_(prob, z)  # through the row vectors: sum_j P_ij z_j
                grad.baddbmm_(prob.transpose(1, 2), z[:, rows])  # the columns: sum_i P_ij z_i
        else:
            # One matmul with P + P^T instead of two: the (2N, 2N) sum costs less than
            # a (2N, 2N, D) product (1.3-1.9x faster backward on the CPU, D = 320).
            grad = torch.matmul(saved + saved.transpose(1, 2), z)
        n = n2 // 2
        grad[:, :n].sub_(z[:, n:], alpha=2)
        grad[:, n:].sub_(z[:, :n], alpha=2)
        # A tensor factor, not a Python float: reading ``grad_loss`` would sync a GPU.
        return grad.mul_(grad_loss / (G * n2)), None


def _swap_halves(z: torch.Tensor) -> torch.Tensor:
    """Each row's partner: rows ``N..2N-1`` then ``0..N-1`` of every group."""
    return z.roll(z.shape[1] // 2, dims=1)


def _log_softmax_lastdim(sim: torch.Tensor) -> torch.Tensor:
    """Row-wise log-softmax; on the CPU it overwrites ``sim``.

    A fresh (G, N, N) result costs page faults on the CPU (the allocator returns such
    blocks to the OS and maps new ones every call: ~30 ms per 128 MB here), about a
    third of the cost of the log-softmax itself.  The kernel reads each row in full
    before writing it, so the in-place call is exact (``tests/test_losses.py``).
    CUDA's caching allocator makes the fresh buffer free, so it is kept there.
    """
    if sim.device.type != "cpu":
        return torch.log_softmax(sim, dim=-1)
    return torch._log_softmax(sim, -1, False, out=sim)


def _check_views(z1, z2) -> None:
    """Shape checks shared by the public losses (values are not scanned: NaN propagates)."""
    for name, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}.")
        if z.ndim != 3 or 0 in z.shape:
            raise ValueError(
                f"{name} must have shape (batch, time, dims) with no empty axis, "
                f"got {tuple(z.shape)}."
            )
    if z1.shape != z2.shape:
        raise ValueError(
            f"z1 and z2 must have the same shape (the same timestamps of the two views), "
            f"got {tuple(z1.shape)} and {tuple(z2.shape)}."
        )


def _at_least_float32(z: torch.Tensor) -> torch.Tensor:
    """Upcast half-precision representations (autocast output) to float32."""
    return z.float() if z.dtype in (torch.float16, torch.bfloat16) else z


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]


def _masked_rows(z: torch.Tensor, rows: slice) -> torch.Tensor:
    """Similarities of rows ``rows`` with all rows, self-similarity -inf: (G, c, N)."""
    sim = torch.matmul(z[:, rows], z.transpose(1, 2))
    sim.diagonal(offset=rows.start, dim1=1, dim2=2).fill_(float("-inf"))
    return sim


def _info_nce(z: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
    """:class:`_PairedInfoNCE` of ``z`` (G, 2N, D): two views stacked along dim 1.

    Run with autocast off: the log-sum-exp of raw dot products is not safe in
    bfloat16, so callers pass float32 (or float64) tensors.
    """
    with torch.autocast(z.device.type, enabled=False):
        return _PairedInfoNCE.apply(z, chunk_size)


def instance_contrastive_loss(
    z1: torch.Tensor, z2: torch.Tensor, chunk_size: int | None = None
) -> torch.Tensor:
    """Instance-wise contrastive loss.

    For each timestamp, the positive of series ``i`` in one view is series ``i`` in
    the other view; all other series of both views at that timestamp are negatives.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, T, D)
        Representations of the overlapping timestamps in the two views.
    chunk_size : int, default=None
        Rows of the (2B, 2B) similarity matrices processed at once; None for all.

    Returns
    -------
    Tensor
        Scalar loss (float32, or float64 for float64 input); 0 when ``B == 1`` (no negatives).
    """
    _check_views(z1, z2)
    return _instance_loss(z1, z2, chunk_size)


def _instance_loss(z1, z2, chunk_size):
    if z1.shape[0] == 1:
        return z1.new_zeros((), dtype=torch.promote_types(z1.dtype, torch.float32))
    z1, z2 = _at_least_float32(z1), _at_least_float32(z2)
    return _info_nce(torch.cat([z1, z2], dim=0).transpose(0, 1), chunk_size)  # (T, 2B, D)


def temporal_contrastive_loss(
    z1: torch.Tensor, z2: torch.Tensor, chunk_size: int | None = None
) -> torch.Tensor:
    """Temporal contrastive loss.

    For each series, the positive of timestamp ``t`` in one view is timestamp ``t``
    in the other view; all other timestamps of both views are negatives.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, T, D)
    chunk_size : int, default=None
        Rows of the (2T, 2T) similarity matrices processed at once; None for all.
        A chunked loss keeps O(B * chunk_size * T) floats instead of O(B * T**2)
        (for long crops) and recomputes the row blocks in the backward pass.

    Returns
    -------
    Tensor
        Scalar loss (float32, or float64 for float64 input); 0 when ``T == 1``.
    """
    _check_views(z1, z2)
    return _temporal_loss(z1, z2, chunk_size)


def _temporal_loss(z1, z2, chunk_size):
    if z1.shape[1] == 1:
        return z1.new_zeros((), dtype=torch.promote_types(z1.dtype, torch.float32))
    z1, z2 = _at_least_float32(z1), _at_least_float32(z2)
    return _info_nce(torch.cat([z1, z2], dim=1), chunk_size)  # (B, 2T, D)


def _pool(z: torch.Tensor) -> torch.Tensor:
    """Max-pool by 2 along time (an odd last step is dropped): (B, T, D) -> (B, T//2, D)."""
    return F.max_pool1d(z.transpose(1, 2), kernel_size=2).transpose(1, 2)


def level_losses(
    z1: torch.Tensor, z2: torch.Tensor, alpha: float = 0.5, temporal_unit: int = 0,
    levels=None, chunk_size: int | None = None,
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
    chunk_size : int, default=None
        Passed to the instance and temporal losses (memory bound for long crops).

    Returns
    -------
    list of Tensor
        One scalar per level ``0 .. floor(log2 T)`` (``None`` for skipped levels).
    """
    _check_views(z1, z2)
    return _level_losses(z1, z2, alpha, temporal_unit, levels, chunk_size)


def _level_losses(z1, z2, alpha, temporal_unit, levels, chunk_size):
    out = []
    d = 0
    while True:
        length = z1.shape[1]
        if levels is None or d in levels:
            loss = z1.new_zeros((), dtype=torch.promote_types(z1.dtype, torch.float32))
            if alpha != 0:
                loss = alpha * _instance_loss(z1, z2, chunk_size)
            if length > 1 and d >= temporal_unit and alpha != 1:
                loss = loss + (1 - alpha) * _temporal_loss(z1, z2, chunk_size)
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
    z1: torch.Tensor, z2: torch.Tensor, alpha: float = 0.5, temporal_unit: int = 0,
    chunk_size: int | None = None,
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
    chunk_size : int, default=None
        Rows of each similarity matrix processed at once (None: all).  Same value
        and gradient; bounds the loss memory to O(B * chunk_size * T) for long crops.

    Returns
    -------
    Tensor
        Scalar loss (float32, or float64 for float64 input).
    """
    losses = level_losses(z1, z2, alpha, temporal_unit, chunk_size=chunk_size)
    return torch.stack(losses).sum() / len(losses)


def single_level_loss(
    z1: torch.Tensor, z2: torch.Tensor, level: int, alpha: float = 0.5, temporal_unit: int = 0,
    chunk_size: int | None = None,
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
    chunk_size : int, default=None
        Rows of each similarity matrix processed at once (None: all); same value and
        gradient (see :func:`hierarchical_contrastive_loss`).

    Returns
    -------
    Tensor
        Scalar loss, equal to ``level_losses(z1, z2, alpha, temporal_unit)[level]``.
    """
    _check_views(z1, z2)
    n_levels = z1.shape[1].bit_length()  # floor(log2 T) + 1
    if not 0 <= level < n_levels:
        raise ValueError(f"level must be in [0, {n_levels - 1}] for T={z1.shape[1]}, got {level}.")
    if level > 0:
        k = 2**level
        z1 = F.max_pool1d(z1.transpose(1, 2), k).transpose(1, 2)  # (B, T // k, D)
        z2 = F.max_pool1d(z2.transpose(1, 2), k).transpose(1, 2)
    # The pooled tensors are level 0 of a hierarchy that starts ``level`` steps deeper.
    return _level_losses(z1, z2, alpha, temporal_unit - level, (0,), chunk_size)[0]
