"""The training loop every sslts estimator runs, its context object and its hooks.

:class:`BaseSSLTransformer.fit <sslts.base.BaseSSLTransformer.fit>` builds a
:class:`TrainContext` and hands it to :class:`TrainingLoop`, which runs epochs of
optimiser steps and, at named moments, calls the same hook on the method (the
estimator) and on every callback (the method first, except in ``on_fit_start``)::

    on_fit_start
    for each epoch:
        on_epoch_start
        for each batch:   training_step (the method's loss) -> backward -> step
                          on_step_end
        on_epoch_end      (the epoch loss is in ctx.logs["loss"])
    on_fit_end            (however the fit ends: ctx.logs["status"] says how)

The context carries everything a hook may read or change: the counters, the
optimiser and scheduler, the random streams, the last loss, the epoch's logs, a
``stop`` flag and ``state``, a dict of method state that a checkpoint saves.  All
of it is saved and restored in one place, :meth:`TrainContext.state_dict`.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from . import distributed
from .callbacks import Checkpoint, EarlyStopping, PrintLog, ProgressBar
from .exceptions import TrainingDivergedError
from .utils.torch_utils import RandomStreams, seeded_torch, to_cpu

__all__ = ["HOOKS", "TrainContext", "TrainingLoop", "TrainingStep", "fit_callbacks"]

#: The hook names, in the order the loop first calls them.
HOOKS = ("on_fit_start", "on_epoch_start", "on_step_end", "on_epoch_end", "on_fit_end")


@dataclass(eq=False)
class TrainContext:
    """What the loop shares with the method's hooks and the callbacks during ``fit``.

    Parameters
    ----------
    estimator : BaseSSLTransformer
        The estimator being fitted.
    rng : RandomStreams
        The fit's random streams (crops, masks, views, shuffling).
    data : torch.Tensor of shape (n_series, n_timestamps, n_channels), default=None
        This rank's training series.
    batch_size : int, default=1
        Series per optimiser step.
    drop_last : bool, default=True
        Skip the last partial batch of each epoch.
    optimizer : torch.optim.Optimizer, default=None
    scheduler : torch.optim.lr_scheduler.LRScheduler or None, default=None
        The method's own schedule, stepped after every epoch.
    n_epochs, n_iters : int or None, default=None
        This fit's budget.
    seed : int, default=0
        Root seed of ``rng``; the validation split and views derive from it.
    input_shape : tuple of int, default=()
        Shape ``(n_series, n_timestamps, n_channels)`` of the validated training array,
        before the method's data preparation.
    callbacks : list of Callback, default=[]
    micro_batch_size : int or None, default=None
        Series per forward/backward pass when gradients are accumulated
        (:class:`~sslts.callbacks.GradientAccumulation`); None: the whole batch.

    Attributes
    ----------
    epoch : int
        Epochs completed in this fit, i.e. the 0-based index of the current epoch.
    step_in_epoch : int
        0-based index of the current step in its epoch.
    is_last_step_of_epoch, is_last_step : bool
        Whether the current step ends its epoch, or the whole budget.
    is_last_micro_batch : bool
        False while ``training_step`` runs a micro-batch of an accumulated step other
        than its last; state that belongs to the whole step (IARS's measurements)
        is updated on the last one.
    training : bool
        False while ``training_step`` computes a validation loss (no gradient; leave
        method state alone then).
    loss : torch.Tensor or None
        The last step's loss (a 0-d tensor; reading it syncs the device).
    logs : dict
        At epoch end: ``"loss"``, ``"lr"``, ``"epoch_time"``, ``"val_loss"`` (when a
        callback held out series); at fit end also ``"status"`` (``"completed"``,
        ``"interrupted"``, ``"diverged"``, ``"out_of_memory"``, or ``"failed"`` when
        another exception is on its way to the caller).
    stop : bool
        Set it to True in a hook to end the fit after the current epoch.
    state : dict
        Method state that must survive a checkpoint (plain data and tensors).
    validation : torch.Tensor or None
        Series held out by :meth:`hold_out`.
    start_iter, start_epoch : int
        ``estimator.n_iter_`` and ``n_epochs_`` when this fit began.
    """

    estimator: Any
    rng: RandomStreams
    data: torch.Tensor | None = None
    batch_size: int = 1
    drop_last: bool = True
    optimizer: torch.optim.Optimizer | None = None
    scheduler: Any = None
    n_epochs: int | None = None
    n_iters: int | None = None
    seed: int = 0
    input_shape: tuple = ()
    callbacks: list = field(default_factory=list)
    micro_batch_size: int | None = None
    start_iter: int = 0
    start_epoch: int = 0
    step_in_epoch: int = 0
    is_last_step_of_epoch: bool = False
    is_last_step: bool = False
    is_last_micro_batch: bool = True
    training: bool = True
    loss: torch.Tensor | None = None
    logs: dict = field(default_factory=dict)
    stop: bool = False
    state: dict = field(default_factory=dict)
    validation: torch.Tensor | None = None

    # The counters live on the estimator (n_iter_, n_epochs_); these read them.
    @property
    def global_step(self) -> int:
        """Optimiser steps taken so far, over all fits (``estimator.n_iter_``)."""
        return self.estimator.n_iter_

    @property
    def epoch(self) -> int:
        return self.estimator.n_epochs_ - self.start_epoch

    @property
    def iters_done(self) -> int:
        """Optimiser steps taken in this fit."""
        return self.estimator.n_iter_ - self.start_iter

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch; a last batch of a single series is always skipped.

        Batch statistics (batch norm, the contrastive negatives) need two series.
        """
        return self.count_steps(len(self.data), self.batch_size, self.drop_last)

    @staticmethod
    def count_steps(n_series: int, batch_size: int, drop_last: bool) -> int:
        """Batches in one pass over ``n_series`` (see :attr:`steps_per_epoch`).

        Examples
        --------
        >>> from sslts import TrainContext
        >>> TrainContext.count_steps(40, 32, drop_last=False)  # 32 + 8
        2
        >>> TrainContext.count_steps(33, 32, drop_last=False)  # the batch of one is skipped
        1
        """
        full, rest = divmod(n_series, batch_size)
        return full + (0 if drop_last or rest < 2 else 1) if n_series > 1 else 1

    def iters_remain(self) -> bool:
        return self.n_iters is None or self.iters_done < self.n_iters

    def more(self) -> bool:
        """Whether the budget allows another epoch."""
        epochs_remain = self.n_epochs is None or self.epoch < self.n_epochs
        return epochs_remain and self.iters_remain() and not self.stop

    def hold_out(self, fraction: float) -> torch.Tensor:
        """Remove a random ``fraction`` of this rank's series from training.

        Call it in ``on_fit_start``.  The split depends only on ``seed``, so a resumed
        fit holds out the same series, and it draws nothing from ``rng``.

        Parameters
        ----------
        fraction : float in (0, 1)

        Returns
        -------
        torch.Tensor of shape (n_held_out, n_timestamps, n_channels)
        """
        if self.validation is not None:
            raise RuntimeError("Series were already held out in this fit.")
        n = len(self.data)
        n_val = int(round(fraction * n))
        if not 0 < fraction < 1 or n_val < 2 or n - n_val < 2:
            raise ValueError(
                f"validation_fraction={fraction} of {n} training series leaves "
                f"{n_val} held out and {n - n_val} to train on; both need at least 2 "
                "series. Use more data or another fraction."
            )
        order = torch.from_numpy(np.random.default_rng([self.seed, 1]).permutation(n))
        keep, held = order[n_val:].sort().values, order[:n_val].sort().values
        self.validation = self.data[held.to(self.data.device)]
        self.data = self.data[keep.to(self.data.device)]
        return self.validation

    def state_dict(self) -> dict:
        """The loop's state at an epoch end: everything needed to continue exactly."""
        device = self.rng.device
        return {
            "start_iter": self.start_iter,
            "start_epoch": self.start_epoch,
            "seed": self.seed,
            "device_type": device.type,
            "rng_numpy": self.rng.numpy.bit_generator.state,
            "rng_torch": self.rng.torch.get_state(),
            "torch_cpu": torch.get_rng_state(),
            "torch_cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "optimizer": to_cpu(self.optimizer.state_dict()),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "callbacks": [[type(cb).__name__, cb.state_dict()] for cb in self.callbacks],
            "state": self.state,
        }

    def load_state_dict(self, run: dict) -> None:
        """Continue a checkpointed run (call inside the fit's ``seeded_torch``)."""
        self.start_iter, self.start_epoch = run["start_iter"], run["start_epoch"]
        self.rng.numpy.bit_generator.state = run["rng_numpy"]
        torch.set_rng_state(run["torch_cpu"])
        if run["device_type"] == self.rng.device.type:  # other device: fresh device draws
            self.rng.torch.set_state(run["rng_torch"])
            if run["torch_cuda"] is not None:
                torch.cuda.set_rng_state(run["torch_cuda"], self.rng.device)
        # After the scheduler's constructor, which resets the learning rate.
        self.optimizer.load_state_dict(run["optimizer"])
        if self.scheduler is not None and run["scheduler"] is not None:
            self.scheduler.load_state_dict(run["scheduler"])
        # Each callback takes the next saved state of its class, so that callbacks
        # added or removed between the runs (a logger, say) leave the others alone.
        saved = list(run["callbacks"])
        for cb in self.callbacks:
            name = type(cb).__name__
            match = next((i for i, (saved_name, _) in enumerate(saved) if saved_name == name), None)
            if match is not None:
                cb.load_state_dict(saved.pop(match)[1])
        self.state = run["state"]


class TrainingStep(torch.nn.Module):
    """The method's network and its ``training_step`` as one module whose forward is the loss.

    This is what :class:`~torch.nn.parallel.DistributedDataParallel` wraps, so every
    parameter the step uses (encoder, heads, predictor) is reached through one
    ``forward`` and its gradient is reduced during the backward pass.

    Parameters
    ----------
    network : torch.nn.Module
        The estimator's ``module_``.
    step : callable
        ``step(network, batch, ctx) -> loss``.
    """

    def __init__(self, network: torch.nn.Module, step):
        super().__init__()
        self.network = network
        self.step = step

    def forward(self, batch: torch.Tensor, ctx: TrainContext) -> torch.Tensor:
        return self.step(self.network, batch, ctx)


class TrainingLoop:
    """Runs the epochs of one ``fit`` and calls the hooks.

    Parameters
    ----------
    ctx : TrainContext
    step_module : torch.nn.Module
        :class:`TrainingStep`, possibly wrapped in DistributedDataParallel.
    precision : callable
        Returns the autocast/TF32 context of the estimator's ``precision``.
    after_step : callable
        Called after every optimiser step (weight averaging).
    on_good_epoch : callable
        Called when an epoch ended with a finite loss (snapshot of the weights).
    """

    def __init__(self, ctx: TrainContext, step_module, precision, after_step, on_good_epoch):
        self.ctx = ctx
        self.step_module = step_module
        self.precision = precision
        self.after_step = after_step
        self.on_good_epoch = on_good_epoch

    def call(self, hook: str) -> None:
        """The method's hook, then every callback's in their order.

        ``on_fit_start`` goes the other way round (as in Lightning): a callback may
        shape the run there, e.g. hold out series, before the method sees the data.
        """
        ctx = self.ctx
        method = [lambda: getattr(ctx.estimator, hook)(ctx)]
        others = [lambda cb=cb: getattr(cb, hook)(ctx.estimator, ctx) for cb in ctx.callbacks]
        for call in (others + method if hook == "on_fit_start" else method + others):
            call()

    def run(self) -> None:
        ctx = self.ctx
        self.call("on_fit_start")
        while ctx.more():
            self.call("on_epoch_start")
            started = time.perf_counter()
            epoch_loss = self.run_epoch()
            self.end_epoch(epoch_loss, time.perf_counter() - started)

    def run_epoch(self) -> float:
        """One pass over the shuffled data; returns the mean loss (one host sync)."""
        ctx, est = self.ctx, self.ctx.estimator
        n, bs, steps = len(ctx.data), ctx.batch_size, ctx.steps_per_epoch
        order = torch.from_numpy(ctx.rng.numpy.permutation(n))
        total = torch.zeros((), device=est.device_)
        done = 0
        for k in range(steps):
            ctx.step_in_epoch = k
            ctx.is_last_step = ctx.n_iters is not None and ctx.iters_done + 1 >= ctx.n_iters
            ctx.is_last_step_of_epoch = k == steps - 1 or ctx.is_last_step
            idx = order[k * bs : (k + 1) * bs]
            batch = ctx.data[idx.to(ctx.data.device)].to(est.device_, non_blocking=True)
            ctx.loss = self.optimizer_step(batch)
            total += ctx.loss
            done += 1
            est.n_iter_ += 1
            self.call("on_step_end")
            if not ctx.iters_remain():
                break
        est.n_epochs_ += 1
        # The mean over ranks keeps their decisions (divergence, stopping) in step.
        return float(distributed.all_reduce_mean(total / max(done, 1)))

    def optimizer_step(self, batch: torch.Tensor) -> torch.Tensor:
        ctx, optimizer = self.ctx, self.ctx.optimizer
        size = ctx.micro_batch_size or len(batch)
        # A last micro-batch of one series would break batch statistics: merge it.
        parts = list(batch.split(size)) if len(batch) > size else [batch]
        if len(parts) > 1 and len(parts[-1]) < 2:
            parts[-2:] = [torch.cat(parts[-2:])]
        optimizer.zero_grad(set_to_none=True)
        # DDP reduces gradients once, in the backward pass of the last micro-batch.
        no_sync = getattr(self.step_module, "no_sync", contextlib.nullcontext)
        losses, stepped = [], False
        for k, part in enumerate(parts):
            ctx.is_last_micro_batch = k == len(parts) - 1
            with (contextlib.nullcontext() if ctx.is_last_micro_batch else no_sync()):
                with self.precision():
                    loss = self.step_module(part, ctx)
                if len(parts) > 1:  # each part's share of the batch mean
                    loss = loss * (len(part) / len(batch))
                if loss.requires_grad:
                    loss.backward()
                    stepped = True
            losses.append(loss.detach())
        if stepped:
            optimizer.step()
        self.after_step()
        return losses[0] if len(losses) == 1 else torch.stack(losses).sum()

    def end_epoch(self, epoch_loss: float, seconds: float) -> None:
        ctx, est = self.ctx, self.ctx.estimator
        if not math.isfinite(epoch_loss):
            raise TrainingDivergedError(
                f"{type(est).__name__}: the training loss became {epoch_loss} in epoch "
                f"{est.n_epochs_}. The weights of the last finite epoch were kept. Lower lr "
                f"(now {est.lr}) or rescale the data."
            )
        self.on_good_epoch()
        est.loss_history_.append(epoch_loss)
        ctx.logs = {
            "epoch": est.n_epochs_,
            "loss": epoch_loss,
            "lr": ctx.optimizer.param_groups[0]["lr"],
            "epoch_time": seconds,
        }
        if ctx.validation is not None:
            ctx.logs["val_loss"] = self.validation_loss()
        if ctx.scheduler is not None:
            ctx.scheduler.step()
        self.call("on_epoch_end")

    def validation_loss(self) -> float:
        """Mean SSL loss of the held-out series, with the same views every epoch.

        The method's step runs without gradient, with dropout active (the views of
        dropout-based methods need it) but batch norm in eval mode, so the held-out
        series never change the running statistics, and in forked random states, so
        training draws the same numbers with or without a validation set.
        """
        ctx, est = self.ctx, self.ctx.estimator
        module = est.module_
        val_ctx = TrainContext(
            estimator=est, rng=RandomStreams(ctx.seed + 1, ctx.rng.device), training=False,
            state=ctx.state, seed=ctx.seed, input_shape=ctx.input_shape,
        )
        total, count = 0.0, 0
        with seeded_torch(ctx.seed + 2, est.device_), _batch_norm_frozen(module):
            with torch.no_grad(), self.precision():
                for start in range(0, len(ctx.validation), ctx.batch_size):
                    batch = ctx.validation[start : start + ctx.batch_size].to(est.device_)
                    if len(batch) < 2:
                        continue
                    total += float(est.training_step(module, batch, val_ctx)) * len(batch)
                    count += len(batch)
        return float(distributed.all_reduce_mean(torch.tensor(total / max(count, 1))))


def fit_callbacks(estimator, checkpoint) -> list:
    """Copies of ``estimator.callbacks`` plus the shortcuts' callbacks, checkpoints last.

    The shortcuts are ``n_iter_no_change``/``tol`` (:class:`~sslts.callbacks.EarlyStopping`),
    ``verbose`` (:class:`~sslts.callbacks.PrintLog` or
    :class:`~sslts.callbacks.ProgressBar`) and ``fit``'s ``checkpoint``.
    """
    callbacks = copy.deepcopy(list(estimator.callbacks or []))
    for cb in callbacks:
        missing = [h for h in ("on_fit_start", "state_dict") if not hasattr(cb, h)]
        if missing:
            raise TypeError(
                f"callbacks must be sslts.callbacks.Callback instances; {cb!r} has no "
                f"{missing}. Subclass Callback and override the hooks you need."
            )
    if estimator.n_iter_no_change is not None:
        callbacks.append(EarlyStopping(patience=estimator.n_iter_no_change, tol=estimator.tol))
    if estimator.verbose >= 2:
        callbacks.append(ProgressBar())
    elif estimator.verbose:
        callbacks.append(PrintLog())
    if checkpoint is not None:
        callbacks.append(copy.deepcopy(
            checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint(checkpoint)
        ))
    if sum(isinstance(cb, Checkpoint) for cb in callbacks) > 1:
        raise ValueError("Pass at most one Checkpoint (in callbacks or to fit).")
    return sorted(callbacks, key=lambda cb: isinstance(cb, Checkpoint))


@contextlib.contextmanager
def _batch_norm_frozen(module: torch.nn.Module):
    """Training mode for everything but batch norm, which uses its running statistics."""
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._NormBase)]
    was = [m.training for m in norms]
    for m in norms:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(norms, was):
            m.train(mode)
