"""The base class that every sslts estimator shares.

:class:`BaseSSLTransformer` owns the scikit-learn contract (parameters, validation,
fitted state, pickling, ``save``/``load``) and the training loop (device, seeding,
batching, progress, loss history, early stopping, divergence and interruption
handling, weight averaging).  A method subclass declares only:

- ``_build_module(n_channels)``: the network (encoder plus any training heads);
- ``_training_step(module, batch, rng)``: the views and the loss for one batch;
- ``_embed(module, batch, level)``: embeddings of a batch at a given level;
- optionally ``_default_budget``, ``_prepare_training_data``, ``_make_optimizer``,
  ``_make_scheduler``, ``_on_epoch_end``, ``_min_length`` and ``_valid_levels``.

Reliability contract (``tests/test_common.py`` and friends check it for every
method): bad input fails validation with a message that says what to do; a
non-finite loss raises :class:`~sslts.TrainingDivergedError` and keeps the last
finite epoch's weights; Ctrl-C keeps the weights reached so far; running out of
device memory names the parameters to lower; a :class:`~sslts.Checkpoint` passed to
``fit`` saves every few epochs and resumes exactly; non-finite embeddings are never
returned.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _persistence, distributed
from ._accelerate import maybe_compile, precision_context
from ._loop import Progress, TrainingLoop
from ._persistence import Checkpoint, PersistenceMixin, load
from .exceptions import TrainingDivergedError
from .utils.torch_utils import RandomStreams, fallback_device, resolve_device, seeded_torch, to_cpu
from .utils.validation import check_finite_embeddings, check_time_series

__all__ = ["BaseSSLTransformer", "Checkpoint", "load"]

# Data up to this size is moved to the accelerator once for the whole fit.
_DEVICE_RESIDENT_BYTES = 2 * 1024**3
# Rough number of activation floats one inference batch may hold.
_INFERENCE_BUDGET = 2**24
# Input values validated and encoded at a time by ``encode`` (16 MB of float32), so
# that its working memory (several times a block) does not grow with the number of
# series.
_ENCODE_BLOCK_VALUES = 2**22


class BaseSSLTransformer(PersistenceMixin, TransformerMixin, BaseEstimator):
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
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where to train and encode; "auto" picks CUDA when available.  The resolved
        device is stored in ``device_``.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, views and dropout.  With an int, two fits on
        the same CPU give bitwise-identical embeddings.  The global torch/numpy RNG
        state is never changed.
    verbose : int, default=0
        0 silent, 1 one line per epoch, 2 a tqdm progress bar.
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights and optimiser state
        instead of starting afresh.
    level : str, default="instance"
        What ``transform`` returns: ``"instance"`` one vector per series, shape
        ``(n_series, n_features_out)``; ``"timestamp"`` one vector per time step,
        shape ``(n_series, n_timestamps, n_features_out)``.
    n_iter_no_change : int, default=None
        Stop when the epoch loss has not improved by ``tol`` for this many epochs.
    tol : float, default=1e-4
        Minimum improvement of the epoch loss for early stopping.
    precision : {"float32", "tf32", "bf16"}, default="float32"
        Arithmetic of the network in ``fit`` and ``transform`` (see
        ``docs/performance.md``).
    compile : bool, default=False
        Compile the network with ``torch.compile``.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    device_ : torch.device
        Device the model lives on.
    n_channels_ : int
        Number of channels seen in ``fit``.
    n_features_in_ : int
        Number of time steps of the (padded) training array, as scikit-learn counts
        features of a 2-D input.
    loss_history_ : list of float
        Mean training loss of each epoch.
    n_iter_ : int
        Optimiser steps taken so far (cumulative over warm starts).
    n_epochs_ : int
        Epochs run so far (cumulative over warm starts).
    fit_time_ : float
        Wall-clock seconds of the last ``fit``.
    """

    _parameter_constraints: dict = {
        "n_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "n_iters": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "level": [str],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "precision": [StrOptions({"float32", "tf32", "bf16"})],
        "compile": ["boolean"],
    }
    _valid_levels: tuple[str, ...] = ("instance", "timestamp")
    # Methods whose published encoder is a running average of the iterates set this.
    _average_weights: bool = False

    # ------------------------------------------------------------------ hooks
    def _build_module(self, n_channels: int) -> torch.nn.Module:
        raise NotImplementedError

    def _training_step(self, module, batch: torch.Tensor, rng: RandomStreams) -> torch.Tensor:
        raise NotImplementedError

    def _embed(self, module, batch: torch.Tensor, level: str) -> torch.Tensor:
        raise NotImplementedError

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
        return None

    def _on_epoch_end(self, epoch_loss: float) -> None:
        """Called after every completed epoch (e.g. IARS picks its next resolution)."""

    def _drop_last(self) -> bool:
        return True

    def _min_length(self, training: bool) -> int:
        """Fewest time steps ``fit`` (``training=True``) or ``transform`` accepts.

        Methods with patches, pooling depth or pieces override this; shorter input
        then fails validation with a ValueError that names the minimum.
        """
        return 1

    # Parameters that bound training memory, named when a fit runs out of it.
    _memory_params: tuple[str, ...] = ("batch_size", "max_train_length")

    # ------------------------------------------------------------- public API
    def fit(self, X, y=None, *, checkpoint=None):
        """Train the self-supervised encoder on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps) or \
                (n_series, n_timestamps, n_channels), or list of arrays
            Training series; ``NaN`` marks missing values or padding.
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
        self._check_level()
        if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
            checkpoint = Checkpoint(checkpoint)
        resume = checkpoint.read(self) if checkpoint is not None else None
        warm = self.warm_start and hasattr(self, "module_")
        n_channels = self.n_channels_ if warm else None
        if resume is not None:
            n_channels = resume["fitted"]["n_channels_"]
        X = check_time_series(
            X, n_channels=n_channels, estimator=self, min_timestamps=self._min_length(True)
        )
        start = time.perf_counter()
        if resume is not None:
            self._resume(X, resume, checkpoint)
        elif not warm:
            self._initialise(X)
        else:
            self.device_ = fallback_device(self.device_)
            self.module_.to(self.device_)
        self._train(X, resume, checkpoint)
        self.fit_time_ = time.perf_counter() - start
        return self

    def transform(self, X):
        """Embed series with the trained encoder.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels]) or list of arrays
            Series to embed; the channel count must match ``fit``.

        Returns
        -------
        X_new : ndarray of shape (n_series, n_features_out) for ``level="instance"`` \
                or (n_series, n_timestamps, n_features_out) for ``level="timestamp"``
            float32 embeddings.
        """
        return self.encode(X)

    def encode(self, X, *, level: str | None = None, batch_size: int | None = None):
        """Embed series at any level without changing the ``level`` parameter.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps[, n_channels]) or list of arrays
            Series to embed.
        level : str, default=None
            Overrides ``self.level`` for this call.
        batch_size : int, default=None
            Series per inference batch; by default chosen from the series length so
            that activation memory stays bounded.  On a CUDA out-of-memory error the
            batch is halved and retried.

        Returns
        -------
        ndarray, float32
            See :meth:`transform` for the shapes.

        Raises
        ------
        ValueError
            Invalid input, or embeddings that would be NaN/infinite at observed
            timestamps (values too large for float32 arithmetic).
        """
        check_is_fitted(self, "module_")
        level = self.level if level is None else level
        self._check_level(level)
        if isinstance(X, np.ndarray) and X.ndim >= 2:
            block = max(1, _ENCODE_BLOCK_VALUES // max(1, X[:1].size))
            if len(X) > block:
                return self._encode_in_blocks(X, level, batch_size, block)
        X = check_time_series(
            X, n_channels=self.n_channels_, estimator=self, min_timestamps=self._min_length(False)
        )
        if batch_size is None:
            width = max(self._n_features_out_for(level), getattr(self, "hidden_dims", 64))
            batch_size = max(1, min(1024, _INFERENCE_BUDGET // (X.shape[1] * width)))
        Z = self._encode_batches(X, level, batch_size)
        check_finite_embeddings(X, Z, estimator=self)
        return Z

    def _encode_in_blocks(self, X: np.ndarray, level: str, batch_size, block: int) -> np.ndarray:
        """Validate and encode ``block`` series at a time into one preallocated output.

        Validation copies and scans its input, so doing it per block keeps the
        working memory O(block) for arrays of any length (e.g. memory-mapped ones);
        only the output grows with the number of series.
        """
        out = None
        for start in range(0, len(X), block):
            stop = min(start + block, len(X))
            try:
                Z = self.encode(X[start:stop], level=level, batch_size=batch_size)
            except ValueError as exc:  # its series indices count from ``start``
                raise ValueError(f"In X[{start}:{stop}]: {exc}") from exc
            if out is None:
                out = np.empty((len(X),) + Z.shape[1:], dtype=Z.dtype)
            out[start : start + len(Z)] = Z
        return out

    def _encode_batches(self, X: np.ndarray, level: str, batch_size: int) -> np.ndarray:
        self.device_ = fallback_device(self.device_)
        module = self._accelerated(self._inference_module().to(self.device_))
        module.eval()
        outputs = []
        start = 0
        with torch.inference_mode():
            while start < len(X):
                xb = torch.from_numpy(X[start : start + batch_size]).to(self.device_)
                try:
                    with self._precision():
                        out = self._embed(module, xb, level)
                except torch.OutOfMemoryError as exc:
                    if batch_size == 1:
                        raise torch.OutOfMemoryError(
                            f"{type(self).__name__}: a single series of length {X.shape[1]} "
                            f"does not fit in {self.device_} memory; encode shorter "
                            "windows or set_params(device='cpu')."
                        ) from exc
                    batch_size = max(1, batch_size // 2)
                    torch.cuda.empty_cache()
                    continue
                outputs.append(out.float().cpu().numpy())
                start += len(xb)
        return np.concatenate(outputs, axis=0)

    def __sklearn_is_fitted__(self) -> bool:
        # Parameters such as ``lambda_`` end with "_" too, so sklearn's default test
        # (any attribute ending with "_") would call an unfitted estimator fitted.
        return hasattr(self, "module_")

    def get_feature_names_out(self, input_features=None):
        """Output feature names for ``level="instance"``.

        Parameters
        ----------
        input_features : None
            Ignored; series have no per-feature names.

        Returns
        -------
        feature_names_out : ndarray of str
            ``["<classname>0", "<classname>1", ...]``.
        """
        check_is_fitted(self, "module_")
        if self.level != "instance":
            raise ValueError(
                f"Feature names exist only for 2-D output; level={self.level!r} returns a "
                "3-D array. Use level='instance' with set_output(transform='pandas')."
            )
        prefix = type(self).__name__.lower()
        n_out = self._n_features_out_for("instance")
        return np.asarray([f"{prefix}{i}" for i in range(n_out)], dtype=object)

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

    def _resume(self, X: np.ndarray, payload: dict, checkpoint) -> None:
        """Load the state of ``checkpoint`` into ``self``, refusing other data."""
        if payload["run"]["fingerprint"] != _persistence.data_fingerprint(X):
            raise ValueError(
                f"{checkpoint.path} was trained on other data than X; resume with the same "
                "X, or use another directory or resume=False."
            )
        _persistence.restore(self, payload)

    def _train(self, X: np.ndarray, resume: dict | None = None, checkpoint=None) -> None:
        X_train = self._prepare_training_data(X)
        if resume is not None:  # data preparation may have reset the method's state
            _persistence.restore_private(self, resume)
        run = None if resume is None else _persistence.run_state(resume)
        snapshot, good = self._snapshot(), self._counters()
        loop = None
        try:
            loop = self._start_loop(X, X_train, run)
            with seeded_torch(loop.seed, self.device_):
                if run is not None:
                    loop.set_random_state(run)
                while loop.more():
                    epoch_loss = self._run_epoch(loop)
                    self._end_epoch(loop, epoch_loss, snapshot)
                    good = self._counters()
                    if checkpoint is not None and checkpoint.due(loop.epochs_done):
                        self._write_checkpoint(loop, checkpoint)
                    if loop.stop:
                        break
            if checkpoint is not None and not checkpoint.due(loop.epochs_done):
                self._write_checkpoint(loop, checkpoint)
        except KeyboardInterrupt:
            warnings.warn(
                f"{type(self).__name__}.fit was interrupted after {self.n_iter_} iterations; "
                "the estimator keeps the weights reached so far and can transform.",
                RuntimeWarning,
                stacklevel=3,
            )
        except (TrainingDivergedError, torch.OutOfMemoryError) as exc:
            self._restore(snapshot)
            self.n_iter_, self.n_epochs_, self._n_averaged = good
            self._optimizer_state = None
            if isinstance(exc, torch.OutOfMemoryError):
                torch.cuda.empty_cache()
                raise torch.OutOfMemoryError(self._out_of_memory_message()) from exc
            raise
        finally:
            if loop is not None:
                loop.progress.close()
        if loop is not None:
            self._optimizer_state = to_cpu(loop.optimizer.state_dict())

    def _counters(self) -> tuple[int, int, int]:
        """Progress counters that go with the weights in the last snapshot."""
        return self.n_iter_, self.n_epochs_, self._n_averaged

    def _start_loop(self, X: np.ndarray, X_train: np.ndarray, run: dict | None) -> TrainingLoop:
        n_epochs, n_iters = self._budget(X)
        # Under torchrun each rank trains on its shard, from rank 0's weights.
        X_train = distributed.shard(X_train)
        distributed.broadcast_(self._state_tensors())
        n = len(X_train)
        batch_size = min(self.batch_size, n)
        optimizer = self._make_optimizer(self.module_.parameters())
        if self._optimizer_state is not None:
            optimizer.load_state_dict(self._optimizer_state)
        scheduler = self._make_scheduler(optimizer)
        if run is not None and scheduler is not None:
            # A new scheduler resets the learning rate; the checkpoint's is the one to use.
            optimizer.load_state_dict(self._optimizer_state)
            scheduler.load_state_dict(run["scheduler"])
        seed = self._seed + self.n_iter_ if run is None else run["seed"]  # fresh warm-start views
        return TrainingLoop(
            data=self._device_data(X_train),
            batch_size=batch_size,
            steps=n // batch_size if self._drop_last() else math.ceil(n / batch_size),
            optimizer=optimizer,
            scheduler=scheduler,
            rng=RandomStreams(seed + distributed.rank_and_world()[0], self.device_),
            progress=Progress(type(self).__name__, self.verbose, n_epochs, n_iters),
            n_epochs=n_epochs,
            n_iters=n_iters,
            seed=seed,
            fingerprint=_persistence.data_fingerprint(X),
        )

    def _run_epoch(self, loop: TrainingLoop) -> float:
        """One pass over the shuffled data; returns the mean loss (one host sync)."""
        n, bs = len(loop.data), loop.batch_size
        order = torch.from_numpy(loop.rng.numpy.permutation(n))
        total = torch.zeros((), device=self.device_)
        done = 0
        module = self._accelerated(self.module_)
        for k in range(loop.steps):
            idx = order[k * bs : (k + 1) * bs]
            batch = loop.data[idx.to(loop.data.device)].to(self.device_, non_blocking=True)
            total += self._optimizer_step(module, loop.optimizer, batch, loop.rng)
            done += 1
            loop.iters_done += 1
            self.n_iter_ += 1
            loop.progress.step()
            if not loop.iters_remain():
                break
        loop.epochs_done += 1
        self.n_epochs_ += 1
        # One host sync per epoch; the mean over ranks keeps their decisions in step.
        return float(distributed.all_reduce_mean(total / max(done, 1)))

    def _end_epoch(self, loop: TrainingLoop, epoch_loss: float, snapshot: list) -> None:
        if not math.isfinite(epoch_loss):
            raise TrainingDivergedError(
                f"{type(self).__name__}: the training loss became {epoch_loss} in epoch "
                f"{self.n_epochs_}. The weights of the last finite epoch were kept. Lower lr "
                f"(now {self.lr}) or rescale the data."
            )
        self._take_snapshot(snapshot)
        self.loss_history_.append(epoch_loss)
        if loop.scheduler is not None:
            loop.scheduler.step()
        loop.progress.epoch(epoch_loss, self.n_epochs_, self.n_iter_)
        self._on_epoch_end(epoch_loss)
        if self.n_iter_no_change is not None:
            if epoch_loss < loop.best - self.tol:
                loop.best, loop.stale = epoch_loss, 0
            else:
                loop.stale += 1
                loop.stop = loop.stale >= self.n_iter_no_change

    def _write_checkpoint(self, loop: TrainingLoop, checkpoint) -> None:
        self._optimizer_state = to_cpu(loop.optimizer.state_dict())
        if distributed.is_main_process():  # the ranks hold identical weights
            checkpoint.write(self, loop.state(self.device_))

    def _out_of_memory_message(self) -> str:
        params = self.get_params(deep=False)
        named = [f"{k}={params[k]}" for k in self._memory_params if params.get(k) is not None]
        return (
            f"{type(self).__name__}.fit ran out of {self.device_} memory with "
            f"{', '.join(named)}. Lower {' or '.join(k.split('=')[0] for k in named)} "
            "(or train on the CPU); the weights of the last complete epoch were kept."
        )

    def _optimizer_step(self, module, optimizer, batch, rng) -> torch.Tensor:
        with self._precision():
            loss = self._training_step(module, batch, rng)
        if loss.requires_grad:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            distributed.average_gradients(module.parameters())
            optimizer.step()
        if self.averaged_module_ is not None:
            self._update_average()
        return loss.detach()

    def _precision(self):
        """Autocast/TF32 context from the estimator's ``precision`` (float32 if absent)."""
        return precision_context(getattr(self, "precision", "float32"), self.device_)

    def _accelerated(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` compiled when the estimator has ``compile=True``."""
        return maybe_compile(module, getattr(self, "compile", False))

    @torch.no_grad()
    def _update_average(self) -> None:
        # Uniform running mean of every iterate (TS2Vec's AveragedModel), fused.
        self._n_averaged += 1
        avg = list(self.averaged_module_.parameters())
        cur = list(self.module_.parameters())
        torch._foreach_lerp_(avg, cur, 1.0 / self._n_averaged)

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

