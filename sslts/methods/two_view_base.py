"""The shared "two views -> encoder -> projector -> objective" implementation.

Each batch gives two views (:func:`sslts.augment.make_views`); both go through the
same backbone (:func:`sslts.encoders.backbones.make_backbone`), are pooled to one
vector per series and mapped by a projector to the space where the objective
compares them.  The embeddings ``transform`` returns are the backbone's, before the
projector.  The estimators (:mod:`sslts.methods.two_view`) only choose the
objective and their defaults.
"""

from __future__ import annotations

import contextlib
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ..augment import VIEWS, make_views, min_view_length
from ..encoders.backbones import BACKBONES, backbone_keeps_time, make_backbone, pool_observed
from ..encoders.iternorm import IterNorm
from ..schedules import SchedulerConfig, cosine_scheduler

__all__ = ["TwoViewMethod", "TwoViewNetwork", "make_projector"]


class TwoViewNetwork(nn.Module):
    """A backbone and a projector trained together.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps (B, T, C) to (B, T, D) or (B, D).
    projector : torch.nn.Module
        Maps (B, D) to the objective's space.
    output_dims : int
        ``D``, the size of the embeddings.
    keeps_time : bool
        Whether the encoder returns one vector per input timestamp.

    Examples
    --------
    >>> from sslts.encoders import LSTMEncoder
    >>> net = TwoViewNetwork(LSTMEncoder(1, 8, 8), make_projector(8, 16), 8, True)
    >>> x = torch.randn(2, 30, 1)
    >>> net(x, "encoder").shape, net(x, "pooled").shape, net(x).shape
    (torch.Size([2, 30, 8]), torch.Size([2, 8]), torch.Size([2, 16]))
    """

    def __init__(self, encoder: nn.Module, projector: nn.Module, output_dims: int, keeps_time):
        super().__init__()
        self.encoder, self.projector = encoder, projector
        self.output_dims, self.keeps_time = output_dims, keeps_time

    def forward(self, x: torch.Tensor, output: str = "projection", pooling: str = "mean"):
        """Encode a batch, pooled and projected as far as ``output`` says.

        One forward for every use, so that ``torch.compile`` of the network covers
        training and inference alike.

        Parameters
        ----------
        x : Tensor of shape (B, T, C)
            Series; NaN marks missing values.
        output : {"encoder", "pooled", "projection"}, default="projection"
            The raw encoder output ((B, T', D) or (B, D)), one vector per series
            (B, D), or its projection (B, P).
        pooling : {"mean", "max"}, default="mean"
            See :func:`~sslts.encoders.backbones.pool_observed`.

        Returns
        -------
        Tensor
        """
        h = self.encoder(x)
        if output == "encoder":
            return h
        pooled = pool_observed(h, ~torch.isnan(x).any(dim=-1), pooling)
        return pooled if output == "pooled" else self.projector(pooled)


def make_projector(in_dims: int, dims: int | None, iternorm_groups: int | None = None):
    """The projector of Barlow Twins and VIbCReg, optionally ending with IterNorm.

    ``Linear(in, P) - BN - ReLU - Linear(P, P) - BN - ReLU - Linear(P, P)`` with
    ``P = dims``, then ``IterNorm(P, iternorm_groups)`` if given.

    Parameters
    ----------
    in_dims : int
        Size of the pooled backbone output.
    dims : int or None
        Width ``P``; None means no projector (only IterNorm, if given, is applied).
    iternorm_groups : int, default=None
        ``num_groups`` of the final :class:`~sslts.encoders.IterNorm`; None for none.

    Returns
    -------
    torch.nn.Module
        Maps (B, in_dims) to (B, dims) (or (B, in_dims) without projector).

    Examples
    --------
    >>> import torch
    >>> make_projector(8, 16, iternorm_groups=4)(torch.randn(5, 8)).shape
    torch.Size([5, 16])
    """
    layers: list[nn.Module] = []
    if dims is not None:
        for width_in in (in_dims, dims):
            layers += [nn.Linear(width_in, dims), nn.BatchNorm1d(dims), nn.ReLU()]
        layers.append(nn.Linear(dims, dims))
    if iternorm_groups is not None:
        layers.append(IterNorm(in_dims if dims is None else dims, iternorm_groups))
    return nn.Sequential(*layers) if layers else nn.Identity()


