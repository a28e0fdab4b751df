"""TimeDRL: disentangled instance ([CLS]) and timestamp (patch) embeddings."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from .._context import TrainContext
from ..base import BaseSSLTransformer, store_init_arguments
from ..encoders.dropout import FastDropout
from ..encoders.transformer import (
    POSITIONAL_ENCODINGS,
    TOKEN_EMBEDDINGS,
    PatchTransformerEncoder,
    instance_normalise,
    n_patches,
    timestamp_to_patch,
)
from ..losses.simsiam import masked_mse, simsiam_loss
from ..schedules import SCHEDULES, SchedulerConfig, epoch_scheduler

__all__ = ["TimeDRLTransformer"]

# Default budget: the official classification configurations' epochs.
_DEFAULT_EPOCHS = 30


class TimeDRLTransformer(BaseSSLTransformer):
    """TimeDRL self-supervised encoder as a scikit-learn transformer.

    Each series is normalised per channel (RevIN without affine parameters), cut
    into overlapping patches and encoded, with a learnable [CLS] token prepended, by
    a post-LN transformer.  No augmentation is used: the two views are the same
    batch passed twice, differing only by dropout (one batched forward of ``2B``
    series).  Two losses train it:

    - *timestamp-predictive*: a linear head reconstructs every patch from its
      token (mean squared error, averaged over both views);
    - *instance-contrastive*: a 2-layer MLP predictor applied to one view's [CLS]
      embedding must match the stop-gradient [CLS] embedding of the other view
      (SimSiam negative cosine, symmetrised).

    The loss is ``predictive + lambda_ * contrastive``.

    Parameters
    ----------
    output_dims : int, default=64
        Width of the transformer (the paper's ``d_model``), hence of every token
        embedding.
    n_heads : int, default=4
        Attention heads; must divide ``output_dims``.
    n_layers : int, default=2
        Transformer encoder layers.
    patch_len : int, default=16
        Patch length ``P``.
    stride : int, default=8
        Distance between patch starts ``S``; at most ``patch_len``.
    dropout : float, default=0.1
        Dropout in the embedding, the transformer and the heads; it is what makes
        the two views differ, so it must be positive.
    channel_independent : bool, default=True
        Encode every channel as a separate sequence with shared weights (the
        official forecasting default).  False concatenates the channels of a patch
        into one token (the official classification setting).
    token_embedding : {"linear", "conv"}, default="linear"
        How tokens ([CLS] and patches) become ``output_dims``-vectors: a per-token
        linear map without bias (the official default), or a convolution along the
        token sequence with circular padding and no bias
        (:class:`~sslts.encoders.transformer.CircularConvEmbedding`; every tuned
        official configuration uses it, and the [CLS] token then also sees the first
        and last patch).  On the 16-dataset UCR/UEA suite (3 seeds, SVM) "linear"
        scored 80.9 % and "conv" 79.3 %, within seed noise of each other; "conv"
        loses 25 points on CBF and wins 12 on RacketSports (``docs/timedrl.md``).
    token_kernel_size : int, default=3
        Odd kernel of the "conv" token embedding (tuned official configurations: 3,
        or 5 on WISDM); ignored by "linear".
    positional_encoding : {"fixed", "learnable", "none"}, default="fixed"
        Added to the embedded tokens: sinusoidal (the official default), a learned
        table (``randn``-initialised, as long as the training series' patches), or
        nothing.  With "learnable", ``transform`` refuses series that give more
        patches than the training series; the others encode any length.
    lambda_ : float, default=0.1
        Weight of the instance-contrastive loss.
    append_stats : bool, default=False
        Append to the instance embedding the per-channel mean and standard deviation
        that the instance normalisation removed (``2 * n_channels`` features after
        the [CLS] vector; the statistics of the observed values, ``std =
        sqrt(var + 1e-5)``).  Beyond the paper: TimeDRL normalises every series, so
        its embedding cannot tell series apart by level or amplitude, which carries
        the class on sets such as UEA Epilepsy and BasicMotions (see Notes).  Only
        ``level="instance"`` changes.
    n_iters : int, default=None
        Optimiser steps.
    min_epoch_steps : int, default=10
        Optimiser steps an epoch takes at least: a training set of fewer batches is
        repeated within every epoch (the copies shuffled together), so that the
        epoch-wise schedule and budget train as they do on the official datasets,
        whose smallest (FingerMovements, 316 series) has 10 batches per epoch and
        the others hundreds.  Without it, 30 epochs of "type1" on a UCR set of 30
        series are 30 steps, only 3 of them at the full rate.  1 makes an epoch one
        pass over the data.
    batch_size : int, default=32
        Mini-batch size.
    lr : float, default=1e-3
        AdamW learning rate.
    drop_last : bool, default=False
        Skip the last partial batch of each epoch.  The official classification
        loader keeps it (its forecasting loader drops it); a last batch of a single
        series is skipped either way (the predictor's batch norm needs two).
    weight_decay : float, default=1e-3
        AdamW weight decay.
    lr_schedule : {"type1", "type3", "warmup", "constant"}, default="type1"
        Learning rate per epoch, as the official code schedules it
        (:mod:`sslts.schedules`): "type1" runs epochs 1 and 2 at ``lr`` and halves it
        after every later epoch; "type3" keeps ``lr`` for 4 epochs, then multiplies
        it by 0.9 per epoch; "warmup" ramps from 0.4 ``lr`` in epoch 2 to ``lr`` in
        epoch 5, then 0.9 per epoch (epoch 1 runs at ``lr``, as in the official
        code); "constant" (set it to drive the rate with a
        :class:`~sslts.callbacks.LearningRateScheduler`).  Each ``fit``, warm-started
        or not, restarts the schedule.
    level : {"instance", "timestamp", "patch"}, default="instance"
        What ``transform`` returns:

        - "instance": the [CLS] embedding, shape ``(n_series, n_features)`` with
          ``n_features = output_dims * n_channels`` when channel-independent (the
          channels' [CLS] vectors concatenated), else ``output_dims``;
        - "timestamp": shape ``(n_series, n_timestamps, n_features)``; timestamp
          ``t`` gets the token of patch ``min(t // stride, n_patches - 1)``, the
          last patch starting at or before ``t``;
        - "patch": the patch tokens, shape ``(n_series, n_patches, n_features)``
          with ``n_patches = (n_timestamps - patch_len) // stride + 2``.
    [shared parameters]

    Attributes
    ----------
    module_ : torch.nn.Module
        The network: ``encoder`` (:class:`~sslts.encoders.transformer.PatchTransformerEncoder`),
        ``reconstruct`` (predictive head) and ``predictor`` (contrastive head).
    [shared attributes]

    See Also
    --------
    TS2VecTransformer : Contrastive timestamp and instance embeddings.

    Notes
    -----
    The reconstruction target is the *normalised* patch, the very input the
    encoder sees.  The official code reconstructs the un-normalised input while
    feeding the encoder its RevIN-normalised version, which asks a linear head to
    recover each series' mean and scale that normalisation removed; both agree on
    data that is already standardised per series.

    Missing values (NaN, including right-padding of variable-length series) are
    ignored by the normalisation statistics, encoded as 0 (the channel mean) and
    left out of the reconstruction loss.  A series shorter than one patch is
    padded by repeating its last value up to one full patch.

    The instance normalisation is faithful to the paper, and it removes each
    series' per-channel level and amplitude, which carry the class on some data:
    on UEA Epilepsy and BasicMotions the per-channel mean and standard deviation
    alone give 1-NN accuracies of 0.957 and 1.000, out of reach of any embedding of
    the normalised series.  ``append_stats=True`` gives them back to the instance
    embedding.  (The paper's "Epilepsy" is the 178-step, 2-class Epileptic Seizure
    Recognition set, not UEA Epilepsy.)

    Other differences from the official code: the two dropout views are one
    forward pass over the doubled batch (same semantics; the predictor's
    batch normalisation still sees each view separately), attention is PyTorch's
    fused ``scaled_dot_product_attention`` (on the CPU in training, the same
    product with explicit weights), dropout masks on the CPU come from
    :class:`~sslts.encoders.FastDropout` (same distribution, another random
    stream, masks at a tenth of the cost), no mixed precision, and the defaults are small
    for CPU use (official: ``d_model`` 768, 12 heads, 12 layers).

    References
    ----------
    .. [1] C. Chang, C.-T. Chan, W.-Y. Wang, W.-C. Peng and T.-F. Chen, "TimeDRL:
       Disentangled Representation Learning for Multivariate Time-Series",
       ICDE 2024 (arXiv:2312.04142).

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TimeDRLTransformer
    >>> X = np.random.default_rng(0).normal(size=(10, 30, 2))
    >>> enc = TimeDRLTransformer(output_dims=8, n_heads=2, n_layers=1, patch_len=6,
    ...                          stride=3, n_epochs=2, random_state=0).fit(X)
    >>> enc.transform(X).shape
    (10, 16)
    >>> enc.encode(X, level="patch").shape
    (10, 10, 16)
    >>> enc.encode(X, level="timestamp").shape
    (10, 30, 16)
    """

    parameter_constraints: dict = {
        "output_dims": [Interval(Integral, 2, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 0, None, closed="left")],
        "patch_len": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="neither")],
        "channel_independent": ["boolean"],
        "lambda_": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions(set(SCHEDULES))],
        "token_embedding": [StrOptions(set(TOKEN_EMBEDDINGS))],
        "token_kernel_size": [Interval(Integral, 1, None, closed="left")],
        "positional_encoding": [StrOptions(set(POSITIONAL_ENCODINGS))],
        "append_stats": ["boolean"],
        "min_epoch_steps": [Interval(Integral, 1, None, closed="left")],
    }
    valid_levels = ("instance", "timestamp", "patch")
    min_batch_size = 2  # the predictor's batch norm

    def __init__(
        self, *, output_dims=64, n_heads=4, n_layers=2, patch_len=16, stride=8, dropout=0.1,
        channel_independent=True, token_embedding="linear", token_kernel_size=3,
        positional_encoding="fixed", lambda_=0.1, append_stats=False, n_epochs=None, n_iters=None,
        min_epoch_steps=10, batch_size=32, lr=1e-3, drop_last=False, weight_decay=1e-3,
        lr_schedule="type1", level="instance", device="auto", random_state=None, verbose=0,
        warm_start=False, n_iter_no_change=None, tol=1e-4, precision="float32", compile=False,
        callbacks=None, sync_batchnorm=False, input_layout="channels_last", n_threads=None,
    ):
        store_init_arguments(self, locals())

    # -- the method -------------------------------------------------------
    def build_module(self, n_channels):
        if self.stride > self.patch_len:
            raise ValueError(
                f"stride={self.stride} exceeds patch_len={self.patch_len}, which would skip "
                "timestamps; use stride <= patch_len."
            )
        if self.output_dims % self.n_heads:
            raise ValueError(
                f"output_dims={self.output_dims} is not divisible by n_heads={self.n_heads}."
            )
        if self.token_kernel_size % 2 == 0:
            raise ValueError(
                f"token_kernel_size={self.token_kernel_size} must be odd (the convolution "
                "keeps the number of tokens); the official configurations use 3 or 5."
            )
        encoder = PatchTransformerEncoder(
            n_channels,
            self.patch_len,
            self.stride,
            self.output_dims,
            self.n_heads,
            self.n_layers,
            self.dropout,
            max_patches=n_patches(self.n_features_in_, self.patch_len, self.stride),
            channel_independent=self.channel_independent,
            token_embedding=self.token_embedding,
            kernel_size=self.token_kernel_size,
            positional_encoding=self.positional_encoding,
        )
        return _TimeDRLNetwork(encoder, self.output_dims, self.dropout)

    def configure_scheduler(self, optimizer, ctx):
        if self.lr_schedule == "constant":
            return None
        return SchedulerConfig(epoch_scheduler(optimizer, self.lr_schedule), "epoch")

    def default_budget(self, X):
        return _DEFAULT_EPOCHS, None

    def prepare_training_data(self, X):
        streams = X.shape[2] if self.channel_independent else 1
        if len(X) * streams < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 training sequences (series times "
                "channels in channel-independent mode): its predictor uses batch "
                f"normalisation. Got n_samples={len(X)} series with {X.shape[2]} channel(s)."
            )
        n = len(X)
        if TrainContext.count_steps(n, self.batch_size, self.drop_last) < self.min_epoch_steps:
            X = np.concatenate([X] * math.ceil(self.min_epoch_steps * self.batch_size / n))
        return X

    def training_step(self, module, batch, ctx):
        x_norm, observed, _, _ = instance_normalise(batch)
        encoder = module.encoder
        target = encoder.tokens_in_patch_space(x_norm)  # (B, C', N, P')
        weight = encoder.tokens_in_patch_space(observed.to(x_norm.dtype))
        # Both dropout views in one pass: dropout masks are drawn per element.
        z = encoder(torch.cat([x_norm, x_norm]))  # (2B, C', 1 + N, D)
        recon = module.reconstruct(z[:, :, 1:])  # (2B, C', N, P')
        predictive = masked_mse(recon, target.repeat(2, 1, 1, 1), weight.repeat(2, 1, 1, 1))
        cls1, cls2 = z[:, :, 0].reshape(2, -1, z.shape[-1])  # (B * C', D) each
        # The predictor runs per view so that its batch norm sees one view at a time.
        contrastive = simsiam_loss(module.predictor(cls1), module.predictor(cls2), cls1, cls2)
        return predictive + self.lambda_ * contrastive

    def embed(self, module, batch, level):
        x_norm, _, mean, std = instance_normalise(batch)
        z = module.encoder(x_norm)  # (B, C', 1 + N, D)
        if level == "instance":
            cls = z[:, :, 0].reshape(len(z), -1)
            if not self.append_stats:
                return cls
            # The location and scale RevIN removed, per channel: (B, C' * D + 2 C).
            return torch.cat([cls, mean[:, 0].to(cls.dtype), std[:, 0].to(cls.dtype)], dim=1)
        patches = z[:, :, 1:].transpose(1, 2).flatten(2)  # (B, N, C' * D)
        if level == "patch":
            return patches
        index = timestamp_to_patch(batch.shape[1], self.patch_len, self.stride, batch.device)
        return patches[:, index]

    def embedding_dims(self, level):
        tokens = self.output_dims * (self.n_channels_ if self.channel_independent else 1)
        stats = 2 * self.n_channels_ if self.append_stats and level == "instance" else 0
        return tokens + stats


class _TimeDRLNetwork(nn.Module):
    """Encoder plus TimeDRL's two training heads.

    Parameters
    ----------
    encoder : PatchTransformerEncoder
    d_model : int
        Token width.
    dropout : float
        Dropout before the reconstruction layer and inside the predictor.
    """

    def __init__(self, encoder: PatchTransformerEncoder, d_model: int, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.reconstruct = nn.Sequential(
            FastDropout(dropout), nn.Linear(d_model, encoder.token_dim)
        )
        self.predictor = nn.Sequential(
            nn.Linear(d_model, d_model // 2),
            nn.BatchNorm1d(d_model // 2),
            nn.ReLU(),
            FastDropout(dropout),
            nn.Linear(d_model // 2, d_model),
        )
