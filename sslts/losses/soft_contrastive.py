"""SoftCLT's soft hierarchical contrastive loss (Lee, Park & Lee, ICLR 2024).

SoftCLT keeps TS2Vec's hierarchy, similarities and softmax, and replaces the one-hot
targets of its two InfoNCE terms with soft assignments:

- instance-wise, series ``i`` and ``j`` of a mini-batch are pulled together with weight
  ``W[i, j] = 2 * a * sigmoid(-tau_inst * d_ij)`` (``d`` a normalised distance between
  the raw series, ``a`` the upper bound), and ``W[i, i] = 1`` for the other view of
  the same series (:func:`soft_instance_weights`);
- temporally, timestamps ``t`` and ``s`` of one series get
  ``2 * sigmoid(-tau * |t - s|)``, which is 1 at ``t == s`` (:func:`soft_temporal_weights`).

For an anchor row ``r`` of a group of ``2N`` rows (two views of ``N`` series or
timestamps) with log-softmax ``log p_rc`` over the other rows ``c != r``, the term is
``sum_{c != r} w_rc * (-log p_rc)`` where ``w_rc = W[r mod N, c mod N]``: the partner
``c = r +- N`` carries ``W[i, i] = 1`` and every other row its soft weight.  The loss of
a group is the mean of these terms over its rows, exactly as in the official code;
with ``W`` the identity it is TS2Vec's hard loss.

The implementation follows :mod:`sslts.losses.contrastive`: one similarity matrix per
group and a hand-written backward pass.  With row masses ``m_r = sum_{c != r} w_rc``
and log-normalisers ``lse_r``, the term of row ``r`` is
``m_r lse_r - sum_{c != r} w_rc s_rc``, and ``d loss / d s_rc = (m_r P_rc - w_rc) / M``
(``P`` the softmax, ``M`` the number of rows), so
``grad = ((Q + Q^T) - (w + w^T)) z / M`` with ``Q = m * P``: the hard loss's matmuls.
The weights meet the similarities through (N, N) folds and broadcast views, never a
tiled (2N, 2N) copy, and the similarity buffer itself becomes ``Q`` in place, so time
and memory stay within about 10% of the hard loss (``tests/test_soft_contrastive.py``
checks what autograd saves).  ``chunk_size`` bounds memory to row blocks, as for the
hard loss.

Every public loss raises ``ValueError`` (``TypeError`` for non-tensors) unless ``z1``
and ``z2`` are (B, T, D) tensors of the same shape with no empty axis.  Weight values
are not scanned (that would cost a device sync per step); they must be non-negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

__all__ = [
    "soft_instance_weights",
    "soft_temporal_weights",
    "soft_instance_contrastive_loss",
    "soft_temporal_contrastive_loss",
    "soft_hierarchical_contrastive_loss",
]

# The official code zeroes temporal weights below this value.
_TEMPORAL_CUTOFF = 1e-6


class _SoftPairedInfoNCE(torch.autograd.Function):
    """Mean soft InfoNCE of ``G`` groups of ``2N`` rows, weights ``W`` (N, N) shared.

    Row ``r`` of a group is contrasted with every other row ``c`` of its group, with
    target weight ``w_rc = W[r mod N, c mod N] >= 0``; the loss is
    ``sum_r (m_r lse_r - sum_{c != r} w_rc s_rc) / M``.

    - forward: one matmul; the weighted similarities read off its group sum folded
      into (N, N) blocks (no tiled weights); the diagonal set to ``-inf``; a fused
      log-softmax (in place on the CPU) gives ``lse_r`` at the partner column; the
      same buffer becomes ``Q = m * softmax`` in one in-place pass and is saved;
    - backward: ``((Q + Q^T) - (w + w^T)) z / M``, the weights subtracted from the
      symmetrised buffer through a broadcast view: the hard loss's one matmul.

    With ``chunk_size`` only the log-normalisers are saved and row blocks of the
    similarity are recomputed in the backward pass: memory O(chunk_size * 2N) per
    group, for one extra matmul and an (N, N) by (G, N, D) product for the weights.
    """

    @staticmethod
    def forward(ctx, z, weights, chunk_size):
        G, n2, _ = z.shape
        n = n2 // 2
        mass = _row_mass(weights)  # (2N,): sum of an anchor's target weights
        ctx.chunk_size = chunk_size
        ctx.chunked = chunk_size is not None and chunk_size < n2
        if ctx.chunked:
            targets, lse = 0.0, []
            for rows in _chunks(n2, chunk_size):
                sim = torch.matmul(z[:, rows], z.transpose(1, 2))  # (G, c, 2N)
                targets = targets + _weighted_similarity(sim, weights, rows)
                sim.diagonal(offset=rows.start, dim1=1, dim2=2).fill_(float("-inf"))
                lse.append(torch.logsumexp(sim, dim=-1))
            lse = torch.cat(lse, dim=1)  # (G, 2N)
            ctx.save_for_backward(z, weights, mass, lse)
            return ((lse * mass).sum() - targets) / (G * n2)
        sim = torch.matmul(z, z.transpose(1, 2))  # (G, 2N, 2N)
        targets = _weighted_similarity(sim, weights, slice(0, n2))
        rows = torch.arange(n2, device=z.device)
        partners = (rows + n) % n2
        partner_sim = sim[:, rows, partners]  # (G, 2N), before the buffer is overwritten
        sim.diagonal(dim1=1, dim2=2).fill_(float("-inf"))
        logp = _log_softmax_lastdim(sim)  # fused: torch.logsumexp would allocate exp(sim)
        del sim
        lse = partner_sim - logp[:, rows, partners]  # (G, 2N)
        loss = ((lse * mass).sum() - targets) / (G * n2)
        if ctx.needs_input_grad[0]:  # forward-only calls skip the softmax
            # Q = m * P = exp(log p + log m) in one in-place pass (m = 0 gives 0).
            ctx.save_for_backward(z, weights, logp.add_(mass.log()[:, None]).exp_())
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        z, weights, *saved = ctx.saved_tensors
        G, n2, _ = z.shape
        n = n2 // 2
        sym = weights + weights.T  # (N, N)
        if ctx.chunked:
            mass, lse = saved
            grad = torch.zeros_like(z)
            for rows in _chunks(n2, ctx.chunk_size):
                q = _masked_rows(z, rows).sub_(lse[:, rows, None]).exp_()  # (G, c, 2N)
                q.mul_(mass[rows, None])
                grad[:, rows].baddbmm_(q, z)
                grad.baddbmm_(q.transpose(1, 2), z[:, rows])
            both = torch.matmul(sym, z[:, :n] + z[:, n:])  # (G, N, D): sum_c w_rc z_c
            grad[:, :n].sub_(both)
            grad[:, n:].sub_(both)
            grad.addcmul_(torch.cat([sym.diagonal(), sym.diagonal()])[:, None], z)  # c = r
        else:
            (q,) = saved
            a = q + q.transpose(1, 2)
            a.view(G, 2, n, 2, n).sub_(sym[:, None, :])  # w + w^T tiled, by broadcasting
            a.diagonal(dim1=1, dim2=2).add_(torch.cat([sym.diagonal(), sym.diagonal()]))
            grad = torch.matmul(a, z)
        # A tensor factor, not a Python float: reading ``grad_loss`` would sync a GPU.
        return grad.mul_(grad_loss / (G * n2)), None, None


def _row_mass(weights: torch.Tensor) -> torch.Tensor:
    """``m_r = sum_{c != r} w_rc`` for the 2N rows: both views of a row, minus itself."""
    mass = 2 * weights.sum(1) - weights.diagonal()  # (N,)
    return torch.cat([mass, mass])


def _weighted_similarity(sim: torch.Tensor, weights: torch.Tensor, rows: slice) -> torch.Tensor:
    """``sum_g sum_{r in rows} sum_{c != r} w_rc s_grc`` of similarity rows (G, c, 2N).

    Summing over groups and the two column views leaves a (c, N) block to weigh with
    ``W[r mod N]``; the excluded ``c = r`` entries are taken back off.  Blocks of
    rows keep the group sum's temporary small.
    """
    c, n = sim.shape[1], sim.shape[2] // 2
    index = torch.arange(rows.start, rows.start + c, device=sim.device) % n
    total = sim.new_zeros(())
    for block in _chunks(c, 512):
        summed = sim[:, block].sum(0)  # (b, 2N)
        total = total + ((summed[:, :n] + summed[:, n:]) * weights[index[block]]).sum()
    self_sim = sim.diagonal(offset=rows.start, dim1=1, dim2=2).sum(0)  # (c,): s_rr
    return total - (self_sim * weights.diagonal()[index]).sum()


def _log_softmax_lastdim(sim: torch.Tensor) -> torch.Tensor:
    """Row-wise log-softmax, in place on the CPU.

    A fresh (G, 2N, 2N) buffer costs page faults on the CPU; the kernel reads each row
    in full before writing it, so the in-place call is exact.  CUDA's caching
    allocator makes a fresh buffer free, so it is kept there.
    """
    if sim.device.type != "cpu":
        return torch.log_softmax(sim, dim=-1)
    return torch._log_softmax(sim, -1, False, out=sim)


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]


def _masked_rows(z: torch.Tensor, rows: slice) -> torch.Tensor:
    """Similarities of rows ``rows`` with all rows, self-similarity -inf: (G, c, 2N)."""
    sim = torch.matmul(z[:, rows], z.transpose(1, 2))
    sim.diagonal(offset=rows.start, dim1=1, dim2=2).fill_(float("-inf"))
    return sim


def _check_views(z1, z2) -> None:
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


def _compute_dtype(z: torch.Tensor) -> torch.dtype:
    """float32 for half-precision (autocast) representations, else their own dtype."""
    return torch.float32 if z.dtype in (torch.float16, torch.bfloat16) else z.dtype


def _soft_info_nce(z: torch.Tensor, weights: torch.Tensor, chunk_size) -> torch.Tensor:
    # The log-sum-exp of raw dot products is not safe in bfloat16.
    with torch.autocast(z.device.type, enabled=False):
        return _SoftPairedInfoNCE.apply(z, weights.to(z.dtype), chunk_size)


def _as_instance_weights(weights, batch: int, like: torch.Tensor) -> torch.Tensor:
    """Validate and move the (B, B) instance weights; identity for None (hard loss)."""
    if weights is None:
        return torch.eye(batch, dtype=like.dtype, device=like.device)
    weights = torch.as_tensor(weights, dtype=like.dtype, device=like.device)
    if weights.shape != (batch, batch):
        raise ValueError(
            f"instance_weights must have shape (batch, batch) = ({batch}, {batch}), "
            f"got {tuple(weights.shape)}."
        )
    return weights


def _check_tau(tau, name: str, allow_none: bool) -> None:
    if tau is None and allow_none:
        return
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau > 0:
        raise ValueError(f"{name} must be a positive number{' or None' if allow_none else ''}, "
                         f"got {tau!r}.")


def soft_temporal_weights(
    length: int, tau: float, *, dtype: torch.dtype = torch.float32, device=None
) -> torch.Tensor:
    """Soft temporal assignments ``2 * sigmoid(-tau * |t - s|)`` of one series.

    Parameters
    ----------
    length : int
        Number of timestamps ``T``.
    tau : float
        Sharpness ``tau_temp`` (> 0; ``inf`` gives the identity, TS2Vec's hard
        targets).  Weights below ``1e-6`` are set to 0, as in the official code.
    dtype : torch.dtype, default=torch.float32
    device : torch.device or str, default=None

    Returns
    -------
    Tensor of shape (T, T)
        Symmetric, 1 on the diagonal, decreasing with ``|t - s|``.

    Examples
    --------
    >>> from sslts.losses import soft_temporal_weights
    >>> soft_temporal_weights(3, 1.0)
    tensor([[1.0000, 0.5379, 0.2384],
            [0.5379, 1.0000, 0.5379],
            [0.2384, 0.5379, 1.0000]])
    """
    _check_tau(tau, "tau", allow_none=False)
    steps = torch.arange(length, device=device, dtype=dtype)
    weights = (steps[:, None] - steps[None, :]).abs_().mul_(-tau)  # one (T, T) buffer
    weights.sigmoid_().mul_(2)
    weights.masked_fill_(weights < _TEMPORAL_CUTOFF, 0.0)
    return weights.fill_diagonal_(1.0)  # also for tau = inf, where -inf * 0 is NaN


def soft_instance_weights(distances, tau: float, max_weight: float = 0.5) -> torch.Tensor:
    """Soft instance-wise assignments from normalised distances between raw series.

    ``W[i, j] = 2 * max_weight * sigmoid(-tau * distances[i, j])`` for ``i != j`` and
    ``W[i, i] = 1``.  With the official min-max normalised distances (diagonal 0; see
    :func:`sslts.utils.dtw.normalise_distance_matrix`) this equals the official
    ``2a / (1 + exp(tau d)) + (1 - a) I``.  Pass the whole training matrix once, or a
    mini-batch's sub-matrix every step.

    Parameters
    ----------
    distances : array-like or Tensor of shape (n, n)
        Normalised distances (the official range is [0, 1]); row ``i`` is the anchor,
        so an asymmetric matrix gives asymmetric weights, as in the official code.
    tau : float
        Sharpness ``tau_inst`` (> 0): larger values make the weights fall faster with
        the distance.
    max_weight : float, default=0.5
        Upper bound ``alpha`` of the paper (``--alpha`` of the official code), in
        [0, 1]: the weight of two different series at distance 0.  0 gives the
        identity (TS2Vec's hard targets).

    Returns
    -------
    Tensor of shape (n, n)
        In the dtype of ``distances`` (float64 for NumPy input) and on its device.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts.losses import soft_instance_weights
    >>> soft_instance_weights(np.array([[0.0, 0.2], [1.0, 0.0]]), tau=5.0)
    tensor([[1.0000, 0.2689],
            [0.0067, 1.0000]], dtype=torch.float64)
    """
    _check_tau(tau, "tau", allow_none=False)
    if not 0 <= max_weight <= 1:
        raise ValueError(f"max_weight must be in [0, 1], got {max_weight!r}.")
    distances = torch.as_tensor(distances)
    if distances.ndim != 2 or distances.shape[0] != distances.shape[1]:
        raise ValueError(f"distances must be a square (n, n) matrix, got {tuple(distances.shape)}.")
    if not distances.is_floating_point():
        distances = distances.double()
    weights = 2 * max_weight * torch.sigmoid(-tau * distances)
    return weights.fill_diagonal_(1.0)


def soft_instance_contrastive_loss(
    z1: torch.Tensor, z2: torch.Tensor, instance_weights=None, chunk_size: int | None = None
) -> torch.Tensor:
    """Soft instance-wise contrastive loss (one level, every timestamp).

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, T, D)
        Representations of the overlapping timestamps in the two views.
    instance_weights : array-like or Tensor of shape (B, B), default=None
        Target weights (:func:`soft_instance_weights` of the batch's series); row is
        the anchor, the diagonal weighs the same series in the other view.  None: the
        identity, i.e. :func:`~sslts.losses.instance_contrastive_loss`.
    chunk_size : int, default=None
        Rows of the (2B, 2B) similarity matrices processed at once; None for all.

    Returns
    -------
    Tensor
        Scalar loss (float32, or float64 for float64 input); 0 when ``B == 1``.

    Examples
    --------
    >>> import torch
    >>> from sslts.losses import instance_contrastive_loss, soft_instance_contrastive_loss
    >>> z1, z2 = torch.randn(4, 6, 8), torch.randn(4, 6, 8)
    >>> hard = soft_instance_contrastive_loss(z1, z2, torch.eye(4))
    >>> torch.allclose(hard, instance_contrastive_loss(z1, z2))
    True
    """
    _check_views(z1, z2)
    return _instance_term(z1, z2, instance_weights, chunk_size)


def _instance_term(z1, z2, instance_weights, chunk_size):
    dtype = _compute_dtype(z1)
    if z1.shape[0] == 1:
        return z1.new_zeros((), dtype=dtype)
    z = torch.cat([z1, z2], dim=0).transpose(0, 1).to(dtype)  # (T, 2B, D)
    return _soft_info_nce(z, _as_instance_weights(instance_weights, z1.shape[0], z), chunk_size)


def soft_temporal_contrastive_loss(
    z1: torch.Tensor, z2: torch.Tensor, tau: float | None = None, chunk_size: int | None = None
) -> torch.Tensor:
    """Soft temporal contrastive loss (one level, every series).

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, T, D)
    tau : float or None, default=None
        Sharpness of :func:`soft_temporal_weights` at this level; None: the identity,
        i.e. :func:`~sslts.losses.temporal_contrastive_loss`.
    chunk_size : int, default=None
        Rows of the (2T, 2T) similarity matrices processed at once; None for all.

    Returns
    -------
    Tensor
        Scalar loss (float32, or float64 for float64 input); 0 when ``T == 1``.

    Examples
    --------
    >>> import torch
    >>> from sslts.losses import soft_temporal_contrastive_loss, temporal_contrastive_loss
    >>> z1, z2 = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    >>> soft = soft_temporal_contrastive_loss(z1, z2, tau=0.5)
    >>> bool(soft > temporal_contrastive_loss(z1, z2))  # extra soft targets add terms
    True
    """
    _check_views(z1, z2)
    _check_tau(tau, "tau", allow_none=True)
    return _temporal_term(z1, z2, tau, chunk_size)


def _temporal_term(z1, z2, tau, chunk_size):
    dtype = _compute_dtype(z1)
    T = z1.shape[1]
    if T == 1:
        return z1.new_zeros((), dtype=dtype)
    z = torch.cat([z1, z2], dim=1).to(dtype)  # (B, 2T, D)
    if tau is None:
        weights = torch.eye(T, dtype=dtype, device=z.device)
    else:
        weights = soft_temporal_weights(T, tau, dtype=dtype, device=z.device)
    return _soft_info_nce(z, weights, chunk_size)


def _pool(z: torch.Tensor) -> torch.Tensor:
    """Max-pool by 2 along time (an odd last step is dropped): (B, T, D) -> (B, T//2, D)."""
    return F.max_pool1d(z.transpose(1, 2), kernel_size=2).transpose(1, 2)


def soft_hierarchical_contrastive_loss(
    z1: torch.Tensor, z2: torch.Tensor, instance_weights=None, alpha: float = 0.5,
    tau_temp: float | None = None, temporal_unit: int = 0, temporal_hierarchy: bool = True,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """SoftCLT's hierarchical loss: TS2Vec's hierarchy with soft targets.

    Level ``d`` pools the representations ``d`` times by 2 along time (dropping an
    odd last step) and adds ``alpha * instance + (1 - alpha) * temporal``; the temporal
    term is left out below ``temporal_unit`` and at the last level (length 1).  The
    same instance weights serve every level; the temporal sharpness at level ``d`` is
    ``tau_temp * 2**d`` (a pooled step spans ``2**d`` input steps).  The loss is the
    mean over the ``floor(log2 T) + 1`` levels.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, T, D)
        Representations of the overlapping timestamps of two views.
    instance_weights : array-like or Tensor of shape (B, B), default=None
        Soft instance targets of the batch (:func:`soft_instance_weights`); None: hard.
    alpha : float, default=0.5
        Weight of the instance term (``lambda`` in the paper); the temporal term gets
        ``1 - alpha``.
    tau_temp : float or None, default=None
        Temporal sharpness at level 0; None: hard temporal targets.
    temporal_unit : int, default=0
        Finest level that gets a temporal term.
    temporal_hierarchy : bool, default=True
        Scale ``tau_temp`` by ``2**d`` at level ``d`` (the official default); False
        keeps it fixed.
    chunk_size : int, default=None
        Rows of each similarity matrix processed at once (None: all): same value and
        gradient, memory O(B * chunk_size * T) for long crops.

    Returns
    -------
    Tensor
        Scalar loss (float32, or float64 for float64 input).  With
        ``instance_weights`` the identity (or None) and ``tau_temp=None`` it equals
        :func:`~sslts.losses.hierarchical_contrastive_loss`.

    References
    ----------
    Lee, S., Park, T., & Lee, K. (2024). Soft Contrastive Learning for Time Series.
    ICLR 2024.

    Examples
    --------
    >>> import torch
    >>> from sslts.losses import soft_hierarchical_contrastive_loss, soft_instance_weights
    >>> z1, z2 = torch.randn(3, 16, 8), torch.randn(3, 16, 8)
    >>> distances = torch.tensor([[0.0, 0.1, 0.9], [0.1, 0.0, 0.8], [0.9, 0.8, 0.0]])
    >>> weights = soft_instance_weights(distances, tau=5.0)
    >>> loss = soft_hierarchical_contrastive_loss(z1, z2, weights, tau_temp=2.0)
    >>> loss.shape
    torch.Size([])
    """
    _check_views(z1, z2)
    _check_tau(tau_temp, "tau_temp", allow_none=True)
    like = z1.new_empty(0, dtype=_compute_dtype(z1))
    weights = _as_instance_weights(instance_weights, z1.shape[0], like)
    total, d = None, 0
    while True:
        length = z1.shape[1]
        loss = z1.new_zeros((), dtype=_compute_dtype(z1))
        if alpha != 0:
            loss = alpha * _instance_term(z1, z2, weights, chunk_size)
        if length > 1 and d >= temporal_unit and alpha != 1:
            tau = None if tau_temp is None else tau_temp * (2**d if temporal_hierarchy else 1)
            loss = loss + (1 - alpha) * _temporal_term(z1, z2, tau, chunk_size)
        total = loss if total is None else total + loss
        d += 1
        if length == 1:
            return total / d
        z1, z2 = _pool(z1), _pool(z2)

