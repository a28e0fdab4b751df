"""TS2Vec: hierarchical contrastive learning of timestamp and instance embeddings."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from ..augment import binomial_mask, sample_overlapping_crops
from ..base import BaseSSLTransformer, store_init_arguments
from ..encoders import TS2VecEncoder
from ..losses import hierarchical_contrastive_loss

__all__ = ["TS2VecTransformer"]


class TS2VecTransformer(BaseSSLTransformer):
    """TS2Vec self-supervised encoder as a scikit-learn transformer.

    The encoder (an input projection followed by dilated residual convolutions) maps
    every timestamp to a vector.  It is trained so that the representations of the
    same timestamp in two overlapping random crops agree ("contextual consistency"),
    contrasting them against other series at the same timestamp (instance loss) and
    other timestamps of the same series (temporal loss), at every level of a
    max-pooling hierarchy.  Each view's hidden vectors are randomly masked
    (each timestamp kept with probability 0.5).

    Parameters
    ----------
    output_dims : int, default=320
        Size of the embeddings.
    hidden_dims : int, default=64
        Width of the hidden layers.
    depth : int, default=10
        Number of hidden residual blocks (dilation ``2**i`` in block ``i``).
    alpha : float, default=0.5
        Weight of the instance term; the temporal term gets ``1 - alpha``.
    temporal_unit : int, default=0
        Pooling level from which the temporal term is used; raising it saves memory
        on long series.
    max_train_length : int or None, default=3000
        Series of at least twice this length are cut into sections for training,
        and every batch is trained on a random window of this length.
    loss_chunk_size : int or None, default=None
        Compute the contrastive loss from blocks of this many rows of its similarity
        matrices: the same value and gradient up to float rounding, in memory
        O(batch_size * loss_chunk_size * T) instead of O(batch_size * T**2) for crops
        of T steps, for a little more time.  Measured at T = 3000 (batch 8, 320
        dimensions, CPU): ``loss_chunk_size=256`` cut the loss's peak memory from
        1.7 GB to 0.26 GB at 1.19x its time (``docs/performance.md``).  It pays on
        long crops (a large ``max_train_length``); None computes whole matrices.
    mask_p : float, default=0.5
        Probability that a timestamp is kept by the training mask.
    dropout : float, default=0.1
        Dropout on the output representations during training.
    n_iters : int, default=None
        Optimiser steps.  If neither is set: 200 when the training array holds at most
        100,000 values, else 600 (the paper's rule).
    batch_size : int, default=8
        Mini-batch size.
    lr : float, default=1e-3
        AdamW learning rate.
    drop_last : bool, default=True
        Skip the last partial batch of each epoch, as the official loader does.
    weight_decay : float, default=0.01
        AdamW weight decay.
    level : {"instance", "timestamp"}, default="instance"
        What ``transform`` returns.  ``"instance"`` max-pools the timestamp
        embeddings over the observed timestamps of each series.
    [shared parameters]

    Attributes
    ----------
    module_ : TS2VecEncoder
        The network being optimised (last iterate).
    averaged_module_ : TS2VecEncoder
        Uniform average of the initial weights and of every iterate; it is the
        encoder ``transform`` uses, as in the official implementation.
    [shared attributes]

    See Also
    --------
    IARSTransformer : TS2Vec training on one sampled resolution per epoch.

    Notes
    -----
    Differences from the official code, on purpose:

    - the instance embedding max-pools only over observed timestamps (the official
      code also pools over NaN padding, whose outputs are computed from zeros);
    - crops, masks and data live on the training device, the loss is a masked
      log-sum-exp on one similarity matrix per level, and the loss is synced to the
      host once per epoch instead of every step;
    - dilated convolutions whose dilation exceeds the series length are computed as
      the equivalent 1x1 convolutions.

    Missing values (NaN) are masked timestamps, as in the paper.  Series with NaN at
    their start or end are centred for training, as the official code does.

    References
    ----------
    .. [1] Z. Yue, Y. Wang, J. Duan, T. Yang, C. Huang, Y. Tong and B. Xu, "TS2Vec:
       Towards Universal Representation of Time Series", AAAI 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TS2VecTransformer
    >>> X = np.random.default_rng(0).normal(size=(10, 30))
    >>> enc = TS2VecTransformer(output_dims=8, hidden_dims=8, depth=2, n_iters=5,
    ...                         random_state=0).fit(X)
    >>> enc.transform(X).shape
    (10, 8)
    >>> enc.set_params(level="timestamp").transform(X).shape
    (10, 30, 8)
    """

    parameter_constraints: dict = {
        "output_dims": [Interval(Integral, 1, None, closed="left")],
        "hidden_dims": [Interval(Integral, 1, None, closed="left")],
        "depth": [Interval(Integral, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, 1, closed="both")],
        "temporal_unit": [Interval(Integral, 0, None, closed="left")],
        "max_train_length": [Interval(Integral, 2, None, closed="left"), None],
        "loss_chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "mask_p": [Interval(Real, 0, 1, closed="right")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
    }
    average_weights = True
    memory_params = ("batch_size", "max_train_length", "loss_chunk_size")

    def __init__(
        self, *, output_dims=320, hidden_dims=64, depth=10, alpha=0.5, temporal_unit=0,
        max_train_length=3000, loss_chunk_size=None, mask_p=0.5, dropout=0.1, n_epochs=None,
        n_iters=None, batch_size=8, lr=1e-3, drop_last=True, weight_decay=0.01, level="instance",
        device="auto", random_state=None, verbose=0, warm_start=False, n_iter_no_change=None,
        tol=1e-4, precision="float32", compile=False, callbacks=None, sync_batchnorm=False,
        input_layout="channels_last", n_threads=None,
    ):
        store_init_arguments(self, locals())

    # -- the method -------------------------------------------------------
    def build_module(self, n_channels):
        return TS2VecEncoder(
            n_channels, self.output_dims, self.hidden_dims, self.depth, self.dropout
        )

    def default_budget(self, X):
        return None, (200 if X.size <= 100_000 else 600)

    def prepare_training_data(self, X):
        T = X.shape[1]
        if self.max_train_length is not None and T >= 2 * self.max_train_length:
            X = _split_into_sections(X, T // self.max_train_length)
        if np.isnan(X[:, [0, -1]]).all(axis=2).any():
            X = _centre_variable_length(X)
        return X[~np.isnan(X).all(axis=(1, 2))]

    def _encode_views(self, module, x, rng):
        """Encode two masked, overlapping crops; return their overlap, (B, l, D) each."""
        if self.max_train_length is not None and x.shape[1] > self.max_train_length:
            start = int(rng.numpy.integers(x.shape[1] - self.max_train_length + 1))
            x = x[:, start : start + self.max_train_length]
        crops = sample_overlapping_crops(x, rng.numpy, 2 ** (self.temporal_unit + 1))
        out1 = module(crops.view1, self._mask(crops.view1, rng))[:, -crops.overlap :]
        out2 = module(crops.view2, self._mask(crops.view2, rng))[:, : crops.overlap]
        return out1, out2

    def _mask(self, view, rng):
        if self.mask_p == 1:
            return None
        return binomial_mask(view.shape[:2], self.mask_p, rng.torch, view.device)

    def training_step(self, module, batch, ctx):
        out1, out2 = self._encode_views(module, batch, ctx.rng)
        return hierarchical_contrastive_loss(
            out1, out2, self.alpha, self.temporal_unit, chunk_size=self.loss_chunk_size
        )

    def embed(self, module, batch, level):
        out = module(batch)
        if level == "timestamp":
            return out
        observed = ~torch.isnan(batch).any(dim=-1, keepdim=True)
        pooled = out.masked_fill(~observed, float("-inf")).amax(dim=1)
        # A series with no fully observed timestamp (NaNs spread over channels)
        # falls back to pooling over every timestamp.
        return torch.where(observed.any(dim=1), pooled, out.amax(dim=1))


def _split_into_sections(X: np.ndarray, sections: int) -> np.ndarray:
    """Cut each series into ``sections`` pieces that become separate series."""
    parts = np.array_split(X, sections, axis=1)
    length = parts[0].shape[1]
    padded = [
        np.pad(p, ((0, 0), (0, length - p.shape[1]), (0, 0)), constant_values=np.nan)
        for p in parts
    ]
    return np.concatenate(padded, axis=0)


def _centre_variable_length(X: np.ndarray) -> np.ndarray:
    """Roll each series so that its leading and trailing NaN padding are balanced."""
    missing = np.isnan(X).all(axis=2)
    lead = np.argmax(~missing, axis=1)
    trail = np.argmax(~missing[:, ::-1], axis=1)
    shift = (lead + trail) // 2 - lead
    cols = (np.arange(X.shape[1])[None, :] - shift[:, None]) % X.shape[1]
    return X[np.arange(len(X))[:, None], cols]
