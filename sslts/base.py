"""The base class that every sslts estimator shares.

:class:`BaseSSLTransformer` owns the scikit-learn contract (parameters, validation,
fitted state, pickling, ``save``/``load``) and the training loop
(:mod:`sslts._loop`: device, seeding, batching, hooks, callbacks, loss history,
divergence and interruption handling, weight averaging, data parallelism).  A
method subclass declares what its paper's method section describes:

- ``_build_module(n_channels)``: everything that is trained (encoder and heads);
- ``training_step(module, batch, ctx)``: the views and the loss of one batch;
- ``_embed(module, batch, level)``: embeddings of a batch at a given level;
- optionally the loop hooks ``on_fit_start``, ``on_epoch_start``, ``on_step_end``,
  ``on_epoch_end``, ``on_fit_end`` and the builders ``_default_budget``,
  ``_prepare_training_data``, ``_make_optimizer``, ``_make_scheduler``,
  ``_min_length`` (with ``_min_length_source``), ``_n_features_out_for`` and
  ``_valid_levels``.

``docs/new_method.md`` walks through a complete method written on these hooks.

Reliability contract (``tests/test_common.py`` and friends check it for every
method): bad input fails validation with a message that says what to do; a
non-finite loss raises :class:`~sslts.TrainingDivergedError` and keeps the last
finite epoch's weights; Ctrl-C keeps the weights reached so far; running out of
device memory names the parameters to lower; a :class:`~sslts.Checkpoint` saves
every few epochs and resumes exactly; non-finite embeddings are never returned.
"""

from __future__ import annotations

import copy
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from . import distributed
from ._accelerate import maybe_compile, precision_context, thread_limit
from ._inference import InferenceMixin
from ._loop import TrainContext, TrainingLoop, TrainingStep, fit_callbacks
from ._persistence import PersistenceMixin, load, restore_estimator
from .callbacks import Checkpoint
from .exceptions import TrainingDivergedError
from .utils.torch_utils import (
    RandomStreams,
    fallback_device,
    resolve_device,
    running_average_,
    seeded_torch,
    to_cpu,
)
from .utils.validation import check_time_series

__all__ = ["BaseSSLTransformer", "Checkpoint", "load"]

# Data up to this size is moved to the accelerator once for the whole fit.
_DEVICE_RESIDENT_BYTES = 2 * 1024**3


