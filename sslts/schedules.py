"""Epoch-wise learning-rate schedules, including those of the official TimeDRL code.

Every schedule is a multiplier of the base learning rate for each (0-based) epoch,
wrapped in a :class:`torch.optim.lr_scheduler.LambdaLR` that the training loop
steps once at the end of every epoch.  The multiplier is a small callable object
(not a lambda), so the scheduler's ``state_dict`` holds plain data and the
estimators that keep one can be pickled.

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

"halving" (``0.5 ** k``: every epoch after the first at half the previous rate) is
not an official schedule; it is sslts's earlier TimeDRL default, kept so that fits
which asked for it explicitly train as before.  It halves one epoch earlier than
"type1".
"""

from __future__ import annotations

import torch

__all__ = ["SCHEDULES", "EpochLRFactor", "epoch_scheduler", "lr_factor"]

SCHEDULES = ("type1", "type3", "warmup", "constant", "halving")


def lr_factor(schedule: str, epoch: int) -> float:
    """Multiplier of the base learning rate during a 0-based ``epoch``.

    Parameters
    ----------
    schedule : {"type1", "type3", "warmup", "constant", "halving"}
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
    if schedule == "halving":
        return 0.5**epoch
    return 1.0


class EpochLRFactor:
    """Picklable ``epoch -> factor`` callable for :class:`~torch.optim.lr_scheduler.LambdaLR`.

    Parameters
    ----------
    schedule : {"type1", "type3", "warmup", "constant", "halving"}
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
    schedule : {"type1", "type3", "warmup", "constant", "halving"}
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
