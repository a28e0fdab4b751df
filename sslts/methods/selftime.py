"""SelfTime: inter-sample and intra-temporal relational reasoning."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions

from ..augment import apply_with_probability, magnitude_warp, time_warp
from ..base import BaseSSLTransformer, store_init_arguments
from ..encoders import SimConv4
from ..encoders.simconv import SHORT_INPUT_MODES
from ..losses import (
    RelationHead,
    inter_sample_relation_loss,
    intra_temporal_relation_loss,
    temporal_distance_class,
)

__all__ = ["SelfTimeTransformer"]


class SelfTimeTransformer(BaseSSLTransformer):
    """SelfTime self-supervised encoder as a scikit-learn transformer.

    A small strided CNN (:class:`~sslts.encoders.SimConv4`) is trained on two
    relation-reasoning tasks.  Every series is augmented ``n_views`` times
    (magnitude warp and time warp, each applied with probability ``aug_prob``).

    - Inter-sample relation: a head sees the concatenated features of two views and
      says whether they come from the same series (binary cross-entropy).  Every
      pair of views gives one positive pair per series and one negative pair with
      another series of the batch.
    - Intra-temporal relation: from each view an anchor piece and a reference piece
      of ``max(1, floor(piece_size * T))`` steps are cut at random starts; a head
      classifies the distance between the starts into ``n_temporal_classes`` buckets
      of width ``T / (2 n_temporal_classes)`` (the last bucket takes the rest).

    The loss is the sum of both terms (``mode="selftime"``) or one of them
    (``"inter"``, ``"intra"``: the paper's InterSample / IntraTemporal ablations).

    Parameters
    ----------
    output_dims : int, default=64
        Width of the backbone's last block, i.e. of the embedding.
    n_views : int, default=16
        Augmented copies K of every series per step.
    aug_prob : float, default=0.2
        Probability with which magnitude warping and time warping are each applied to
        a copy (about 64 % of copies stay raw, as in the official code).
    piece_size : float, default=0.2
        Piece length as a fraction of the series length.  The paper uses 0.2 for
        CricketX, 0.35 for DodgerLoopDay, 0.4 for InsectWingbeatSound.
    n_temporal_classes : int, default=3
        Number of temporal-distance classes (paper: 3 CricketX, 5 DodgerLoopDay,
        6 InsectWingbeatSound).
    mode : {"selftime", "inter", "intra"}, default="selftime"
        Which relation tasks are trained.
    short_input : {"resize", "pad"}, default="resize"
        How the backbone reads a piece or series shorter than its 16-step minimum
        (four stride-2 blocks): linearly interpolated onto 16 steps, or zero-padded at
        the end (see :func:`~sslts.encoders.simconv.stretch_to_min_length`).  Longer
        input is never changed.  With the default ``piece_size`` this concerns the
        pieces of every series shorter than 80 steps.  See Notes for the measurement
        behind the default.
    n_iters : int, default=None
        Optimiser steps.
    batch_size : int, default=128
        Series per step (each contributes ``n_views`` copies).
    lr : float, default=0.01
        Adam learning rate.
    drop_last : bool, default=False
        Skip the last partial batch of each epoch.  The official loader keeps it; a
        last batch of a single series is skipped either way (batch norm and the
        inter-sample negatives need two).
    level : {"instance", "timestamp"}, default="instance"
        What ``transform`` returns: the L2-normalised, time-averaged last feature
        map (``"instance"``, the paper's embedding), or that map before pooling,
        linearly upsampled from ``max(T, 16) // 16`` steps to the input length
        (``"timestamp"``; not normalised, and smooth at the scale of 16 steps).
    [shared parameters]

    Attributes
    ----------
    module_ : torch.nn.Module
        ``encoder`` (:class:`~sslts.encoders.SimConv4`) and the relation heads
        ``inter_head`` / ``intra_head`` (None when the mode does not use them).
    [shared attributes]

    See Also
    --------
    sslts.augment : the augmentations, usable on their own.

    Notes
    -----
    Cost: one step encodes ``n_views * batch_size`` full series and as many pairs of
    pieces, and scores ``n_views (n_views - 1) * batch_size`` inter-sample pairs
    (30,720 at the defaults).  On two CPU cores a step on 128 series of 256-300
    steps takes about 0.25 s, so the default 400 epochs take about 5 minutes on
    CricketX (390 series) and 13 minutes on InsectWingbeatSound (1,100 series);
    lower ``n_epochs`` for a quick fit.

    Differences from the official code, on purpose:

    - multivariate series: channels are the convolution's input channels (the
      official code flattens them into one long channel); time warps are shared by
      the channels of a series, magnitude warps are drawn per channel;
    - augmentations, pieces and pairs are drawn on the training device for the whole
      batch (the official code loops over samples on the CPU), and the two pieces
      are encoded in one pass (BatchNorm statistics pooled over both);
    - the intra-temporal head outputs logits to the cross-entropy; the official head
      ends with a softmax before ``CrossEntropyLoss`` (a double softmax that weakens
      the gradients);
    - the time-warp map is made monotone (running maximum) before inversion.

    Missing values (NaN) are set to 0, as in the official code; series shorter than
    the training array (NaN-padded) are therefore zero-padded.

    Any length works, down to one step.  The official code needs pieces of at least
    16 steps, i.e. series of at least 80 steps with ``piece_size=0.2``; here a piece
    or series shorter than 16 steps is brought up to 16 as ``short_input`` says, a
    piece has at least one step, its start is drawn from
    ``[0, max(T - length, 1) - 1]``, and single-step series are not warped.
    Measured on the shared UCR sets shorter than 80 steps (100 iterations, SVM
    accuracy on the official test sets, mean over seeds 0-2, "resize" / "pad"):
    Chinatown .955 / .941, SonyAIBORobotSurface1 .886 / .876,
    SonyAIBORobotSurface2 .846 / .834, ItalyPowerDemand .939 / .939,
    SyntheticControl .978 / .982; resizing is +0.7 points on average.  Lengthening
    the pieces to 16 steps instead was no better than resizing them (.955, .876,
    .841, .938 on the first four).

    References
    ----------
    .. [1] H. Fan, F. Zhang and Y. Gao, "Self-Supervised Time Series Representation
       Learning by Inter-Intra Relational Reasoning", arXiv:2011.13548, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import SelfTimeTransformer
    >>> X = np.random.default_rng(0).normal(size=(10, 64))
    >>> enc = SelfTimeTransformer(n_views=2, piece_size=0.4, n_iters=2,
    ...                           random_state=0).fit(X)
    >>> enc.transform(X).shape
    (10, 64)
    >>> enc.set_params(level="timestamp").transform(X).shape
    (10, 64, 64)
    """

    parameter_constraints: dict = {
        "output_dims": [Interval(Integral, 1, None, closed="left")],
        "n_views": [Interval(Integral, 2, None, closed="left")],
        "aug_prob": [Interval(Real, 0, 1, closed="both")],
        "piece_size": [Interval(Real, 0, 1, closed="neither")],
        "n_temporal_classes": [Interval(Integral, 2, None, closed="left")],
        "mode": [StrOptions({"selftime", "inter", "intra"})],
        "short_input": [StrOptions(set(SHORT_INPUT_MODES))],
    }
    min_batch_size = 2  # inter-sample pairs and batch norm

    def __init__(
        self, *, output_dims=64, n_views=16, aug_prob=0.2, piece_size=0.2, n_temporal_classes=3,
        mode="selftime", short_input="resize", n_epochs=None, n_iters=None, batch_size=128, lr=0.01,
        drop_last=False, level="instance", device="auto", random_state=None, verbose=0,
        warm_start=False, n_iter_no_change=None, tol=1e-4, precision="float32", compile=False,
        callbacks=None, sync_batchnorm=False, input_layout="channels_last", n_threads=None,
    ):
        store_init_arguments(self, locals())

    # -- the method -------------------------------------------------------
    def _uses(self, task: str) -> bool:
        return self.mode in ("selftime", task)

    def build_module(self, n_channels):
        net = torch.nn.Module()
        net.encoder = SimConv4(n_channels, self.output_dims, short_input=self.short_input)
        net.inter_head = RelationHead(self.output_dims, 1) if self._uses("inter") else None
        net.intra_head = (
            RelationHead(self.output_dims, self.n_temporal_classes)
            if self._uses("intra")
            else None
        )
        return net

    def configure_optimizer(self, params):
        return torch.optim.Adam(params, lr=self.lr)

    def default_budget(self, X):
        return 400, None

    def prepare_training_data(self, X):
        if len(X) < 2 and self._uses("inter"):
            raise ValueError(
                "SelfTimeTransformer needs at least 2 training series (the inter-sample "
                "task pairs different series); use mode='intra' for a single series."
            )
        return np.nan_to_num(X, nan=0.0)  # the official loader's NaN handling

    def _piece_length(self, n_timestamps: int) -> int:
        # At least one step, so that any series length gives pieces.
        return max(1, int(self.piece_size * n_timestamps))

    def _augmented_copies(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B, T, C) -> (n_views * B, T, C), view-major, each copy randomly warped."""
        views = x.repeat(self.n_views, 1, 1)
        if x.shape[1] < 2:  # the warps' splines need two distinct time steps
            return views
        views = apply_with_probability(magnitude_warp, views, self.aug_prob, generator=generator)
        return apply_with_probability(time_warp, views, self.aug_prob, generator=generator)

    def _pieces(self, views: torch.Tensor, generator: torch.Generator):
        """Anchor and reference pieces of every view.

        Returns ``pieces`` of shape (2N, length, C) (anchors, then references) and
        their ``starts``, a LongTensor of shape (2, N).
        """
        N, T = views.shape[:2]
        length = self._piece_length(T)
        # Starts uniform in [0, T - length - 1], as the official cut_piece draws them
        # (only 0 when a piece is the whole series, T = 1).
        high = max(T - length, 1)
        starts = torch.randint(high, (2, N), generator=generator, device=views.device)
        windows = views.unfold(1, length, 1)  # (N, T - length + 1, C, length), a view
        rows = torch.arange(N, device=views.device)
        return torch.cat([windows[rows, s].transpose(1, 2) for s in starts]), starts

    def _intra_loss(self, module, views: torch.Tensor, generator: torch.Generator):
        T = views.shape[1]
        pieces, starts = self._pieces(views, generator)
        anchor, reference = module.encoder(pieces).chunk(2)
        labels = temporal_distance_class(starts[0], starts[1], T, self.n_temporal_classes)
        return intra_temporal_relation_loss(module.intra_head, anchor, reference, labels)

    def training_step(self, module, batch, ctx):
        views = self._augmented_copies(batch, ctx.rng.torch)
        loss = batch.new_zeros(())
        if self._uses("inter"):
            loss = loss + inter_sample_relation_loss(
                module.inter_head, module.encoder(views), self.n_views
            )
        if self._uses("intra"):
            loss = loss + self._intra_loss(module, views, ctx.rng.torch)
        return loss

    def embed(self, module, batch, level):
        if level == "instance":
            return module.encoder(batch)
        fmap = module.encoder.feature_map(batch)  # (B, D, max(T, 16) // 16)
        up = F.interpolate(fmap, size=batch.shape[1], mode="linear", align_corners=False)
        return up.transpose(1, 2)