class BaseSSLTransformer(InferenceMixin, PersistenceMixin, TransformerMixin, BaseEstimator):
    """Base class of self-supervised time-series transformers.

    Not meant to be instantiated: use one of the method classes
    (e.g. :class:`sslts.TS2VecTransformer`).  All subclasses share the parameters
    documented here under the same names.

    Parameters
    ----------
    n_epochs : int, default=None
        Passes over the training data.  With ``n_iters`` also set, training stops at
        whichever comes first; with neither set the method's default budget is used.
    n_iters : int, default=None
        Optimiser steps.
    batch_size : int
        Mini-batch size (capped at the number of training series).
    lr : float
        Learning rate.
    drop_last : bool
        Skip the last partial batch of every epoch (each method's default follows its
        official data loader).  A last batch of a single series is always skipped.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where to train and encode; "auto" picks CUDA when available.  The resolved
        device is stored in ``device_``.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, views and dropout.  With an int, two fits on
        the same CPU give bitwise-identical embeddings.  The global torch/numpy RNG
        state is never changed.
    verbose : int, default=0
        0 silent, 1 one line per epoch (:class:`~sslts.callbacks.PrintLog`), 2 a tqdm
        progress bar (:class:`~sslts.callbacks.ProgressBar`).
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights and optimiser state
        instead of starting afresh.
    level : str, default="instance"
        What ``transform`` returns: ``"instance"`` one vector per series, shape
        ``(n_series, n_features_out)``; ``"timestamp"`` one vector per time step,
        shape ``(n_series, n_timestamps, n_features_out)``.
    n_iter_no_change : int, default=None
        Stop when the epoch loss has not improved by ``tol`` for this many epochs (a
        shortcut for ``callbacks=[EarlyStopping(n_iter_no_change, tol)]``).
    tol : float, default=1e-4
        Minimum improvement of the epoch loss for early stopping.
    precision : {"float32", "tf32", "bf16"}, default="float32"
        Arithmetic of the network in ``fit`` and ``transform`` (see
        ``docs/performance.md``).
    compile : bool, default=False
        Compile the network with ``torch.compile``.
    callbacks : list of Callback, default=None
        Objects whose hooks run during ``fit`` (see :mod:`sslts.callbacks`).  ``fit``
        uses deep copies of them, kept in ``callbacks_``.
    sync_batchnorm : bool, default=False
        Under a CUDA process group, synchronise batch-norm statistics over the ranks
        (:class:`torch.nn.SyncBatchNorm`); see :mod:`sslts.distributed`.
    input_layout : {"channels_last", "channels_first"}, default="channels_last"
        How a 3-D array is read: ``(n_series, n_timestamps, n_channels)`` (tslearn,
        the official code) or ``(n_series, n_channels, n_timestamps)`` (aeon, sktime,
        tsai).  ``transform`` reads the layout seen in ``fit``.
    n_threads : int, default=None
        torch's intra-op CPU threads during ``fit``, ``transform`` and ``encode``,
        restored to the previous count when the call returns or raises; None leaves
        torch's setting alone.  torch's OpenMP threads spin while they wait for each
        other, so when other processes hold cores two threads on a 2-core machine run
        10-30x slower (``docs/performance.md``, "Shared machines"); ``n_threads=1``
        avoids that without changing global state.  (``OMP_WAIT_POLICY=PASSIVE`` is
        the alternative, but it must be set before torch is imported.)

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    averaged_module_ : torch.nn.Module or None
        Running average of the iterates (parameters and buffers), the encoder
        ``transform`` uses, for methods that average.
    device_ : torch.device
        Device the model lives on.
    n_channels_ : int
        Number of channels seen in ``fit``.
    n_features_in_ : int
        Number of time steps of the (padded) training array, as scikit-learn counts
        features of a 2-D input.
    input_layout_ : str
        The layout ``fit`` read, which ``transform`` reads too.
    loss_history_ : list of float
        Mean training loss of each epoch.
    n_iter_ : int
        Optimiser steps taken so far (cumulative over warm starts).
    n_epochs_ : int
        Epochs run so far (cumulative over warm starts).
    fit_time_ : float
        Wall-clock seconds of the last ``fit``.
    callbacks_ : list of Callback
        The callbacks of the last ``fit`` (copies of ``callbacks`` plus those the
        shortcuts added), with what they recorded.
    """

    _parameter_constraints: dict = {
        "n_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "n_iters": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "drop_last": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "level": [str],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "precision": [StrOptions({"float32", "tf32", "bf16"})],
        "compile": ["boolean"],
        "callbacks": [list, None],
        "sync_batchnorm": ["boolean"],
        "input_layout": [StrOptions({"channels_last", "channels_first"})],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }
    _valid_levels: tuple[str, ...] = ("instance", "timestamp")
    # Methods whose published encoder is a running average of the iterates set this.
    _average_weights: bool = False
    # Parameters that bound training memory, named when a fit runs out of it.
    _memory_params: tuple[str, ...] = ("batch_size", "max_train_length")

    # ----------------------------------------------------------- method hooks
    def _build_module(self, n_channels: int) -> torch.nn.Module:
        """Everything that is trained, as one module (built under the fit's seed)."""
        raise NotImplementedError

    def training_step(self, module: torch.nn.Module, batch: torch.Tensor, ctx) -> torch.Tensor:
        """The loss of one batch.

        Parameters
        ----------
        module : torch.nn.Module
            The network of ``_build_module``; call its sub-modules freely (the loop
            wraps this step, not the network, for data parallelism).
        batch : torch.Tensor of shape (batch_size, n_timestamps, n_channels)
            float32 on the training device; NaN marks missing values.
        ctx : TrainContext
            ``ctx.rng`` holds the only random streams a step may draw from (dropout
            draws from torch's default generator, which the loop seeds).  With
            ``ctx.training`` False the step computes a validation loss under
            ``torch.no_grad()`` and must leave method state alone.

        Returns
        -------
        torch.Tensor
            A 0-d loss.
        """
        raise NotImplementedError

    def _embed(self, module, batch: torch.Tensor, level: str) -> torch.Tensor:
        raise NotImplementedError

    def on_fit_start(self, ctx) -> None:
        """Called before the first epoch of every ``fit`` (resumed ones included)."""

    def on_epoch_start(self, ctx) -> None:
        """Called before the first step of every epoch."""

    def on_step_end(self, ctx) -> None:
        """Called after every optimiser step (``ctx.loss`` is the step's loss)."""

    def on_epoch_end(self, ctx) -> None:
        """Called after every epoch, before the callbacks (``ctx.logs`` is filled)."""

    def on_fit_end(self, ctx) -> None:
        """Called when ``fit`` ends, however it ends (``ctx.logs["status"]``)."""

    def _n_features_out_for(self, level: str) -> int:
        """Size of the last axis of the embedding at ``level``."""
        return self.output_dims

    def _default_budget(self, X: np.ndarray) -> tuple[int | None, int | None]:
        """``(n_epochs, n_iters)`` used when the user set neither."""
        return 100, None

    def _prepare_training_data(self, X: np.ndarray) -> np.ndarray:
        """Method-specific reshaping of the training set (sectioning, cleaning)."""
        return X

    def _make_optimizer(self, params) -> torch.optim.Optimizer:
        return torch.optim.AdamW(params, lr=self.lr)

    def _make_scheduler(self, optimizer):
        """The method's learning-rate schedule, stepped after every epoch, or None."""
        return None

    def _min_length(self, training: bool) -> int:
        """Fewest time steps ``fit`` (``training=True``) or ``transform`` accepts."""
        return 1

    def _min_length_source(self, training: bool) -> str | None:
        """The parameter setting that imposes ``_min_length``, e.g. ``"views='warp'"``.

        The error for shorter series names it, so that the user knows what to change;
        a method whose ``_min_length`` exceeds 1 step must override it.
        """
        return None

    # ------------------------------------------------------------- public API
    def fit(self, X, y=None, *, checkpoint=None):
        """Train the self-supervised encoder on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps) or \
                (n_series, n_timestamps, n_channels), or list of arrays
            Training series; ``NaN`` marks missing values or padding.  With
            ``input_layout="channels_first"``, 3-D input is ``(n_series, n_channels,
            n_timestamps)`` and list items are ``(n_channels, n_timestamps_i)``.
        y : None
            Ignored; present for Pipeline compatibility.
        checkpoint : Checkpoint, str or path-like, default=None
            Save the training state every few epochs and resume from an earlier
            checkpoint of the same parameters and data (see :class:`sslts.Checkpoint`);
            a path stands for ``Checkpoint(path)``.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        TrainingDivergedError
            The loss became NaN or infinite; the weights of the last finite epoch are
            kept.
        torch.OutOfMemoryError
            The device ran out of memory; the message names the parameters to lower.
        """
        self._validate_params()
        # getattr: subclasses written before n_threads existed do not declare it.
        with thread_limit(getattr(self, "n_threads", None)):
            return self._fit(X, checkpoint)

    def _fit(self, X, checkpoint):
        self._check_level()
        warm = self.warm_start and hasattr(self, "module_")
        X = check_time_series(
            X, n_channels=self.n_channels_ if warm else None, estimator=self,
            min_timestamps=self._min_length(True),
            min_timestamps_source=self._min_length_source(True), layout=self.input_layout,
            reset=True,
        )
        callbacks = fit_callbacks(self, checkpoint)
        saved = next((cb for cb in callbacks if isinstance(cb, Checkpoint)), None)
        resume = saved.read(self, X) if saved is not None else None
        start = time.perf_counter()
        if resume is not None:
            restore_estimator(self, resume)
        elif not warm:
            self._initialise(X)
        else:
            self.device_ = fallback_device(self.device_)
            self.module_.to(self.device_)
        self.input_layout_ = self.input_layout
        self.callbacks_ = callbacks
        self._train(X, None if resume is None else resume["run"])
        self.fit_time_ = time.perf_counter() - start
        return self

    # ------------------------------------------------------------- training
    def _check_level(self, level=None):
        level = self.level if level is None else level
        if level not in self._valid_levels:
            raise ValueError(
                f"level={level!r} is not supported by {type(self).__name__}; "
                f"choose one of {self._valid_levels}."
            )

    def _initialise(self, X: np.ndarray) -> None:
        self.device_ = resolve_device(self.device)
        self.n_channels_ = X.shape[2]
        self.n_features_in_ = X.shape[1]
        self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        with seeded_torch(self._seed, self.device_):
            self.module_ = self._build_module(self.n_channels_).to(self.device_)
        self.averaged_module_ = copy.deepcopy(self.module_) if self._average_weights else None
        self._n_averaged = 1
        self._optimizer_state = None
        self.loss_history_ = []
        self.n_iter_ = 0
        self.n_epochs_ = 0

    def _budget(self, X: np.ndarray) -> tuple[int | None, int | None]:
        if self.n_epochs is None and self.n_iters is None:
            return self._default_budget(X)
        return self.n_epochs, self.n_iters

    def _device_data(self, X: np.ndarray) -> torch.Tensor:
        data = torch.from_numpy(X)
        if self.device_.type == "cpu":
            return data
        if X.nbytes <= _DEVICE_RESIDENT_BYTES:
            return data.to(self.device_)
        return data.pin_memory()

    def _context(self, X: np.ndarray, run: dict | None) -> TrainContext:
        """The loop's state for this fit: data, optimiser, schedule, streams, budget."""
        n_epochs, n_iters = self._budget(X)
        # Under torchrun each rank trains on its shard, from rank 0's weights.
        X_train = distributed.shard(self._prepare_training_data(X))
        distributed.broadcast_(self._state_tensors())
        optimizer = self._make_optimizer(self.module_.parameters())
        if self._optimizer_state is not None:
            optimizer.load_state_dict(self._optimizer_state)
        # A warm start draws fresh views; a resumed fit continues the saved streams.
        seed = self._seed + self.n_iter_ if run is None else run["seed"]
        ctx = TrainContext(
            estimator=self,
            rng=RandomStreams(seed + distributed.rank_and_world()[0], self.device_),
            data=self._device_data(X_train),
            batch_size=min(self.batch_size, len(X_train)),
            drop_last=self.drop_last,
            optimizer=optimizer,
            scheduler=self._make_scheduler(optimizer),
            n_epochs=n_epochs,
            n_iters=n_iters,
            seed=seed,
            input_shape=X.shape,
            callbacks=self.callbacks_,
            start_iter=self.n_iter_,
            start_epoch=self.n_epochs_,
        )
        return ctx

    def _train(self, X: np.ndarray, run: dict | None) -> None:
        ctx = self._context(X, run)
        snapshot, good = self._snapshot(), self._counters()

        def on_good_epoch():
            nonlocal good
            distributed.broadcast_(self._buffers())  # ranks end each epoch identical
            self._take_snapshot(snapshot)
            good = self._counters()

        step = distributed.data_parallel(
            TrainingStep(self._accelerated(self.module_), self.training_step),
            self.device_, sync_batchnorm=self.sync_batchnorm,
        )
        loop = TrainingLoop(ctx, step, self._precision, self._update_average, on_good_epoch)
        status = "failed"  # until the loop returns, or a handled fault says otherwise
        self.module_.train()
        try:
            with seeded_torch(ctx.seed, self.device_):
                if run is not None:
                    ctx.load_state_dict(run)
                try:
                    loop.run()
                    status = "completed"
                except KeyboardInterrupt:
                    status = "interrupted"
                    warnings.warn(
                        f"{type(self).__name__}.fit was interrupted after {self.n_iter_} "
                        "iterations; the estimator keeps the weights reached so far and "
                        "can transform.",
                        RuntimeWarning,
                        stacklevel=4,
                    )
                except (TrainingDivergedError, torch.OutOfMemoryError) as exc:
                    diverged = isinstance(exc, TrainingDivergedError)
                    status = "diverged" if diverged else "out_of_memory"
                    self._restore(snapshot)
                    self.n_iter_, self.n_epochs_, self._n_averaged = good
                    raise
                finally:
                    ctx.logs["status"] = status
                    loop.call("on_fit_end")
                    # Fitted networks stay in eval mode, so that transform changes no
                    # state (aeon's check_non_state_changing_method hashes the estimator).
                    for module in (self.module_, self.averaged_module_):
                        if module is not None:
                            module.eval()
        except torch.OutOfMemoryError as exc:
            self._optimizer_state = None
            torch.cuda.empty_cache()
            raise torch.OutOfMemoryError(self._out_of_memory_message()) from exc
        except TrainingDivergedError:
            self._optimizer_state = None
            raise
        self._optimizer_state = to_cpu(ctx.optimizer.state_dict())

    def _counters(self) -> tuple[int, int, int]:
        """Progress counters that go with the weights in the last snapshot."""
        return self.n_iter_, self.n_epochs_, self._n_averaged

    def _out_of_memory_message(self) -> str:
        params = self.get_params(deep=False)
        known = [k for k in self._memory_params if k in params]
        unset = [k for k in known if params[k] is None]  # None is unbounded: set it
        lower = [k for k in known if k not in unset]
        advice = " or ".join(f"{verb} {' or '.join(ks)}" for verb, ks in
                             (("Lower", lower), ("set", unset)) if ks)
        return (
            f"{type(self).__name__}.fit ran out of {self.device_} memory with "
            f"{', '.join(f'{k}={params[k]}' for k in known)}. {advice} "
            "(or train on the CPU); the weights of the last complete epoch were kept."
        )

    def _precision(self):
        """Autocast/TF32 context from the estimator's ``precision``."""
        return precision_context(self.precision, self.device_)

    def _accelerated(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` compiled when the estimator has ``compile=True``."""
        return maybe_compile(module, self.compile)

    def _update_average(self) -> None:
        """Add the current iterate to the uniform running average of the weights."""
        if self.averaged_module_ is not None:
            self._n_averaged += 1
            running_average_(self.averaged_module_, self.module_, self._n_averaged)

    def _buffers(self) -> list[torch.Tensor]:
        modules = [m for m in (self.module_, self.averaged_module_) if m is not None]
        return [b for m in modules for b in m.buffers()]

    def _state_tensors(self) -> list[torch.Tensor]:
        tensors = list(self.module_.state_dict().values())
        if self.averaged_module_ is not None:
            tensors += list(self.averaged_module_.state_dict().values())
        return [t for t in tensors if t.is_floating_point()]

    def _snapshot(self) -> list[torch.Tensor]:
        return [t.detach().clone() for t in self._state_tensors()]

    @torch.no_grad()
    def _take_snapshot(self, snapshot: list[torch.Tensor]) -> None:
        torch._foreach_copy_(snapshot, self._state_tensors())

    @torch.no_grad()
    def _restore(self, snapshot: list[torch.Tensor]) -> None:
        torch._foreach_copy_(self._state_tensors(), snapshot)

    def _inference_module(self) -> torch.nn.Module:
        return self.averaged_module_ if self.averaged_module_ is not None else self.module_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = False
        return tags
