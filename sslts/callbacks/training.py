"""Callbacks that steer training: early stopping, accumulation, clipping, schedules, checkpoints."""

from __future__ import annotations

import math
import os
from numbers import Integral, Real
from pathlib import Path

import torch

from .. import distributed
from .._persistence import (
    atomic_save,
    data_fingerprint,
    estimator_payload,
    from_plain,
    plain_params,
    read_payload,
    same_plain,
    to_plain,
)
from ..schedules import SchedulerConfig
from ..utils.validation import Interval, Options, StrOptions
from .base import Callback

__all__ = [
    "Checkpoint",
    "EarlyStopping",
    "GradientAccumulation",
    "GradientClipping",
    "LearningRateScheduler",
]


class EarlyStopping(Callback):
    """Stop when the monitored loss has not improved for ``patience`` epochs.

    Parameters
    ----------
    patience : int, default=5
        Epochs without an improvement of at least ``tol`` before stopping.
    tol : float, default=1e-4
        Smallest decrease that counts as an improvement.
    validation_fraction : float, default=None
        When set, this fraction of the training series (at least 2) is held out and
        the SSL loss on it is monitored: the loss on unseen series.  None monitors
        the training loss.

    Attributes
    ----------
    best_ : float
        Best monitored value.
    best_epoch_ : int
        Epoch (1-based, counted over all fits) where it was reached.
    stopped_epoch_ : int or None
        Epoch after which the fit stopped, None if it ran its whole budget.
    history_ : list of float
        The monitored value of each epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TS2VecTransformer
    >>> from sslts.callbacks import EarlyStopping
    >>> X = np.random.default_rng(0).normal(size=(20, 20))
    >>> stop = EarlyStopping(patience=1, tol=1e9, validation_fraction=0.2)
    >>> enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_epochs=10,
    ...                         batch_size=4, callbacks=[stop]).fit(X)
    >>> enc.n_epochs_, len(enc.callbacks_[0].history_)
    (2, 2)
    """

    parameter_constraints = {
        "patience": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    }

    def __init__(self, patience=5, tol=1e-4, validation_fraction=None):
        self.patience = patience
        self.tol = tol
        self.validation_fraction = validation_fraction

    @property
    def monitor(self) -> str:
        return "loss" if self.validation_fraction is None else "val_loss"

    def on_fit_start(self, estimator, ctx):
        if self.validation_fraction is not None:
            ctx.hold_out(self.validation_fraction)
        self.stopped_epoch_ = None
        if not hasattr(self, "best_"):  # else restored from a checkpoint
            self.best_, self.best_epoch_, self.stale_, self.history_ = math.inf, 0, 0, []

    def on_epoch_end(self, estimator, ctx):
        value = ctx.logs[self.monitor]
        self.history_.append(value)
        if value < self.best_ - self.tol:
            self.best_, self.best_epoch_, self.stale_ = value, ctx.logs["epoch"], 0
            return
        self.stale_ += 1
        if self.stale_ >= self.patience:
            ctx.stop = True
            self.stopped_epoch_ = ctx.logs["epoch"]

    def state_dict(self):
        return {
            "best": self.best_, "best_epoch": self.best_epoch_, "stale": self.stale_,
            "history": list(self.history_),
        }

    def load_state_dict(self, state):
        self.best_, self.best_epoch_ = state["best"], state["best_epoch"]
        self.stale_, self.history_ = state["stale"], list(state["history"])


class GradientAccumulation(Callback):
    """Compute each optimiser step's gradient in micro-batches, for memory.

    Every batch of ``batch_size`` series is split into micro-batches of at most
    ``micro_batch_size`` series; each one's loss, weighted by its share of the batch,
    is back-propagated at once (freeing its graph), and the optimiser steps once on
    the summed gradient.  Peak memory is that of a micro-batch; ``n_iter_``, the
    schedule and the epoch losses still count whole batches.

    The gradient equals the whole batch's exactly when the method's loss is a mean
    of per-series terms (TimeDRL's, NC-VQVAE's reconstruction).  Where series of a
    batch interact -- contrastive negatives (TS2Vec's instance term, InfoNCE), batch
    statistics (Barlow Twins, VIbCReg, batch norm), SelfTime's inter-sample pairs --
    each micro-batch is such a batch on its own, as with PyTorch Lightning's
    ``accumulate_grad_batches``; TS2Vec and IARS draw one crop per micro-batch.  For
    long TS2Vec/IARS crops, whose memory is in the per-series temporal loss,
    ``loss_chunk_size`` bounds memory without changing the loss.

    Parameters
    ----------
    micro_batch_size : int
        Series per forward/backward pass (at least 2 where series interact).

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TimeDRLTransformer
    >>> from sslts.callbacks import GradientAccumulation
    >>> X = np.random.default_rng(0).normal(size=(16, 24, 2))
    >>> enc = TimeDRLTransformer(patch_len=4, stride=4, n_epochs=1, batch_size=16,
    ...                          min_epoch_steps=1,
    ...                          callbacks=[GradientAccumulation(4)]).fit(X)
    >>> enc.n_iter_  # one optimiser step, four micro-batches of 4 series
    1
    """

    parameter_constraints = {"micro_batch_size": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, micro_batch_size):
        self.micro_batch_size = micro_batch_size

    def on_fit_start(self, estimator, ctx):
        least = estimator.min_batch_size
        if self.micro_batch_size < least:
            raise ValueError(
                f"micro_batch_size={self.micro_batch_size} is too small for "
                f"{type(estimator).__name__}, whose steps compute statistics over the batch "
                f"(batch norm, pairs of series): use micro_batch_size >= {least}."
            )
        ctx.micro_batch_size = int(self.micro_batch_size)