def _probe(encoder: nn.Module, n_channels: int, length: int) -> tuple[int, bool]:
    """``(D, keeps_time)`` of ``encoder`` from one forward pass on zeros (eval mode)."""
    training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            out = encoder(torch.zeros(1, length, n_channels))
    except RuntimeError as exc:  # e.g. a convolution expecting (batch, channels, time)
        raise ValueError(
            f"encoder failed on a batch of shape (1, {length}, {n_channels}) = (batch, time, "
            f"channels): {exc}"
        ) from exc
    encoder.train(training)
    if not isinstance(out, torch.Tensor) or out.ndim not in (2, 3) or out.shape[0] != 1:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            "encoder must map a (batch, time, channels) tensor to (batch, time', dims) or "
            f"(batch, dims); for input (1, {length}, {n_channels}) it returned {shape}."
        )
    return out.shape[-1], out.ndim == 3 and out.shape[1] == length


def _windows(x: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Half-overlapping windows covering every step: ((B * W, length, C), starts (W,))."""
    T = x.shape[1]
    starts = list(range(0, T - length + 1, max(1, length // 2)))
    if starts[-1] != T - length:
        starts.append(T - length)
    starts = torch.tensor(starts, device=x.device)
    idx = starts[:, None] + torch.arange(length, device=x.device)  # (W, length)
    return x[:, idx].flatten(0, 1), starts


@contextlib.contextmanager
def _running_whitening(module: nn.Module, enabled: bool):
    """Put every IterNorm of ``module`` in eval mode inside the block when ``enabled``."""
    layers = [m for m in module.modules() if isinstance(m, IterNorm) and m.training]
    if enabled:
        for m in layers:
            m.eval()
    try:
        yield
    finally:
        if enabled:
            for m in layers:
                m.train()


class TwoViewMethod:
    """Mixin with the shared implementation; the estimators add their objective.

    A subclass of both this class and :class:`~sslts.base.BaseSSLTransformer` defines
    ``_objective(z1, z2) -> loss``, its ``__init__`` and, optionally,
    ``_iternorm_groups()`` (IterNorm at the end of the projector) and
    ``_default_epochs``.  The parameters it reads are documented once, in
    ``_parameter_docs``, and appear in each estimator's docstring.

    Examples
    --------
    >>> from sslts.methods.two_view import VIbCRegTransformer
    >>> issubclass(VIbCRegTransformer, TwoViewMethod)
    True
    >>> VIbCRegTransformer().valid_levels  # its default encoder pools the time axis
    ('instance',)
    """

    parameter_constraints: dict = {
        "encoder": [StrOptions(set(BACKBONES)), callable],
        "encoder_params": [dict, None],
        "projector_dims": [Interval(Integral, 1, None, closed="left"), None],
        "views": [StrOptions(set(VIEWS)), callable],
        "window_length": [Interval(Integral, 1, None, closed="left")],
        "max_shift": [Interval(Integral, 0, None, closed="left"), None],
        "crop_ratio": [Interval(Real, 0, 1, closed="right")],
        "pooling": [StrOptions({"mean", "max"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
    }
    memory_params = ("batch_size", "projector_dims")
    min_batch_size = 2  # batch statistics (BatchNorm, the objectives' batch terms)
    _default_epochs = 50  # epochs of the default budget (also at least 200 steps)
    # Documented once here, inserted into each estimator's docstring.
    _parameter_docs = {
        "encoder_params": ("dict", """\
Keyword arguments of the named encoder's class (e.g. ``{"hidden_dims": 64}``
for "lstm", ``{"base_width": 32}`` for "resnet", ``{"depth": 4}`` for
"dilated_conv"); not allowed with a factory."""),
        "window_length": ("int", """\
