"""The base class of every estimator sslts trains (re-exported by :mod:`sslts.base`).

:class:`BaseSSLEstimator` owns the scikit-learn contract (parameters, validation,
fitted state, pickling, ``save``/``load``) and runs the training loop
(:mod:`sslts._loop`).  The method hooks are listed in :mod:`sslts.base`.

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
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from . import _registry
from ._accelerate import maybe_compile, precision_context, thread_limit
from ._context import TrainContext
from ._conventions import (
    SHARED_ATTRIBUTES,
    SHARED_PARAMETERS,
    adopt_renamed_hooks,
    check_signature,
    complete_docstring,
)
from ._loop import TrainingRun
from ._persistence import PersistenceMixin, restore_estimator
from .callbacks import Checkpoint
from .utils.devices import check_network_fits, fallback_device, resolve_device, seeded_torch
from .utils.validation import StrictParamsMixin, check_time_series

__all__ = ["BaseSSLEstimator"]

class BaseSSLEstimator(PersistenceMixin, StrictParamsMixin, BaseEstimator):
    """Base class of every estimator that sslts trains: parameters, the loop, persistence.

    It owns what every trained estimator shares: the scikit-learn parameter contract,
    ``fit`` on the training loop (devices, seeding, batching, callbacks, schedules,
    checkpoints, data parallelism), pickling and ``save``/``load``.  The embedding
    methods subclass :class:`BaseSSLTransformer`, which adds ``transform``;
    :class:`~sslts.NCVQVAEGenerator` subclasses this class directly.  Every subclass
    takes the parameters below under the same names (``level`` only where there are
    embeddings), with its own defaults, and documents them by ending its
    ``Parameters`` section with the line ``[shared parameters]`` (and its
    ``Attributes`` with ``[shared attributes]``).

    Parameters
    ----------
    [shared parameters]

    Attributes
    ----------
    averaged_module_ : torch.nn.Module or None
        Running average of the iterates (parameters and buffers), the network
        inference uses, for methods with ``average_weights = True``.
    [shared attributes]
    """

    #: Constraints of the shared parameters (scikit-learn's vocabulary).  A subclass
    #: declares only its own in ``parameter_constraints``; the classes' dicts are
    #: merged along the MRO into ``_parameter_constraints``, which scikit-learn reads.
    parameter_constraints: dict = {
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
    _parameter_constraints: dict = parameter_constraints
    _parameter_docs = SHARED_PARAMETERS
    _attribute_docs = SHARED_ATTRIBUTES
    #: True when the published encoder is the running average of the iterates.
    average_weights: bool = False
    #: Parameters that bound training memory, named when a fit runs out of it.
    memory_params: tuple[str, ...] = ("batch_size", "max_train_length")
    #: Fewest series a training step can take (2 where batch statistics are computed:
    #: batch norm, contrastive negatives); ``batch_size`` and micro-batches are held to it.
    min_batch_size: int = 1

    #: The shared parameters every subclass's ``__init__`` must take.
    required_parameters: tuple[str, ...] = tuple(n for n in SHARED_PARAMETERS if n != "level")

    def __init_subclass__(cls, *, abstract: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        adopt_renamed_hooks(cls)
        merged: dict = {}
        for klass in reversed(cls.__mro__):
            merged.update(vars(klass).get("parameter_constraints", {}))
        if "batch_size" not in vars(cls).get("parameter_constraints", {}):
            merged["batch_size"] = [Interval(Integral, cls.min_batch_size, None, closed="left")]
        cls._parameter_constraints = merged
        if "__init__" in vars(cls):
            check_signature(cls, cls.required_parameters)
        complete_docstring(cls)
        if not abstract:  # a base class for methods is not an estimator users fit
            _registry.register(cls)

    # ----------------------------------------------------------- method hooks
    def build_module(self, n_channels: int) -> torch.nn.Module:
        """Everything that is trained, as one module (required).

        Called once per fresh fit, under the fit's seed, after ``n_features_in_`` is
        set; also when a saved model is loaded (its weights then overwrite the
        initial ones).

        Parameters
        ----------
        n_channels : int
            Channels of the training series.

        Returns
        -------
        torch.nn.Module
            The encoder and any heads the loss needs, on the CPU (the loop moves it).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement build_module.")

    def training_step(self, module: torch.nn.Module, batch: torch.Tensor,
                      ctx: TrainContext) -> torch.Tensor:
        """The loss of one batch (required).

        Parameters
        ----------
        module : torch.nn.Module
            The network of ``build_module``; call its sub-modules freely (the loop
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
        raise NotImplementedError(f"{type(self).__name__} must implement training_step.")

    def configure_optimizer(self, params) -> torch.optim.Optimizer:
        """The optimiser of a fresh fit: AdamW at ``lr`` (and ``weight_decay`` if any).

        Parameters
        ----------
        params : iterable of torch.nn.Parameter
            The parameters of ``module_``.

        Returns
        -------
        torch.optim.Optimizer
        """
        # 0.01 is AdamW's own default, for methods without a weight_decay parameter.
        decay = getattr(self, "weight_decay", 0.01)
        return torch.optim.AdamW(params, lr=self.lr, weight_decay=decay)

    def configure_scheduler(self, optimizer: torch.optim.Optimizer, ctx: TrainContext):
        """The method's learning-rate schedule, or None for a constant rate.

        Called after every ``on_fit_start`` hook, so that ``ctx`` knows this fit's
        budget and data (``ctx.planned_steps``).  A method with a schedule must let
        the user turn it off (e.g. ``lr_schedule="constant"``): a
        :class:`~sslts.callbacks.LearningRateScheduler` is refused while it is on.

        Parameters
        ----------
        optimizer : torch.optim.Optimizer
        ctx : TrainContext

        Returns
        -------
        SchedulerConfig, torch.optim.lr_scheduler.LRScheduler or None
            A bare scheduler is stepped after every epoch
            (:class:`~sslts.schedules.SchedulerConfig` says otherwise).
        """
        return None

    def default_budget(self, X: np.ndarray) -> tuple[int | None, int | None]:
        """``(n_epochs, n_iters)`` used when the user set neither.

        Parameters
        ----------
        X : ndarray of shape (n_series, n_timestamps, n_channels)
            The validated training array.

        Returns
        -------
        tuple of (int or None, int or None)
        """
        return 100, None

    def prepare_training_data(self, X: np.ndarray) -> np.ndarray:
        """Method-specific reshaping of the validated training array (sections, cleaning).

        Parameters
        ----------
        X : ndarray of shape (n_series, n_timestamps, n_channels), float32

        Returns
        -------
        ndarray of shape (n_series', n_timestamps', n_channels), float32
        """
        return X

    def min_length(self, training: bool) -> int:
        """Fewest time steps ``fit`` (``training=True``) or ``transform`` accepts.

        Parameters
        ----------
        training : bool

        Returns
        -------
        int
        """
        return 1

    def min_length_source(self, training: bool) -> str | None:
        """The parameter setting that imposes ``min_length``, e.g. ``"views='warp'"``.

        The error for shorter series names it, so that the user knows what to change;
        a method whose ``min_length`` exceeds 1 step must override it.

        Parameters
        ----------
        training : bool

        Returns
        -------
        str or None
        """
        return None

    def on_fit_start(self, ctx: TrainContext) -> None:
        """Called before the first epoch of every ``fit`` (resumed ones included)."""

    def on_epoch_start(self, ctx: TrainContext) -> None:
        """Called before the first step of every epoch."""

    def on_before_optimizer_step(self, ctx: TrainContext) -> None:
        """Called after the step's gradients are computed (and reduced over the ranks),
        just before the optimiser uses them."""

    def on_step_end(self, ctx: TrainContext) -> None:
        """Called after every optimiser step (``ctx.loss`` is the step's loss)."""

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """Called after every epoch, before the callbacks (``ctx.logs`` is filled)."""

    def on_fit_end(self, ctx: TrainContext) -> None:
        """Called when ``fit`` ends, however it ends (``ctx.logs["status"]``)."""

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
        self._check_fit_parameters()
        with thread_limit(self.n_threads):
            return self._fit(X, checkpoint)

    def _check_fit_parameters(self) -> None:
        """Checks across parameters, after each was validated on its own."""

    def _fit(self, X, checkpoint):
        warm = self.warm_start and hasattr(self, "module_")
        X = check_time_series(
            X, n_channels=self.n_channels_ if warm else None, estimator=self,
            min_timestamps=self.min_length(True),
            min_timestamps_source=self.min_length_source(True), layout=self.input_layout,
            reset=True,
        )
        run = TrainingRun(self)
        callbacks = run.callbacks(checkpoint)
        saved = next((cb for cb in callbacks if isinstance(cb, Checkpoint)), None)
        resume = saved.read(self, X) if saved is not None else None
        start = time.perf_counter()
        if resume is not None:
            restore_estimator(self, resume)
        elif not warm:
            self._initialise(X)
        else:
            self._check_same_network()
            self.device_ = fallback_device(self.device_)
            self.module_.to(self.device_)
        self.input_layout_ = self.input_layout
        self.callbacks_ = callbacks
        run.train(X, None if resume is None else resume["run"], warm=warm and resume is None)
        self.fit_time_ = time.perf_counter() - start
        return self

    def _initialise(self, X: np.ndarray) -> None:
        self.device_ = resolve_device(self.device)
        self.n_channels_ = X.shape[2]
        self.n_features_in_ = X.shape[1]
        self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        with seeded_torch(self._seed, self.device_):
            check_network_fits(self, self.device_)
            self.module_ = self.build_module(self.n_channels_).to(self.device_)
        self._record_network()
        self._built_with = {k: repr(v) for k, v in self.get_params(deep=False).items()}
        self.averaged_module_ = None
        if self.average_weights:
            self.averaged_module_ = copy.deepcopy(self.module_)
        self._n_averaged = 1
        self._optimizer_state = None
        self.loss_history_ = []
        self.n_iter_ = 0
        self.n_epochs_ = 0

    def _record_network(self) -> None:
        """Fitted attributes that describe the network just built."""

    def _check_same_network(self) -> None:
        """Refuse a warm start whose parameters now describe another network.

        The fitted network is kept, so a changed ``output_dims`` (or dropout, depth,
        ...) would silently have no effect.
        """
        with seeded_torch(0, torch.device("cpu")):
            wanted = repr(self.build_module(self.n_channels_))
        if wanted != repr(self.module_).replace("SyncBatchNorm", "BatchNorm"):
            built = getattr(self, "_built_with", {})
            changed = sorted(k for k, v in self.get_params(deep=False).items()
                             if k in built and built[k] != repr(v))
            raise ValueError(
                f"warm_start=True continues the fitted network, but the parameters now "
                f"describe another one (changed since it was built: {changed}). Set them "
                "back to continue training it, or set warm_start=False to train a new one."
            )

    def _budget(self, X: np.ndarray) -> tuple[int | None, int | None]:
        if self.n_epochs is None and self.n_iters is None:
            return self.default_budget(X)
        return self.n_epochs, self.n_iters

    def _out_of_memory_message(self) -> str:
        params = self.get_params(deep=False)
        known = [k for k in self.memory_params if k in params]
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

    def _inference_module(self) -> torch.nn.Module:
        return self.averaged_module_ if self.averaged_module_ is not None else self.module_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


complete_docstring(BaseSSLEstimator)