class LearningRateScheduler(Callback):
    """Drive the optimiser's learning rate with any ``torch.optim.lr_scheduler``.

    The scheduler is built on the fit's optimiser when ``fit`` starts and becomes the
    fit's one schedule (:mod:`sslts.schedules`): the loop steps it, checkpoints save
    it, and a resumed fit continues it.  A method that follows a published schedule
    of its own (TimeDRL's ``lr_schedule="type1"``, the cosine decay of the two-view
    methods and NC-VQVAE) refuses a second one with a clear error: set its
    ``lr_schedule="constant"`` to schedule the rate here instead.

    Parameters
    ----------
    scheduler : callable
        ``scheduler(optimizer, **kwargs)`` returning a scheduler, e.g.
        ``torch.optim.lr_scheduler.StepLR`` or a ``functools.partial``.
    step_every : {"epoch", "step"}, default="epoch"
        When to call ``scheduler.step()``.  ``ReduceLROnPlateau`` is stepped with the
        epoch's ``monitor`` value (per epoch only).
    monitor : {"loss", "val_loss"}, default="loss"
        Value passed to schedulers that take a metric.
    **kwargs
        Passed to ``scheduler``.

    Attributes
    ----------
    scheduler_ : torch.optim.lr_scheduler.LRScheduler
        The scheduler of the last fit.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sslts import TS2VecTransformer
    >>> from sslts.callbacks import History, LearningRateScheduler
    >>> X = np.random.default_rng(0).normal(size=(8, 20))
    >>> sched = LearningRateScheduler(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    >>> enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_epochs=3,
    ...                         batch_size=4, lr=1e-3, callbacks=[sched, History()]).fit(X)
    >>> [row["lr"] for row in enc.callbacks_[1].history_]
    [0.001, 0.0005, 0.00025]
    """

    parameter_constraints = {
        "scheduler": [callable],
        "step_every": [StrOptions({"epoch", "step"})],
        "monitor": [StrOptions({"loss", "val_loss"})],
    }

    def __init__(self, scheduler, step_every="epoch", monitor="loss", **kwargs):
        self.scheduler = scheduler
        self.step_every = step_every
        self.monitor = monitor
        self.kwargs = kwargs

    def on_fit_start(self, estimator, ctx):
        if ctx.scheduler is not None:
            raise ValueError("Pass at most one LearningRateScheduler: a fit has one schedule.")
        self.scheduler_ = self.scheduler(ctx.optimizer, **self.kwargs)
        ctx.scheduler = SchedulerConfig(self.scheduler_, self.step_every, self.monitor)


class GradientClipping(Callback):
    """Clip the norm of the gradient before every optimiser step.

    Calls :func:`torch.nn.utils.clip_grad_norm_` on every parameter the optimiser
    updates, once the step's gradient is complete (after all micro-batches of a
    :class:`GradientAccumulation` and the averaging over data-parallel ranks).

    Parameters
    ----------
    max_norm : float
        Largest norm the gradient keeps; a longer one is scaled down to it.
    norm_type : float, default=2.0
        The p of the p-norm (``float("inf")`` for the largest absolute value).

    Attributes
    ----------
    last_norm_ : torch.Tensor
        The norm of the last step's gradient before clipping (a 0-d tensor on the
        training device; reading it syncs the device).

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TS2VecTransformer
    >>> from sslts.callbacks import GradientClipping
    >>> X = np.random.default_rng(0).normal(size=(8, 20))
    >>> enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_iters=2,
    ...                         batch_size=4, callbacks=[GradientClipping(1.0)]).fit(X)
    >>> float(enc.callbacks_[0].last_norm_) > 0
    True
    """

    parameter_constraints = {
        "max_norm": [Interval(Real, 0, None, closed="neither")],
        "norm_type": [Interval(Real, 0, None, closed="neither"), Options(float, {math.inf})],
    }

    def __init__(self, max_norm, norm_type=2.0):
        self.max_norm = max_norm
        self.norm_type = norm_type

    def on_before_optimizer_step(self, estimator, ctx):
        params = [p for group in ctx.optimizer.param_groups for p in group["params"]]
        self.last_norm_ = torch.nn.utils.clip_grad_norm_(
            params, float(self.max_norm), norm_type=float(self.norm_type)
        ).detach()


