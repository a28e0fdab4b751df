"""Iterative normalisation (IterNorm): group-wise batch whitening by Newton-Schulz steps.

Huang, Zhou, Zhu, Liu and Shao, "Iterative Normalization: Beyond Standardization
towards Efficient Whitening", CVPR 2019.  VIbCReg (Lee & Aune, 2021) and NC-VQVAE
use it as the last layer of their projectors, so that the embeddings reaching the
loss are already decorrelated within each group of features.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["IterNorm"]


class IterNorm(nn.Module):
    """Whiten groups of features over the batch with ``Sigma^{-1/2}`` from Newton-Schulz.

    In training mode, for each group of features (a ``g``-dimensional slice of the
    input, over the ``B`` rows of the batch):

    - ``x_c = x - mean``, ``Sigma = x_c x_c^T / B + eps I``, ``Sigma_N = Sigma / tr(Sigma)``;
    - ``P_0 = I``, ``P_{k+1} = 1.5 P_k - 0.5 P_k^3 Sigma_N`` for ``n_iters`` steps;
    - ``W = P_T / sqrt(tr(Sigma))``, an approximation of ``Sigma^{-1/2}`` that improves
      with ``n_iters``, and the output ``W x_c`` (then the affine map, if any).

    In eval mode the running mean and the running ``W`` (exponential averages with
    ``momentum``) are used instead, so an embedding does not depend on the rest of
    its batch.

    Parameters
    ----------
    num_features : int
        Number of features ``D`` of the input.
    num_groups : int, default=64
        The features are whitened in groups of ``g = ceil(D / num_groups)``
        consecutive features (the official argument: 64 groups of 64 at D = 4096).
        When ``g`` does not divide ``D`` the last group is smaller.  ``num_groups=1``
        whitens all features together.
    n_iters : int, default=5
        Newton-Schulz iterations ``T`` (the official value).
    eps : float, default=1e-5
        Added to the diagonal of each group's covariance.
    momentum : float, default=0.1
        Weight of the current batch in the running mean and whitening matrix.
    affine : bool, default=True
        Learn a per-feature scale (initialised to 1) and shift (initialised to 0).

    Attributes
    ----------
    running_mean : Tensor of shape (n_groups, g, 1)
        Running mean of each group (a buffer).
    running_whitening : Tensor of shape (n_groups, g, g)
        Running whitening matrix ``W`` of each group (a buffer).

    Notes
    -----
    The iteration is computed in its coupled form (the same iterates in exact
    arithmetic, numerically stable for any ``n_iters``), and the backward pass goes
    through its matrix products by autograd (the official code writes it out by
    hand; the gradients are the same).  The
    arithmetic runs in float32 or float64 even under bfloat16 autocast, because
    a cube of matrices loses too much precision in bfloat16.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(256, 8, generator=torch.Generator().manual_seed(0))
    >>> x = x + x[:, :1]  # every feature correlated with the first
    >>> y = IterNorm(8, num_groups=1, n_iters=10)(x)
    >>> cov = y.T @ y / len(y)
    >>> bool(torch.allclose(cov, torch.eye(8), atol=0.02))
    True
    """

    def __init__(
        self,
        num_features: int,
        num_groups: int = 64,
        *,
        n_iters: int = 5,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
    ):
        super().__init__()
        if num_features < 1 or num_groups < 1 or n_iters < 1:
            raise ValueError(
                "IterNorm: num_features, num_groups and n_iters must be positive, got "
                f"{num_features}, {num_groups} and {n_iters}."
            )
        self.num_features, self.n_iters = num_features, n_iters
        self.eps, self.momentum = eps, momentum
        self.group_size = math.ceil(num_features / num_groups)
        self.n_groups = math.ceil(num_features / self.group_size)
        g = self.group_size
        self.register_buffer("running_mean", torch.zeros(self.n_groups, g, 1))
        self.register_buffer("running_whitening", torch.eye(g).repeat(self.n_groups, 1, 1))
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None

    def _grouped(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (n_groups, g, B), zero features padding the last group."""
        padding = self.n_groups * self.group_size - self.num_features
        x = nn.functional.pad(x, (0, padding))
        return x.T.reshape(self.n_groups, self.group_size, x.shape[0])

    def _whitening(self, xc: torch.Tensor) -> torch.Tensor:
        """Newton-Schulz approximation of ``Sigma^{-1/2}`` for centred groups ``xc``."""
        eye = torch.eye(self.group_size, dtype=xc.dtype, device=xc.device)
        sigma = xc @ xc.transpose(1, 2) / xc.shape[-1] + self.eps * eye
        trace = sigma.diagonal(dim1=1, dim2=2).sum(-1)[:, None, None]  # (G, 1, 1)
        # Coupled form of P_{k+1} = 1.5 P_k - 0.5 P_k^3 Sigma_N: with Y_k = Sigma_N P_k,
        # P_{k+1} = 0.5 (3I - P_k Y_k) P_k and Y_{k+1} = 0.5 Y_k (3I - P_k Y_k).  The
        # iterates are the same in exact arithmetic, but the uncoupled form amplifies
        # rounding errors (by about 20x per step here) and diverges soon after it has
        # converged; the coupled one stays put.
        y, p = sigma / trace, eye.expand_as(sigma)
        for _ in range(self.n_iters):
            step = 0.5 * (3 * eye - p @ y)
            y, p = y @ step, step @ p
        return p / trace.sqrt()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Whiten a batch.

        Parameters
        ----------
        x : Tensor of shape (B, num_features)

        Returns
        -------
        Tensor of shape (B, num_features)
        """
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"IterNorm expects input of shape (batch, {self.num_features}), got "
                f"{tuple(x.shape)}."
            )
        dtype = x.dtype
        with torch.autocast(x.device.type, enabled=False):
            xg = self._grouped(x.float() if dtype != torch.float64 else x)
            if self.training:
                mean = xg.mean(dim=-1, keepdim=True)
                xc = xg - mean
                whitening = self._whitening(xc)
                with torch.no_grad():
                    self.running_mean.lerp_(mean.to(self.running_mean.dtype), self.momentum)
                    self.running_whitening.lerp_(
                        whitening.to(self.running_whitening.dtype), self.momentum
                    )
            else:
                xc = xg - self.running_mean.to(xg.dtype)
                whitening = self.running_whitening.to(xg.dtype)
            out = (whitening @ xc).reshape(-1, x.shape[0]).T[:, : self.num_features]
            if self.weight is not None:
                out = out * self.weight + self.bias
        return out.to(dtype)
