"""The training loop every sslts estimator runs, and its hooks.

:meth:`BaseSSLTransformer.fit <sslts.base.BaseSSLTransformer.fit>` hands the estimator
to a :class:`TrainingRun`, which builds a :class:`~sslts.TrainContext` and runs a
:class:`TrainingLoop`: epochs of optimiser steps and, at named moments, the same hook
on the method (the estimator) and on every callback (the method first, except in
``on_fit_start``)::

    on_fit_start
    (the learning-rate scheduler is set up: the method's or a callback's)
    for each epoch:
        on_epoch_start
        for each batch:   training_step (the method's loss) -> backward
                          on_before_optimizer_step (gradients ready: clip, log)
                          optimiser step (scheduler step, if per step)
                          on_step_end
        (scheduler step, if per epoch)
        on_epoch_end      (the epoch loss is in ctx.logs["loss"])
    on_fit_end            (however the fit ends: ctx.logs["status"] says how)
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings

import numpy as np
import torch

from . import distributed
from ._context import TrainContext
from .callbacks import Callback, Checkpoint, EarlyStopping, PrintLog, ProgressBar
from .encoders.dropout import dropout_generator
from .exceptions import TrainingDivergedError
from .schedules import SchedulerConfig
from .utils.devices import device_data, empty_cache, to_cpu
from .utils.torch_utils import RandomStreams, running_average_

__all__ = ["HOOKS", "TrainingLoop", "TrainingRun", "TrainingStep"]

#: The hook names, in the order the loop first calls them.
HOOKS = ("on_fit_start", "on_epoch_start", "on_before_optimizer_step", "on_step_end",
         "on_epoch_end", "on_fit_end")


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
        self.start_schedule()
        while ctx.more():
            self.call("on_epoch_start")
            started = time.perf_counter()
            epoch_loss = self.run_epoch()
            self.end_epoch(epoch_loss, time.perf_counter() - started)

    def start_schedule(self) -> None:
        """Put the method's schedule in ``ctx.scheduler`` (unless a callback set one).

        Both at once is refused: two schedules would overwrite each other's rate.  A
        resumed fit continues the saved schedule at the saved rate.
        """
        ctx, est = self.ctx, self.ctx.estimator
        own = est.configure_scheduler(ctx.optimizer, ctx)
        if own is not None:
            if ctx.scheduler is not None:
                hint = ("set lr_schedule='constant'" if "lr_schedule" in est.get_params()
                        else "remove the LearningRateScheduler callback")
                raise ValueError(
                    f"{type(est).__name__} already schedules the learning rate (its "
                    f"published schedule), and a LearningRateScheduler callback asks for "
                    f"another; {hint} to keep one schedule."
                )
            ctx.scheduler = own if isinstance(own, SchedulerConfig) else SchedulerConfig(own)
        saved = ctx.saved_scheduler
        if saved is not None and ctx.scheduler is not None:
            ctx.scheduler.scheduler.load_state_dict(saved)
            # The scheduler's constructor reset the rate; take the saved one back.
            for group, lr in zip(ctx.optimizer.param_groups, saved.get("_last_lr", [])):
                group["lr"] = lr

    def run_epoch(self) -> float:
        """One pass over the shuffled data; returns the mean loss (one host sync)."""
        ctx, est = self.ctx, self.ctx.estimator
        n, bs, steps = len(ctx.data), ctx.batch_size, ctx.steps_per_epoch
        order = torch.from_numpy(ctx.rng.numpy.permutation(n))
        total = torch.zeros((), device=est.device_)
        done = 0
        per_step = ctx.scheduler is not None and ctx.scheduler.interval == "step"
        for k in range(steps):
            ctx.step_in_epoch = k
            ctx.is_last_step = ctx.n_iters is not None and ctx.iters_done + 1 >= ctx.n_iters
            ctx.is_last_step_of_epoch = k == steps - 1 or ctx.is_last_step
            idx = order[k * bs : (k + 1) * bs]
            batch = ctx.data[idx.to(ctx.data.device)].to(est.device_, non_blocking=True)
            ctx.loss = self.optimizer_step(batch, None if ctx.rows is None else ctx.rows[idx])
            total += ctx.loss
            done += 1
            est.n_iter_ += 1
            if per_step:
                ctx.scheduler.scheduler.step()
            self.call("on_step_end")
            if not ctx.iters_remain():
                break
        est.n_epochs_ += 1
        # The mean over ranks keeps their decisions (divergence, stopping) in step.
        return float(distributed.all_reduce_mean(total / max(done, 1)))

    def optimizer_step(self, batch: torch.Tensor, rows: torch.Tensor | None = None):
        ctx, optimizer = self.ctx, self.ctx.optimizer
        size = ctx.micro_batch_size or len(batch)
        # A last micro-batch of one series would break batch statistics: merge it.
        parts = list(batch.split(size)) if len(batch) > size else [batch]
        if len(parts) > 1 and len(parts[-1]) < 2:
            parts[-2:] = [torch.cat(parts[-2:])]
        starts = [0]
        for part in parts:
            starts.append(starts[-1] + len(part))
        optimizer.zero_grad(set_to_none=True)
        # DDP reduces gradients once, in the backward pass of the last micro-batch.
        no_sync = getattr(self.step_module, "no_sync", contextlib.nullcontext)
        losses, stepped = [], False
        for k, part in enumerate(parts):
            ctx.is_last_micro_batch = k == len(parts) - 1
            ctx.batch_indices = None if rows is None else rows[starts[k] : starts[k + 1]]
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
            self.call("on_before_optimizer_step")
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
        schedule = ctx.scheduler
        if schedule is not None and schedule.interval == "epoch":
            if schedule.takes_metric:
                schedule.scheduler.step(ctx.logs[schedule.monitor])
            else:
                schedule.scheduler.step()
        self.call("on_epoch_end")

    def validation_loss(self) -> float:
        """Mean SSL loss of the held-out series, with the same views every epoch.

        The method's step runs without gradient, with dropout active (the views of
        dropout-based methods need it) but batch norm in eval mode, so the held-out
        series never change the running statistics, and from random streams of its own, so
        training draws the same numbers with or without a validation set.
        """
        ctx, est = self.ctx, self.ctx.estimator
        module = est.module_
        val_ctx = TrainContext(
            estimator=est, rng=RandomStreams(ctx.seed + 1, ctx.rng.device), training=False,
            state=ctx.state, seed=ctx.seed, input_shape=ctx.input_shape,
        )
        total, count = 0.0, 0
        dropout = RandomStreams(ctx.seed + 2, ctx.rng.device).torch
        with dropout_generator(dropout), _batch_norm_frozen(module):
            with torch.no_grad(), self.precision():
                for start in range(0, len(ctx.validation), ctx.batch_size):
                    batch = ctx.validation[start : start + ctx.batch_size].to(est.device_)
                    if len(batch) < 2:
                        continue
                    if ctx.validation_rows is not None:
                        val_ctx.batch_indices = ctx.validation_rows[start : start + len(batch)]
                    total += float(est.training_step(module, batch, val_ctx)) * len(batch)
                    count += len(batch)
        return float(distributed.all_reduce_mean(torch.tensor(total / max(count, 1))))


class TrainingRun:
    """One ``fit`` of an estimator: its callbacks, context, fault handling and loop.

    Everything the loop changes lives on the estimator (weights, counters, history);
    this object keeps what a fault needs to undo: the weights of the last epoch that
    ended with a finite loss.

    Parameters
    ----------
    estimator : BaseSSLTransformer
        Initialised (``module_`` built, counters set) before :meth:`train`.
    """

    def __init__(self, estimator):
        self.est = estimator

    def callbacks(self, checkpoint) -> list:
        """Copies of ``estimator.callbacks`` plus the shortcuts' callbacks, checkpoints last.

        The shortcuts are ``n_iter_no_change``/``tol`` (:class:`~sslts.callbacks.EarlyStopping`),
        ``verbose`` (:class:`~sslts.callbacks.PrintLog` or
        :class:`~sslts.callbacks.ProgressBar`) and ``fit``'s ``checkpoint``.
        """
        est = self.est
        callbacks = copy.deepcopy(list(est.callbacks or []))
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be sslts.callbacks.Callback instances; got {cb!r}. "
                    "Subclass Callback and override the hooks you need."
                )
        if est.n_iter_no_change is not None:
            callbacks.append(EarlyStopping(patience=est.n_iter_no_change, tol=est.tol))
        if est.verbose >= 2:
            callbacks.append(ProgressBar())
        elif est.verbose:
            callbacks.append(PrintLog())
        if checkpoint is not None:
            callbacks.append(copy.deepcopy(
                checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint(checkpoint)
            ))
        if sum(isinstance(cb, Checkpoint) for cb in callbacks) > 1:
            raise ValueError("Pass at most one Checkpoint (in callbacks or to fit).")
        for cb in callbacks:
            cb.validate_params()
        return sorted(callbacks, key=lambda cb: isinstance(cb, Checkpoint))

    def context(self, X, run: dict | None, warm: bool) -> TrainContext:
        """The loop's state for this fit: data, optimiser, streams, budget."""
        est = self.est
        n_epochs, n_iters = est._budget(X)
        # Under torchrun each rank trains on its shard, from rank 0's weights.
        prepared = est.prepare_training_data(X)
        X_train = distributed.shard(prepared)
        rows = torch.from_numpy(distributed.shard(np.arange(len(prepared))))
        distributed.broadcast_(self.state_tensors())
        optimizer = est.configure_optimizer(est.module_.parameters())
        if est._optimizer_state is not None:
            optimizer.load_state_dict(est._optimizer_state)
        if warm:  # a warm start trains at the current lr, whatever the last fit ended at
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] = est.lr
        # A warm start draws fresh views; a resumed fit continues the saved streams.
        seed = est._seed + est.n_iter_ if run is None else run["seed"]
        return TrainContext(
            estimator=est,
            rng=RandomStreams(seed + distributed.rank_and_world()[0], est.device_),
            data=device_data(X_train, est.device_),
            rows=rows,
            batch_size=min(est.batch_size, len(X_train)),
            drop_last=est.drop_last,
            optimizer=optimizer,
            n_epochs=n_epochs,
            n_iters=n_iters,
            seed=seed,
            input_shape=X.shape,
            callbacks=est.callbacks_,
            start_iter=est.n_iter_,
            start_epoch=est.n_epochs_,
        )

    def train(self, X, run: dict | None, *, warm: bool = False) -> None:
        """Run the loop; on a fault, keep the last good epoch's weights and re-raise."""
        est = self.est
        ctx = self.context(X, run, warm)
        snapshot, good = self.snapshot(), self.counters()

        def on_good_epoch():
            nonlocal good
            distributed.broadcast_(self.buffers())  # ranks end each epoch identical
            with torch.no_grad():
                torch._foreach_copy_(snapshot, self.state_tensors())
            good = self.counters()

        step = distributed.data_parallel(
            TrainingStep(est._accelerated(est.module_), est.training_step),
            est.device_, sync_batchnorm=est.sync_batchnorm,
        )
        loop = TrainingLoop(ctx, step, est._precision, self.update_average, on_good_epoch)
        status = "failed"  # until the loop returns, or a handled fault says otherwise
        est.module_.train()
        try:
            # Dropout draws from the fit's generator: torch's global one is never used.
            with dropout_generator(ctx.rng.torch):
                if run is not None:
                    ctx.load_state_dict(run)
                try:
                    loop.run()
                    status = "completed"
                except KeyboardInterrupt:
                    status = "interrupted"
                    warnings.warn(
                        f"{type(est).__name__}.fit was interrupted after {est.n_iter_} "
                        "iterations; the estimator keeps the weights reached so far and "
                        "can transform.",
                        RuntimeWarning,
                        stacklevel=4,
                    )
                except (TrainingDivergedError, torch.OutOfMemoryError) as exc:
                    status = "diverged" if isinstance(exc, TrainingDivergedError) \
                        else "out_of_memory"
                    with torch.no_grad():
                        torch._foreach_copy_(self.state_tensors(), snapshot)
                    est.n_iter_, est.n_epochs_, est._n_averaged = good
                    raise
                finally:
                    ctx.logs["status"] = status
                    loop.call("on_fit_end")
                    # Fitted networks stay in eval mode, so that transform changes no
                    # state (aeon's check_non_state_changing_method hashes the estimator).
                    for module in (est.module_, est.averaged_module_):
                        if module is not None:
                            module.eval()
        except torch.OutOfMemoryError as exc:
            est._optimizer_state = None
            empty_cache(est.device_)
            raise torch.OutOfMemoryError(est._out_of_memory_message()) from exc
        except TrainingDivergedError:
            est._optimizer_state = None
            raise
        est._optimizer_state = to_cpu(ctx.optimizer.state_dict())

    def counters(self) -> tuple[int, int, int]:
        """Progress counters that go with the weights in the last snapshot."""
        return self.est.n_iter_, self.est.n_epochs_, self.est._n_averaged

    def update_average(self) -> None:
        """Add the current iterate to the uniform running average of the weights."""
        est = self.est
        if est.averaged_module_ is not None:
            est._n_averaged += 1
            running_average_(est.averaged_module_, est.module_, est._n_averaged)

    def modules(self) -> list[torch.nn.Module]:
        return [m for m in (self.est.module_, self.est.averaged_module_) if m is not None]

    def buffers(self) -> list[torch.Tensor]:
        return [b for m in self.modules() for b in m.buffers()]

    def state_tensors(self) -> list[torch.Tensor]:
        tensors = [t for m in self.modules() for t in m.state_dict().values()]
        return [t for t in tensors if t.is_floating_point()]

    def snapshot(self) -> list[torch.Tensor]:
        return [t.detach().clone() for t in self.state_tensors()]


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