class Checkpoint(Callback):
    """Save the training state every few epochs and resume an interrupted ``fit``.

    Pass it in ``callbacks`` (``TS2VecTransformer(callbacks=[Checkpoint("ckpt/")])``)
    or to ``fit`` (``est.fit(X, checkpoint="ckpt/")``, or
    ``pipe.fit(X, y, enc__checkpoint=...)`` in a Pipeline).  Every ``every`` epochs
    and at the end of training, the estimator and the loop's state (optimiser,
    schedules, random generators, counters, callbacks, method state: see
    :meth:`~sslts.TrainContext.state_dict`) are written to
    ``directory/checkpoint.pt``, atomically, so a crash never leaves a broken file.
    A later ``fit`` with the same checkpoint, parameters and data continues from
    there and runs only the remaining budget; it ends with the same weights as a fit
    that was never interrupted.

    Parameters
    ----------
    directory : str or path-like
        Folder for the checkpoint file; created if missing.
    every : int, default=1
        Epochs between two checkpoints.
    resume : bool, default=True
        Continue from an existing checkpoint in ``directory``.  False starts afresh
        and overwrites it.

    Attributes
    ----------
    path : pathlib.Path
        The checkpoint file.

    Notes
    -----
    Checkpoints are written at epoch ends only: after a Ctrl-C the epoch in
    progress is redone on resume.  A finished fit leaves its final checkpoint, so
    fitting again with ``resume=True`` just loads the trained model; use a new
    directory (or ``resume=False``) to train anew.  Files are read with
    ``weights_only=True``.  The data's fingerprint (a hash of the training array)
    is computed only when a checkpoint is in use.  Under a process group only rank
    0 writes.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from sslts import Checkpoint, TS2VecTransformer
    >>> X = np.random.default_rng(0).normal(size=(8, 20))
    >>> enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_epochs=3,
    ...                         batch_size=4, device="cpu", random_state=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     enc = enc.fit(X, checkpoint=Checkpoint(d, every=1))
    ...     enc.n_epochs_
    3
    """

    filename = "checkpoint.pt"
    # Parameters that may differ between the run that wrote a checkpoint and its resume.
    _free_params = ("verbose", "device", "callbacks")

    parameter_constraints = {
        "directory": [str, os.PathLike],
        "every": [Interval(Integral, 1, None, closed="left")],
        "resume": ["boolean"],
    }

    def __init__(self, directory, *, every: int = 1, resume: bool = True):
        self.directory = directory
        self.every = every
        self.resume = resume

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.directory)!r}, every={self.every}, resume={self.resume})"

    @property
    def path(self) -> Path:
        return Path(self.directory) / self.filename

    def due(self, epochs_done: int) -> bool:
        """Whether a checkpoint is written after ``epochs_done`` epochs of this fit."""
        return epochs_done % self.every == 0

    def read(self, est, X) -> dict | None:
        """The checkpoint to resume ``est`` from on the training array ``X``, or None.

        Raises
        ------
        ValueError
            The checkpoint belongs to another class, other parameters or other data.
        """
        ours = plain_params(est)  # refuses unsaveable parameters now, not later
        self.fingerprint_ = data_fingerprint(X)
        if not self.resume or not self.path.exists():
            return None
        payload = read_payload(self.path)
        if payload["class"] != type(est).__name__ or "run" not in payload:
            raise ValueError(
                f"{self.path} is not a {type(est).__name__} training checkpoint; "
                "use another directory or resume=False."
            )
        saved = payload["params"]  # compared as plain data (tensors by value)
        differ = sorted(
            k for k in ours if k not in self._free_params and not same_plain(saved.get(k), ours[k])
        )
        if differ:
            raise ValueError(
                f"{self.path} was written with other values of {differ}; resume with the "
                "same parameters, or use another directory or resume=False."
            )
        payload["run"] = from_plain(payload["run"])
        if payload["run"]["fingerprint"] != self.fingerprint_:
            raise ValueError(
                f"{self.path} was trained on other data than X; resume with the same "
                "X, or use another directory or resume=False."
            )
        return payload

    def on_fit_start(self, estimator, ctx):
        self.written_ = None

    def on_epoch_end(self, estimator, ctx):
        if self.due(ctx.epoch):
            self.write(estimator, ctx)
            self.written_ = ctx.epoch

    def on_fit_end(self, estimator, ctx):
        if ctx.logs.get("status") == "completed" and self.written_ != ctx.epoch:
            self.write(estimator, ctx)

    def write(self, est, ctx) -> None:
        """Save ``est`` and the state of its loop ``ctx`` (rank 0 only)."""
        if not distributed.is_main_process():  # the ranks hold identical models
            return
        Path(self.directory).mkdir(parents=True, exist_ok=True)
        payload = estimator_payload(est)
        payload["run"] = to_plain({**ctx.state_dict(), "fingerprint": self.fingerprint_})
        atomic_save(payload, self.path)
