"""Callbacks: user code that runs at named moments of every estimator's ``fit``.

Pass a list to any estimator's ``callbacks`` parameter::

    enc = TS2VecTransformer(callbacks=[EarlyStopping(validation_fraction=0.2),
                                       CSVLogger("train.csv")])

A callback implements any of the hooks of :class:`Callback` (the same names as the
method hooks, see :mod:`sslts._loop`), each called with the estimator and the
:class:`~sslts.TrainContext`.  ``fit`` works on deep copies of the callbacks,
stored in the fitted attribute ``callbacks_``: what you passed is never changed, so
the same list can serve many fits (``clone``, ``GridSearchCV(n_jobs=2)``).
The shortcuts ``verbose`` and ``n_iter_no_change`` add the built-in callbacks
:class:`PrintLog` / :class:`ProgressBar` and :class:`EarlyStopping`.
"""

from .base import Callback
from .loggers import CSVLogger, History, PrintLog, ProgressBar, TensorBoard
from .training import (
    Checkpoint,
    EarlyStopping,
    GradientAccumulation,
    GradientClipping,
    LearningRateScheduler,
)

__all__ = [
    "CSVLogger",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "GradientAccumulation",
    "GradientClipping",
    "History",
    "LearningRateScheduler",
    "PrintLog",
    "ProgressBar",
    "TensorBoard",
]