``views="neighbour"`` only: window length (the tutorial's 30), capped at half
the training length so that the two windows differ.  Series longer than the
window are embedded as the mean over half-overlapping windows."""),
        "max_shift": ("int", """\
``views="neighbour"`` only: largest distance between the two windows' starts;
None means ``window_length // 2`` (the windows then always overlap)."""),
        "crop_ratio": ("float", """\
``views="vibcreg"`` only: crop length as a fraction of the series length."""),
        "pooling": ('{"mean", "max"}', """\
How an encoder that keeps the time axis is pooled to one vector per series
(for the objective and for ``level="instance"``), over observed timestamps."""),
        "n_iters": ("int", """\
Optimiser steps.  If neither is set: the epochs stated in the class's
``Notes``, and at least 200 steps (UCR training sets are small)."""),
        "lr": ("float", "AdamW learning rate (the peak of the cosine schedule)."),
        "level": ('{"instance", "timestamp"}', """\
What ``transform`` returns: the pooled encoder output, shape
``(n_series, n_features)``, or one vector per timestamp, shape
``(n_series, n_timestamps, n_features)``; the latter needs an encoder that
keeps the time axis ("lstm", "dilated_conv" or such a factory) and fails with
a ValueError otherwise."""),
    }
    _attribute_docs = {
        "module_": ("TwoViewNetwork", """\
``encoder`` (the backbone) and ``projector``; ``module_.output_dims`` is the
embedding size."""),
    }

    # ------------------------------------------------------------ objective
    def _objective(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _iternorm_groups(self) -> int | None:
        return None

    # --------------------------------------------------------- the network
    @property
    def valid_levels(self) -> tuple[str, ...]:
        module = getattr(self, "module_", None)
        keeps = backbone_keeps_time(self.encoder) if module is None else module.keeps_time
        return ("instance",) if keeps is False else ("instance", "timestamp")

    def _check_level(self, level=None):
        level = self.level if level is None else level
        if level == "timestamp" and "timestamp" not in self.valid_levels:
            raise ValueError(
                f"level='timestamp' needs an encoder that keeps the time axis, and "
                f"encoder={self.encoder!r} pools it into one vector per series. Use "
                "level='instance', or encoder='lstm' or 'dilated_conv'."
            )
        super()._check_level(level)

    def build_module(self, n_channels):
        encoder = make_backbone(self.encoder, n_channels, self.encoder_params)
        dims, keeps_time = _probe(encoder, n_channels, self.n_features_in_)
        if self.level == "timestamp" and not keeps_time:
            raise ValueError(
                f"level='timestamp' needs an encoder that keeps the time axis; this one "
                f"maps {self.n_features_in_} steps to something else. Use level='instance'."
            )
        projector = make_projector(dims, self.projector_dims, self._iternorm_groups())
        return TwoViewNetwork(encoder, projector, dims, keeps_time)

    def embedding_dims(self, level):
        return self.module_.output_dims

    def min_length(self, training):
        return min_view_length(self.views) if training else 1

    def min_length_source(self, training):
        any_length = ", ".join(repr(v) for v in VIEWS if min_view_length(v) == 1)
        return f"views={self.views!r} (the views {any_length} take any length)"

    def prepare_training_data(self, X):
        if len(X) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 training series: its objective "
                f"uses statistics over the batch. Got n_samples={len(X)} (1 sample)."
            )
        return X

    # ------------------------------------------------------------ training
    def default_budget(self, X):
        steps = max(1, len(X) // min(self.batch_size, len(X)))
        return None, max(200, self._default_epochs * steps)

    def training_step(self, module, batch, ctx):
        v1, v2 = make_views(
            batch, self.views, generator=ctx.rng.torch, window_length=self._window_length(),
            max_shift=self.max_shift, crop_ratio=self.crop_ratio,
        )
        # A validation loss must not move IterNorm's running statistics (the loop
        # freezes batch norm the same way): whiten with them instead.
        with _running_whitening(module, enabled=not ctx.training):
            return self._objective(module(v1, "projection", self.pooling),
                                   module(v2, "projection", self.pooling))

    def configure_scheduler(self, optimizer, ctx):
        """Per-step cosine decay from ``lr`` to 0 over this fit's budget (as VIbCReg).

        A resumed fit continues the curve; a warm start begins a new one.
        """
        if self.lr_schedule == "constant":
            return None
        return SchedulerConfig(cosine_scheduler(optimizer, ctx.planned_steps), "step")

    # ----------------------------------------------------------- inference
    def _window_length(self) -> int:
        """``window_length``, at most half the training length.

        On series no longer than one window both "neighbour" views would be the
        whole series; halving keeps two distinct windows of every training series.
        """
        return min(self.window_length, max(1, self.n_features_in_ // 2))

    def embed(self, module, batch, level):
        if self.views == "neighbour" and batch.shape[1] > self._window_length():
            return self._embed_windows(module, batch, level)
        if level == "timestamp":
            return module(batch, "encoder")
        return module(batch, "pooled", self.pooling)

    def _embed_windows(self, module, batch, level):
        """Average over half-overlapping windows of the training window length.

        The encoder was trained on windows, so a long series is embedded as the
        mean of its windows' embeddings (windows with no observed value left out);
        at the timestamp level each step gets the mean of its vectors in the
        windows that contain it.
        """
        B, T, _ = batch.shape
        L = self._window_length()
        windows, starts = _windows(batch, L)  # (B * W, L, C)
        if level == "instance":
            pooled = module(windows, "pooled", self.pooling).unflatten(0, (B, len(starts)))
            seen = (~torch.isnan(windows).all(dim=-1)).any(dim=1).view(B, -1, 1)
            seen = seen | ~seen.any(dim=1, keepdim=True)  # an all-missing series: all count
            return (pooled * seen).sum(dim=1) / seen.sum(dim=1)
        out = module(windows, "encoder").unflatten(0, (B, len(starts)))  # (B, W, L, D)
        idx = (starts[:, None] + torch.arange(L, device=batch.device)).flatten()
        total = out.new_zeros(B, T, out.shape[-1]).index_add_(1, idx, out.flatten(1, 2))
        count = torch.bincount(idx, minlength=T).to(out.dtype)
        return total / count[None, :, None]
