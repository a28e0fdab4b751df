"""The state one ``fit`` shares with the method's hooks and the callbacks.

:class:`TrainContext` carries everything a hook may read or change: the counters, the
optimiser and the learning-rate scheduler, the random streams, the last loss, the
epoch's logs, a ``stop`` flag and ``state``, a dict of method state that a checkpoint
saves.  All of it is saved and restored in one place, :meth:`TrainContext.state_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .schedules import SchedulerConfig
from .utils.devices import to_cpu
from .utils.torch_utils import RandomStreams

__all__ = ["TrainContext"]


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
    scheduler : SchedulerConfig or None, default=None
        The fit's learning-rate scheduler and its interval (:mod:`sslts.schedules`):
        the method's (:meth:`~sslts.base.BaseSSLTransformer.configure_scheduler`) or a
        :class:`~sslts.callbacks.LearningRateScheduler`'s, set once every
        ``on_fit_start`` hook has run; the loop steps it.
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
    rows : torch.Tensor of shape (n_series,), int64, default=None
        For each series of ``data``, its row in the array ``prepare_training_data``
        returned (this rank's shard, after a hold-out): what per-series method state,
        such as a distance matrix over the training series, is indexed by.
    batch_indices : torch.Tensor or None
        The ``rows`` of the series ``training_step`` is computing now (the current
        micro-batch, or validation batch).
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
    scheduler: SchedulerConfig | None = None
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
    rows: torch.Tensor | None = None
    validation_rows: torch.Tensor | None = None
    batch_indices: torch.Tensor | None = None
    saved_scheduler: dict | None = field(default=None, repr=False)

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

    @property
    def planned_steps(self) -> int | None:
        """Optimiser steps this fit will take if nothing stops it early, or None (unbounded).

        The smaller of ``n_iters`` and ``n_epochs * steps_per_epoch``, counted on the
        series left for training (after a callback held some out).
        """
        limits = [self.n_iters]
        if self.n_epochs is not None:
            limits.append(self.n_epochs * self.steps_per_epoch)
        limits = [n for n in limits if n is not None]
        return min(limits) if limits else None

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
        if self.rows is not None:
            self.validation_rows, self.rows = self.rows[held], self.rows[keep]
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
            "optimizer": to_cpu(self.optimizer.state_dict()),
            "scheduler": None if self.scheduler is None else self.scheduler.scheduler.state_dict(),
            "callbacks": [[type(cb).__name__, cb.state_dict()] for cb in self.callbacks],
            "state": self.state,
        }

    def load_state_dict(self, run: dict) -> None:
        """Continue a checkpointed run."""
        self.start_iter, self.start_epoch = run["start_iter"], run["start_epoch"]
        self.rng.numpy.bit_generator.state = run["rng_numpy"]
        if run["device_type"] == self.rng.device.type:  # other device: fresh device draws
            self.rng.torch.set_state(run["rng_torch"])
        self.optimizer.load_state_dict(run["optimizer"])
        # The scheduler is built after the on_fit_start hooks; the loop restores it then.
        self.saved_scheduler = run["scheduler"]
        # Each callback takes the next saved state of its class, so that callbacks
        # added or removed between the runs (a logger, say) leave the others alone.
        saved = list(run["callbacks"])
        for cb in self.callbacks:
            name = type(cb).__name__
            match = next((i for i, (saved_name, _) in enumerate(saved) if saved_name == name), None)
            if match is not None:
                cb.load_state_dict(saved.pop(match)[1])
        self.state = run["state"]
