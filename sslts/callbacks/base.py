"""The base class of callbacks (:mod:`sslts.callbacks`)."""

from __future__ import annotations

import inspect

from ..utils.validation import validate_arguments

__all__ = ["Callback"]


class Callback:
    """Base class of callbacks; every hook does nothing.

    Override any of ``on_fit_start``, ``on_epoch_start``,
    ``on_before_optimizer_step``, ``on_step_end``, ``on_epoch_end`` and
    ``on_fit_end``; each receives ``(estimator, ctx)``.  State
    that must survive a checkpoint goes through :meth:`state_dict` /
    :meth:`load_state_dict` (plain data only).

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TS2VecTransformer
    >>> from sslts.callbacks import Callback
    >>> class CountSteps(Callback):
    ...     def on_fit_start(self, est, ctx):
    ...         self.steps = 0
    ...     def on_step_end(self, est, ctx):
    ...         self.steps += 1
    >>> X = np.random.default_rng(0).normal(size=(8, 20))
    >>> enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_iters=3,
    ...                         batch_size=4, callbacks=[CountSteps()]).fit(X)
    >>> enc.callbacks_[0].steps
    3
    """

    #: Constraints of the ``__init__`` arguments (scikit-learn's vocabulary, see
    #: :mod:`sslts.utils`), checked when ``fit`` starts, before any training.
    parameter_constraints: dict = {}

    def validate_params(self) -> None:
        """Check the ``__init__`` arguments against :attr:`parameter_constraints`.

        ``fit`` calls it on every callback before training starts.

        Raises
        ------
        ValueError
            An argument out of its constraints (a boolean where a number is expected
            included), naming the argument.
        """
        names = [n for n, p in inspect.signature(type(self).__init__).parameters.items()
                 if n != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD]
        arguments = {n: getattr(self, n) for n in names if hasattr(self, n)}
        validate_arguments(self.parameter_constraints, arguments, type(self).__name__)

    def on_fit_start(self, estimator, ctx) -> None:
        """Before the first epoch (after a resume, the restored state is in place)."""

    def on_epoch_start(self, estimator, ctx) -> None:
        """Before the first step of an epoch."""

    def on_before_optimizer_step(self, estimator, ctx) -> None:
        """After the step's backward pass, before the optimiser uses the gradients.

        The gradients are complete here (summed over micro-batches, averaged over the
        ranks): the place to clip or log them (:class:`~sslts.callbacks.GradientClipping`).
        """

    def on_step_end(self, estimator, ctx) -> None:
        """After every optimiser step; ``ctx.loss`` holds the step's loss tensor."""

    def on_epoch_end(self, estimator, ctx) -> None:
        """After every epoch; ``ctx.logs`` holds its loss, lr and time."""

    def on_fit_end(self, estimator, ctx) -> None:
        """After the last epoch, or an interruption (see ``ctx.logs["status"]``)."""

    def state_dict(self) -> dict:
        """State to write in a checkpoint."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` when a fit resumes."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({args})"
