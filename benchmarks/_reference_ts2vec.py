"""A TS2Vec that pays the official implementation's costs, for speed comparisons only.

Not part of the library.  :class:`ReferenceTS2Vec` is ``TS2VecTransformer`` with the
fast paths swapped for what the official code (zhihanyue/ts2vec @ b0088e1) does,
as described in ``shared/reference/official_implementations.md`` sections 1.2, 1.4
and 1.9 (written from that description, not from the official source):

- the loss builds the similarity matrix, glues its lower/upper-triangular parts
  into a (2N, 2N-1) logit copy, takes a full ``log_softmax`` and gathers the
  positives (:func:`reference_hierarchical_loss`);
- timestamp masks are drawn with numpy on the host and copied per forward;
- the training data stays on the host and each batch is copied to the device;
- ``loss.item()`` syncs every step;
- weight averaging is a Python loop over the parameters;
- every dilated convolution is computed in full (no 1x1 shortcut when the
  dilation exceeds the length);
- inference uses the training batch size (8).

The model, crops, optimiser and averaging rule are the same as the fast path, so
the two give embeddings of the same quality (checked by ``benchmarks/speed.py``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sslts import TS2VecTransformer
from sslts.encoders import DilatedConvEncoder, SamePadConv

__all__ = ["ReferenceTS2Vec", "reference_hierarchical_loss"]


def _off_diagonal_neg_log_softmax(sim: torch.Tensor) -> torch.Tensor:
    """(G, N, N) similarities -> (G, N, N-1) negative log-softmax over j != i.

    As the official code: the lower triangle without its last column, plus (in
    place) the upper triangle without its first column, then ``-log_softmax``.
    """
    logits = torch.tril(sim, diagonal=-1)[:, :, :-1]
    logits += torch.triu(sim, diagonal=1)[:, :, 1:]
    return -F.log_softmax(logits, dim=-1)


def _gathered_loss(z: torch.Tensor, n: int) -> torch.Tensor:
    """z: (G, 2n, D), views stacked; mean negative log-probability of the positives."""
    nll = _off_diagonal_neg_log_softmax(torch.matmul(z, z.transpose(1, 2)))
    i = torch.arange(n, device=z.device)
    # Row i's positive (column n+i) moved one left when the diagonal was removed.
    return (nll[:, i, n + i - 1].mean() + nll[:, n + i, i].mean()) / 2


def reference_instance_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Official-style instance loss; z1, z2: (B, T, D)."""
    if z1.shape[0] == 1:
        return z1.new_zeros(())
    return _gathered_loss(torch.cat([z1, z2], dim=0).transpose(0, 1), z1.shape[0])


def reference_temporal_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Official-style temporal loss; z1, z2: (B, T, D)."""
    if z1.shape[1] == 1:
        return z1.new_zeros(())
    return _gathered_loss(torch.cat([z1, z2], dim=1), z1.shape[1])


def reference_hierarchical_loss(z1, z2, alpha=0.5, temporal_unit=0):
    """Official-style hierarchical loss: a ``while`` loop over max-pooled levels."""
    loss = z1.new_zeros(())
    d = 0
    while z1.shape[1] > 1:
        if alpha != 0:
            loss = loss + alpha * reference_instance_loss(z1, z2)
        if d >= temporal_unit and alpha != 1:
            loss = loss + (1 - alpha) * reference_temporal_loss(z1, z2)
        d += 1
        z1 = F.max_pool1d(z1.transpose(1, 2), kernel_size=2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), kernel_size=2).transpose(1, 2)
    if z1.shape[1] == 1:
        if alpha != 0:
            loss = loss + alpha * reference_instance_loss(z1, z2)
        d += 1
    return loss / d


class _FullSamePadConv(SamePadConv):
    """SamePadConv without the 1x1 shortcut: always the full dilated convolution."""

    def forward(self, x):
        return F.conv1d(
            x, self.conv.weight, self.conv.bias, padding=self.padding, dilation=self.dilation
        )


class _ChannelsFirstStack(DilatedConvEncoder):
    """The block stack without sslts' channels-last tail: every conv through ``forward``."""

    def forward(self, x, inside=None):
        for block in self:
            x = block(x, inside)
        return x


class ReferenceTS2Vec(TS2VecTransformer):
    """TS2VecTransformer with the official implementation's costs (see module doc)."""

    def build_module(self, n_channels):
        module = super().build_module(n_channels)
        module.bucket_lengths = False  # the official code meets every crop length as it is
        module.feature_extractor.__class__ = _ChannelsFirstStack
        for sub in module.modules():
            if type(sub) is SamePadConv:
                sub.__class__ = _FullSamePadConv  # same parameters, slower forward
        return module

    def _device_data(self, X):
        return torch.from_numpy(X)  # host-resident; each batch is copied to the device

    def _mask(self, view, rng):
        keep = rng.numpy.binomial(1, self.mask_p, size=view.shape[:2]).astype(bool)
        return torch.from_numpy(keep).to(view.device)

    def training_step(self, module, batch, ctx):
        out1, out2 = self._encode_views(module, batch, ctx.rng)
        return reference_hierarchical_loss(out1, out2, self.alpha, self.temporal_unit)

    def on_step_end(self, ctx):
        ctx.loss.item()  # the official loop logs every step: one device sync per step

    @torch.no_grad()
    def _update_average(self):
        self._n_averaged += 1
        for avg, cur in zip(self.averaged_module_.parameters(), self.module_.parameters()):
            avg.copy_(avg + (cur - avg) / self._n_averaged)

    def encode(self, X, *, level=None, batch_size=None):
        return super().encode(X, level=level, batch_size=batch_size or self.batch_size)


def _check_reference_matches_formula() -> None:
    """Sanity check used by the benchmark: both losses agree on random input."""
    from sslts.losses import hierarchical_contrastive_loss

    gen = torch.Generator().manual_seed(0)
    z1, z2 = (torch.randn(4, 37, 16, generator=gen, dtype=torch.float64) for _ in range(2))
    fast = hierarchical_contrastive_loss(z1, z2)
    ref = reference_hierarchical_loss(z1, z2)
    np.testing.assert_allclose(float(fast), float(ref), rtol=1e-10)
