"""The shared "two views -> encoder -> projector -> objective" implementation.

Each batch gives two views (:func:`sslts.views.make_views`); both go through the
same backbone (:func:`sslts.encoders.backbones.make_backbone`), are pooled to one
vector per series and mapped by a projector to the space where the objective
compares them.  The embeddings ``transform`` returns are the backbone's, before the
projector.  The estimators (:mod:`sslts.methods.two_view`) only choose the
objective and their defaults.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ..base import BaseSSLTransformer
from ..encoders.backbones import BACKBONES, backbone_keeps_time, make_backbone, pool_timestamps
from ..encoders.iternorm import IterNorm
from ..views import VIEWS, make_views, min_view_length

__all__ = [
    "SHARED_PARAMETERS_DOC",
    "TwoViewMethod",
    "TwoViewNetwork",
    "make_projector",
    "store_init_arguments",
    "with_shared_docs",
]


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
            See :func:`~sslts.encoders.backbones.pool_timestamps`.

        Returns
        -------
        Tensor
        """
        h = self.encoder(x)
        if output == "encoder":
            return h
        pooled = pool_timestamps(h, ~torch.isnan(x).any(dim=-1), pooling)
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
    ``_default_epochs``.  See :data:`SHARED_PARAMETERS_DOC` for the parameters it
    reads.

    Examples
    --------
    >>> from sslts.methods.two_view import VIbCRegTransformer
    >>> issubclass(VIbCRegTransformer, TwoViewMethod)
    True
    >>> VIbCRegTransformer()._valid_levels  # its default encoder pools the time axis
    ('instance',)
    """

    _parameter_constraints: dict = {
        **BaseSSLTransformer._parameter_constraints,
        "batch_size": [Interval(Integral, 2, None, closed="left")],
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
    _memory_params = ("batch_size", "projector_dims")
    _default_epochs = 50  # epochs of the default budget (also at least 200 steps)

    # ------------------------------------------------------------ objective
    def _objective(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _iternorm_groups(self) -> int | None:
        return None

    # --------------------------------------------------------- the network
    @property
    def _valid_levels(self) -> tuple[str, ...]:
        module = getattr(self, "module_", None)
        keeps = backbone_keeps_time(self.encoder) if module is None else module.keeps_time
        return ("instance",) if keeps is False else ("instance", "timestamp")

    def _check_level(self, level=None):
        level = self.level if level is None else level
        if level == "timestamp" and "timestamp" not in self._valid_levels:
            raise ValueError(
                f"level='timestamp' needs an encoder that keeps the time axis, and "
                f"encoder={self.encoder!r} pools it into one vector per series. Use "
                "level='instance', or encoder='lstm' or 'dilated_conv'."
            )
        super()._check_level(level)

    def _build_module(self, n_channels):
        encoder = make_backbone(self.encoder, n_channels, self.encoder_params)
        dims, keeps_time = _probe(encoder, n_channels, self.n_features_in_)
        if self.level == "timestamp" and not keeps_time:
            raise ValueError(
                f"level='timestamp' needs an encoder that keeps the time axis; this one "
                f"maps {self.n_features_in_} steps to something else. Use level='instance'."
            )
        projector = make_projector(dims, self.projector_dims, self._iternorm_groups())
        return TwoViewNetwork(encoder, projector, dims, keeps_time)

    def _n_features_out_for(self, level):
        return self.module_.output_dims

    def _min_length(self, training):
        return min_view_length(self.views) if training else 1

    def _min_length_source(self, training):
        any_length = ", ".join(repr(v) for v in VIEWS if min_view_length(v) == 1)
        return f"views={self.views!r} (the views {any_length} take any length)"

    def _prepare_training_data(self, X):
        if len(X) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 training series: its objective "
                f"uses statistics over the batch. Got n_samples={len(X)} (1 sample)."
            )
        return X

    # ------------------------------------------------------------ training
    def _default_budget(self, X):
        steps = max(1, len(X) // min(self.batch_size, len(X)))
        return None, max(200, self._default_epochs * steps)

    def _make_optimizer(self, params):
        return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)

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

    def on_fit_start(self, ctx):
        self._follow_schedule(ctx)

    def on_step_end(self, ctx):
        self._follow_schedule(ctx)

    def _follow_schedule(self, ctx) -> None:
        """Per-step cosine decay from ``lr`` to 0 over this fit's budget (as VIbCReg).

        The rate is a function of the steps taken in this fit, so a resumed fit
        continues the curve; a warm start begins a new one.
        """
        if self.lr_schedule == "constant":
            return
        limits = [ctx.n_iters, None if ctx.n_epochs is None else ctx.n_epochs * ctx.steps_per_epoch]
        total = max(1, min(n for n in limits if n is not None))
        factor = 0.5 * (1 + math.cos(math.pi * min(ctx.iters_done, total) / total))
        for group in ctx.optimizer.param_groups:
            group["lr"] = self.lr * factor

    # ----------------------------------------------------------- inference
    def _window_length(self) -> int:
        """``window_length``, at most half the training length.

        On series no longer than one window both "neighbour" views would be the
        whole series; halving keeps two distinct windows of every training series.
        """
        return min(self.window_length, max(1, self.n_features_in_ // 2))

    def _embed(self, module, batch, level):
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


#: Parameters that every two-view estimator documents the same way.
SHARED_PARAMETERS_DOC = """\
    encoder_params : dict, default=None
        Keyword arguments of the named encoder's class (e.g. ``{"hidden_dims": 64}``
        for "lstm", ``{"base_width": 32}`` for "resnet", ``{"depth": 4}`` for
        "dilated_conv"); not allowed with a factory.
    window_length : int, default=30
        ``views="neighbour"`` only: window length (the tutorial's 30), capped at half
        the training length so that the two windows differ.  Series longer than the
        window are embedded as the mean over half-overlapping windows.
    max_shift : int, default=None
        ``views="neighbour"`` only: largest distance between the two windows' starts;
        None means ``window_length // 2`` (the windows then always overlap).
    crop_ratio : float, default=0.5
        ``views="vibcreg"`` only: crop length as a fraction of the series length.
    pooling : {"mean", "max"}, default="mean"
        How an encoder that keeps the time axis is pooled to one vector per series
        (for the objective and for ``level="instance"``), over observed timestamps.
    n_epochs : int, default=None
        Passes over the data.
    n_iters : int, default=None
        Optimiser steps.  If neither is set: the epochs stated in the class's
        ``Notes``, and at least 200 steps (UCR training sets are small).
    lr : float, default=1e-3
        AdamW learning rate (the peak of the cosine schedule).
    drop_last : bool, default=True
        Skip the last partial batch of each epoch.
    level : {"instance", "timestamp"}, default="instance"
        What ``transform`` returns: the pooled encoder output, shape
        ``(n_series, n_features)``, or one vector per timestamp, shape
        ``(n_series, n_timestamps, n_features)``; the latter needs an encoder that
        keeps the time axis ("lstm", "dilated_conv" or such a factory) and fails with
        a ValueError otherwise.
    device : str, default="auto"
        "auto", "cpu", "cuda" or "cuda:N".
    random_state : int, RandomState instance or None, default=None
        Seed for initialisation, shuffling, views and dropout.
    verbose : int, default=0
        0 silent, 1 a line per epoch, 2 a progress bar.
    warm_start : bool, default=False
        Continue training from the current state on the next ``fit``.
    n_iter_no_change : int, default=None
        Early stopping patience in epochs (None disables it).
    tol : float, default=1e-4
        Minimum loss improvement for early stopping.
    precision : {"float32", "tf32", "bf16"}, default="float32"
        Arithmetic of the network in ``fit`` and ``transform``; the losses and
        IterNorm always compute in float32.
    compile : bool, default=False
        Compile the network with ``torch.compile``.
    callbacks : list of Callback, default=None
        Run at named moments of ``fit`` (:mod:`sslts.callbacks`).  With
        ``lr_schedule="cosine"`` the rate is set after every step, so pass
        ``lr_schedule="constant"`` when a callback schedules it.
    sync_batchnorm : bool, default=False
        Synchronise batch norm over the ranks of a CUDA process group.
    input_layout : {"channels_last", "channels_first"}, default="channels_last"
        Whether 3-D input is ``(n_series, n_timestamps, n_channels)`` or
        ``(n_series, n_channels, n_timestamps)``.
    n_threads : int, default=None
        torch's CPU threads during ``fit``, ``transform`` and ``encode`` (restored
        afterwards); None leaves torch's setting alone.  ``n_threads=1`` avoids the
        10-30x slowdown of spinning OpenMP threads on a busy machine (see
        :class:`~sslts.base.BaseSSLTransformer`).

    Attributes
    ----------
    module_ : TwoViewNetwork
        ``encoder`` (the backbone) and ``projector``; ``module_.output_dims`` is the
        embedding size.
    device_ : torch.device
        Device used.
    n_channels_ : int
        Channels seen in ``fit``.
    n_features_in_ : int
        Time steps of the training array.
    loss_history_ : list of float
        Mean loss per epoch.
    n_iter_ : int
        Optimiser steps taken.
    n_epochs_ : int
        Epochs run.
    fit_time_ : float
        Seconds spent in the last ``fit``.
    callbacks_ : list of Callback
        The callbacks of the last ``fit``."""


def with_shared_docs(cls):
    """Class decorator: put :data:`SHARED_PARAMETERS_DOC` where the docstring says so.

    The docstring line ``    [shared parameters]`` is replaced, so that the three
    estimators document their common parameters identically without copies.

    Parameters
    ----------
    cls : type
        A class whose docstring has the marker line.

    Returns
    -------
    type
        ``cls``, its docstring completed.

    Examples
    --------
    >>> Demo = type("Demo", (), {"__doc__": "Demo.\\n    [shared parameters]\\n"})
    >>> "encoder_params : dict, default=None" in with_shared_docs(Demo).__doc__
    True
    """
    marker = "    [shared parameters]\n"
    if marker not in (cls.__doc__ or ""):
        raise ValueError(f"{cls.__name__}'s docstring has no '[shared parameters]' line.")
    cls.__doc__ = cls.__doc__.replace(marker, SHARED_PARAMETERS_DOC + "\n")
    return cls


def store_init_arguments(estimator, arguments: dict) -> None:
    """Store every ``__init__`` argument unchanged under its own name (scikit-learn's rule).

    Parameters
    ----------
    estimator : object
        The instance being initialised.
    arguments : dict
        ``locals()`` of its ``__init__``.

    Examples
    --------
    >>> class Demo:
    ...     def __init__(self, *, a=1, b="x"):
    ...         store_init_arguments(self, locals())
    >>> vars(Demo(b="y"))
    {'a': 1, 'b': 'y'}
    """
    for name in inspect.signature(type(estimator).__init__).parameters:
        if name != "self":
            setattr(estimator, name, arguments[name])
