"""Vector quantisation with an EMA codebook (van den Oord et al., 2017, Appendix A.1).

A :class:`VectorQuantizer` replaces every latent vector ``z`` by its nearest code
``e_k`` (Euclidean distance).  The codebook is not trained by gradient descent but
moved by exponential moving averages of the vectors assigned to each code; the
encoder gets the gradient through the *straight-through estimator*
``z_q = z + sg(e_k - z)`` (the forward value is the code, the backward pass is the
identity), and is pulled towards its codes by the commitment loss
``beta * mean (z - sg(e_k))**2``.

EMA update for one training batch, with one-hot assignments ``a`` (N, K), inputs
``z`` (N, D), decay ``gamma`` and smoothing ``eps``::

    n_k  <- gamma n_k  + (1 - gamma) sum_i a_ik            # "cluster size" (K,)
    m_k  <- gamma m_k  + (1 - gamma) sum_i a_ik z_i        # running sum (K, D)
    n~_k  = (n_k + eps) / (sum_j n_j + K eps) * sum_j n_j  # Laplace smoothing
    e_k  <- m_k / n~_k

``n`` starts at 0 and ``m`` at the initial codebook, as in the implementation
TimeVQVAE and NC-VQVAE use.  A consequence worth knowing: a code that receives no
vector in the first training batch gets ``n~_k ~= eps`` and is pushed out to
``gamma * e_k / eps`` (about 1e5 times its initial norm), where it stays unused
for good.  That is the classic "dead code" failure; :func:`code_usage` and
:func:`perplexity` measure it.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..distributed import is_distributed

__all__ = ["VectorQuantizer", "code_usage", "perplexity"]


class VectorQuantizer(nn.Module):
    """Nearest-code quantiser whose codebook follows an EMA of its assigned vectors.

    Parameters
    ----------
    n_codes : int, default=32
        Codebook size ``K``.
    dim : int, default=64
        Code (and latent) width ``D``.
    decay : float, default=0.9
        EMA decay ``gamma`` in [0, 1): the weight kept by the running averages at
        each update.
    commitment : float, default=1.0
        Weight ``beta`` of the commitment loss.
    eps : float, default=1e-5
        Laplace smoothing of the cluster sizes.

    Attributes
    ----------
    codebook : Tensor of shape (n_codes, dim)
        The codes (a buffer), initialised from N(0, 1).
    cluster_size : Tensor of shape (n_codes,)
        EMA of the number of vectors assigned to each code.
    code_sum : Tensor of shape (n_codes, dim)
        EMA of the sum of the vectors assigned to each code.

    Notes
    -----
    The codebook moves only in training mode (``module.train()``); in eval mode the
    quantiser is a fixed lookup table, so encoding test data never changes it.
    Under ``torch.distributed`` the batch statistics are summed over the ranks
    before the update, so every rank keeps the same codebook.

    Examples
    --------
    >>> import torch
    >>> vq = VectorQuantizer(n_codes=3, dim=2).eval()
    >>> _ = vq.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    >>> z = torch.tensor([[[[0.9]], [[0.2]]]])          # (B=1, D=2, H=1, W=1)
    >>> z_q, codes, loss = vq(z)
    >>> codes.tolist(), z_q.flatten().tolist()
    ([[[1]]], [1.0, 0.0])
    """

    def __init__(
        self,
        n_codes: int = 32,
        dim: int = 64,
        decay: float = 0.9,
        commitment: float = 1.0,
        eps: float = 1e-5,
    ):
        super().__init__()
        if not 0 <= decay < 1:
            raise ValueError(f"decay={decay} must be in [0, 1).")
        self.n_codes, self.dim = n_codes, dim
        self.decay, self.commitment, self.eps = decay, commitment, eps
        codebook = torch.randn(n_codes, dim)
        self.register_buffer("codebook", codebook)
        self.register_buffer("cluster_size", torch.zeros(n_codes))
        self.register_buffer("code_sum", codebook.clone())

    def assign(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code of each row of ``flat`` (N, D) -> (N,) int64."""
        codebook = self.codebook
        # ||z||^2 is the same for every code, so it does not change the argmin.
        dist2 = codebook.pow(2).sum(1) - 2 * flat @ codebook.T  # (N, K)
        return dist2.argmin(dim=1)

    def forward(self, z: torch.Tensor, update: bool = True):
        """Quantise a channel-first latent map.

        Parameters
        ----------
        z : Tensor of shape (B, D, S1, ..., Sk)
            Encoder output; any number k of spatial axes.
        update : bool, default=True
            In training mode, move the codebook towards ``z`` after the lookup (a
            validation pass sets it to False).  Eval mode never updates.

        Returns
        -------
        z_q : Tensor of shape (B, D, S1, ..., Sk)
            The nearest codes; in training mode with the straight-through gradient
            (d z_q / d z = identity).
        codes : LongTensor of shape (B, S1, ..., Sk)
            Code indices.
        commitment_loss : Tensor, scalar
            ``commitment * mean((z - sg(z_q))**2)``.
        """
        if z.shape[1] != self.dim:
            raise ValueError(f"z has {z.shape[1]} channels; this quantiser has dim={self.dim}.")
        z = z.float()  # distances and the EMA in float32, also under autocast
        channels_last = z.movedim(1, -1)  # (B, *spatial, D)
        flat = channels_last.reshape(-1, self.dim)
        codes = self.assign(flat.detach())
        quantised = self.codebook[codes].view_as(channels_last).movedim(-1, 1)  # old codes
        if self.training and update:
            self._ema_update(flat.detach(), codes)
        loss = self.commitment * F.mse_loss(z, quantised)  # quantised is a buffer: no grad
        z_q = z + (quantised - z).detach() if self.training else quantised
        return z_q, codes.view(channels_last.shape[:-1]), loss

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        counts = torch.bincount(codes, minlength=self.n_codes).to(flat.dtype)  # (K,)
        sums = torch.zeros_like(self.code_sum).index_add_(0, codes, flat)  # (K, D)
        if is_distributed():  # the statistics of the global batch
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.cluster_size.lerp_(counts, 1 - self.decay)
        self.code_sum.lerp_(sums, 1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (total + self.n_codes * self.eps) * total
        self.codebook.copy_(self.code_sum / smoothed.unsqueeze(1))


def code_usage(codes: torch.Tensor, n_codes: int) -> torch.Tensor:
    """How many times each code occurs.

    Parameters
    ----------
    codes : integer Tensor of any shape
        Code indices in ``[0, n_codes)``.
    n_codes : int
        Codebook size.

    Returns
    -------
    counts : LongTensor of shape (n_codes,)

    Examples
    --------
    >>> import torch
    >>> code_usage(torch.tensor([[0, 2], [2, 2]]), 4).tolist()
    [1, 0, 3, 0]
    """
    return torch.bincount(codes.reshape(-1), minlength=n_codes)


def perplexity(counts: torch.Tensor) -> float:
    """``exp(entropy)`` of the code frequencies: the effective number of codes used.

    It is ``K`` when all ``K`` codes are used equally often and 1 when a single code
    takes every vector.

    Parameters
    ----------
    counts : Tensor of shape (n_codes,)
        Occurrences of each code (see :func:`code_usage`).

    Returns
    -------
    float

    Examples
    --------
    >>> import torch
    >>> round(perplexity(torch.tensor([5, 5, 0, 0])), 6)
    2.0
    """
    p = counts.double() / counts.sum().clamp(min=1)
    p = p[p > 0]  # 0 log 0 = 0
    return float(torch.exp(-(p * p.log()).sum()))
