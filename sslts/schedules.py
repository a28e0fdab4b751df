"""Learning-rate schedules: the one place where ``fit`` gets its learning rate from.

The training loop holds at most one scheduler, described by a :class:`SchedulerConfig`
(the scheduler and whether it is stepped after every optimiser step or every epoch).
It comes either from the method's hook
:meth:`~sslts.base.BaseSSLTransformer.configure_scheduler` (the published schedule:
TimeDRL's epoch schedules, the cosine decay of the two-view methods and NC-VQVAE) or
from a :class:`~sslts.callbacks.LearningRateScheduler` callback (yours); asking for
both is refused with an error that says which parameter turns the method's off.  The
loop steps it, saves it in checkpoints and restores it on resume.

Every schedule here is a multiplier of the base learning rate, wrapped in a
:class:`torch.optim.lr_scheduler.LambdaLR`.  The multiplier is a small callable object
(not a lambda), so the scheduler's ``state_dict`` holds plain data and the
estimators that keep one can be pickled.

Cosine decay (:func:`cosine_scheduler`, per step): after ``t`` of ``total`` steps the
rate is ``lr * (1 + cos(pi * t / total)) / 2``.

TimeDRL's epoch schedules (:func:`epoch_scheduler`, per epoch):

The official code (``utils/tools.py::adjust_learning_rate``, called after epoch
``e = 1, 2, ...``) *sets* the rate to ``f(e)`` once epoch ``e`` is over, and the
optimiser starts at the base rate ``lr``.  Epoch ``k`` (0-based) therefore runs at
``lr`` for ``k = 0`` and at ``f(k)`` afterwards:

- "type1": ``f(e) = lr * 0.5 ** (e - 1)``; factors 1, 1, 0.5, 0.25, ...
- "type3": ``f(e) = lr`` for ``e < 3``, else ``lr * 0.9 ** (e - 3)``; factors
  1, 1, 1, 1, 0.9, 0.81, ...
- "warmup": ``f(e) = lr * (e + 1) / 5`` for ``e < 5``, else ``lr * 0.9 ** (e - 5)``;
  factors 1, 0.4, 0.6, 0.8, 1, 1, 0.9, ...
- "constant": ``f(e) = lr``.

Over 30 epochs the factors sum to 3.0 (type1), 12.4 (type3), 13.1 (warmup) and 30
(constant) epochs' worth of full-rate training.

"warmup" runs its first epoch at the full rate because the official code only
adjusts the rate after an epoch; the ramp starts in the second epoch.  This is
kept as it is, since it is what the tuned official configurations trained with.

"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "SCHEDULES",
    "CosineFactor",
    "EpochLRFactor",
    "SchedulerConfig",
    "cosine_scheduler",
    "epoch_scheduler",
    "lr_factor",
]


@dataclass
class SchedulerConfig:
    """A learning-rate scheduler and when the training loop steps it.

    Parameters
    ----------
    scheduler : torch.optim.lr_scheduler.LRScheduler
        Built on the fit's optimiser.
    interval : {"epoch", "step"}, default="epoch"
        Step it after every epoch or after every optimiser step.
    monitor : {"loss", "val_loss"}, default="loss"
        The epoch value passed to schedulers that take a metric
        (:class:`~torch.optim.lr_scheduler.ReduceLROnPlateau`, ``interval="epoch"``
        only).

    Examples
    --------
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> SchedulerConfig(cosine_scheduler(opt, 10), interval="step").interval
    'step'
    """

    scheduler: torch.optim.lr_scheduler.LRScheduler
    interval: str = "epoch"
    monitor: str = "loss"

    def __post_init__(self):
        if self.interval not in ("epoch", "step"):
            raise ValueError(f"interval must be 'epoch' or 'step', got {self.interval!r}.")
        if self.monitor not in ("loss", "val_loss"):
            raise ValueError(f"monitor must be 'loss' or 'val_loss', got {self.monitor!r}.")
        plateau = isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        if plateau and self.interval == "step":
            raise ValueError(
                "ReduceLROnPlateau steps on an epoch's loss; use interval='epoch'."
            )

    @property
    def takes_metric(self) -> bool:
        """Whether ``scheduler.step`` takes the monitored value."""
        return isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


class CosineFactor:
    """Picklable ``step -> (1 + cos(pi * min(step, total) / total)) / 2``.

    Parameters
    ----------
    total : int or None
        Steps over which the factor decays from 1 to 0; None keeps it at 1 (an
        unbounded fit).

    Examples
    --------
    >>> f = CosineFactor(4)
    >>> [round(f(k), 3) for k in range(6)]
    [1.0, 0.854, 0.5, 0.146, 0.0, 0.0]
    """

    def __init__(self, total: int | None):
        self.total = total

    def __call__(self, step: int) -> float:
        if self.total is None:
            return 1.0
        return 0.5 * (1 + math.cos(math.pi * min(step, self.total) / self.total))

    def __repr__(self) -> str:
        return f"CosineFactor({self.total!r})"


def cosine_scheduler(optimizer: torch.optim.Optimizer, total: int | None):
    """Cosine decay of the rate from ``lr`` to 0 over ``total`` steps (step it per step).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Its parameter groups' ``lr`` is the peak rate.
    total : int or None
        Steps of the decay (at least 1); None keeps the rate constant.

    Returns
    -------
    torch.optim.lr_scheduler.LambdaLR

    Examples
    --------
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = cosine_scheduler(opt, 2)
    >>> rates = []
    >>> for _ in range(3):
    ...     rates.append(round(opt.param_groups[0]["lr"], 3))
    ...     opt.step(); sched.step()
    >>> rates
    [0.1, 0.05, 0.0]
    """
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, CosineFactor(None if total is None else max(1, int(total)))
    )

SCHEDULES = ("type1", "type3", "warmup", "constant")


def lr_factor(schedule: str, epoch: int) -> float:
    """Multiplier of the base learning rate during a 0-based ``epoch``.

    Parameters
    ----------
    schedule : {"type1", "type3", "warmup", "constant"}
        Schedule name (see the module docstring for the formulas).
    epoch : int
        Epoch index, counting from 0 (the first epoch of the fit).

    Returns
    -------
    float
        ``lr`` in that epoch divided by the base ``lr``.

    Examples
    --------
    >>> [lr_factor("type1", k) for k in range(4)]
    [1.0, 1.0, 0.5, 0.25]
    >>> [round(lr_factor("warmup", k), 2) for k in range(7)]
    [1.0, 0.4, 0.6, 0.8, 1.0, 1.0, 0.9]
    """
    _check_schedule(schedule)
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0 (0 is the first epoch), got {epoch}.")
    if schedule == "type1":
        return 1.0 if epoch == 0 else 0.5 ** (epoch - 1)
    if schedule == "type3":
        return 1.0 if epoch <= 3 else 0.9 ** (epoch - 3)
    if schedule == "warmup":
        if epoch == 0:  # the optimiser's initial rate: the ramp starts after epoch 1
            return 1.0
        return (epoch + 1) / 5 if epoch < 5 else 0.9 ** (epoch - 5)
    return 1.0


class EpochLRFactor:
    """Picklable ``epoch -> factor`` callable for :class:`~torch.optim.lr_scheduler.LambdaLR`.

    Parameters
    ----------
    schedule : {"type1", "type3", "warmup", "constant"}
        Schedule name.

    Examples
    --------
    >>> import pickle
    >>> f = pickle.loads(pickle.dumps(EpochLRFactor("type3")))
    >>> [round(f(k), 2) for k in range(6)]
    [1.0, 1.0, 1.0, 1.0, 0.9, 0.81]
    """

    def __init__(self, schedule: str):
        _check_schedule(schedule)
        self.schedule = schedule

    def __call__(self, epoch: int) -> float:
        return lr_factor(self.schedule, epoch)

    def __repr__(self) -> str:
        return f"EpochLRFactor({self.schedule!r})"


def epoch_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str
) -> torch.optim.lr_scheduler.LambdaLR:
    """A scheduler that applies ``schedule`` when stepped once after every epoch.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Optimiser whose parameter groups' initial ``lr`` is the base rate.
    schedule : {"type1", "type3", "warmup", "constant"}
        Schedule name.

    Returns
    -------
    torch.optim.lr_scheduler.LambdaLR
        Its ``state_dict`` is plain data (the epoch counter and the schedule name),
        so it can be checkpointed and resumed.

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = epoch_scheduler(opt, "type1")
    >>> rates = []
    >>> for epoch in range(4):
    ...     rates.append(opt.param_groups[0]["lr"])
    ...     opt.step()  # the epoch's optimiser steps
    ...     sched.step()  # at the end of the epoch
    >>> rates
    [0.1, 0.1, 0.05, 0.025]
    """
    return torch.optim.lr_scheduler.LambdaLR(optimizer, EpochLRFactor(schedule))


def _check_schedule(schedule) -> None:
    if schedule not in SCHEDULES:
        raise ValueError(
            f"Unknown learning-rate schedule {schedule!r}; choose one of {SCHEDULES}."
        )
