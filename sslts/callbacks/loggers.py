"""Callbacks that record or show training: history, CSV, TensorBoard, console."""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from .base import Callback

__all__ = ["CSVLogger", "History", "PrintLog", "ProgressBar", "TensorBoard"]


class History(Callback):
    """Keep every epoch's logs (loss, lr, time, held-out loss) in ``history_``.

    Attributes
    ----------
    history_ : list of dict
        One dict per epoch of the last fit: ``epoch``, ``loss``, ``lr``,
        ``epoch_time`` and, with a held-out set, ``val_loss``.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TS2VecTransformer
    >>> from sslts.callbacks import History
    >>> X = np.random.default_rng(0).normal(size=(8, 20))
    >>> enc = TS2VecTransformer(output_dims=4, hidden_dims=4, depth=1, n_epochs=2,
    ...                         batch_size=4, callbacks=[History()]).fit(X)
    >>> [row["epoch"] for row in enc.callbacks_[0].history_]
    [1, 2]
    """

    def on_fit_start(self, estimator, ctx):
        if not hasattr(self, "history_"):
            self.history_ = []

    def on_epoch_end(self, estimator, ctx):
        self.history_.append(dict(ctx.logs))

    def state_dict(self):
        return {"history": [dict(row) for row in self.history_]}

    def load_state_dict(self, state):
        self.history_ = [dict(row) for row in state["history"]]


class CSVLogger(Callback):
    """Append each epoch's logs to a CSV file (epoch, loss, lr, epoch_time[, val_loss]).

    Parameters
    ----------
    path : str or path-like
        The file; a header is written when it is new or empty.
    """

    _fields = ("epoch", "loss", "lr", "epoch_time", "val_loss")

    parameter_constraints = {"path": [str, os.PathLike]}

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, estimator, ctx):
        path = Path(self.path)
        new = not path.exists() or path.stat().st_size == 0
        with path.open("a", newline="") as f:  # opened per epoch: nothing to close or pickle
            writer = csv.DictWriter(f, fieldnames=self._fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(ctx.logs)


class TensorBoard(Callback):
    """Write the epoch loss, held-out loss and lr to TensorBoard.

    Needs ``torch.utils.tensorboard`` (``pip install tensorboard``).

    Parameters
    ----------
    log_dir : str or path-like
        Directory of the event files.
    """

    parameter_constraints = {"log_dir": [str, os.PathLike]}

    def __init__(self, log_dir):
        self.log_dir = log_dir

    def on_fit_start(self, estimator, ctx):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ImportError("TensorBoard needs the tensorboard package: "
                              "pip install tensorboard") from exc
        self.writer_ = SummaryWriter(str(self.log_dir))

    def on_epoch_end(self, estimator, ctx):
        for key in ("loss", "val_loss", "lr"):
            if key in ctx.logs:
                self.writer_.add_scalar(key, ctx.logs[key], ctx.logs["epoch"])

    def on_fit_end(self, estimator, ctx):
        writer = self.__dict__.pop("writer_", None)  # holds threads and files: never pickled
        if writer is not None:
            writer.close()


class PrintLog(Callback):
    """One line per epoch on standard output (what ``verbose=1`` adds)."""

    def on_fit_start(self, estimator, ctx):
        self.start_ = time.perf_counter()

    def on_epoch_end(self, estimator, ctx):
        logs = ctx.logs
        val = f"  val_loss {logs['val_loss']:.5f}" if "val_loss" in logs else ""
        print(
            f"{type(estimator).__name__} epoch {logs['epoch']:4d}  iter {estimator.n_iter_:6d}  "
            f"loss {logs['loss']:.5f}{val}  {time.perf_counter() - self.start_:7.1f} s",
            flush=True,
        )


class ProgressBar(Callback):
    """A tqdm bar over iterations (iteration budget) or epochs; what ``verbose=2`` adds."""

    def on_fit_start(self, estimator, ctx):
        self.per_iter_ = ctx.n_iters is not None
        total, unit = (ctx.n_iters, "it") if self.per_iter_ else (ctx.n_epochs, "epoch")
        done = ctx.iters_done if self.per_iter_ else ctx.epoch
        self.bar_ = tqdm(total=total, initial=done, unit=unit, desc=type(estimator).__name__,
                         file=sys.stderr)

    def on_step_end(self, estimator, ctx):
        if self.per_iter_:
            self.bar_.update(1)

    def on_epoch_end(self, estimator, ctx):
        self.bar_.set_postfix(loss=f"{ctx.logs['loss']:.4f}")
        if not self.per_iter_:
            self.bar_.update(1)

    def on_fit_end(self, estimator, ctx):
        bar = self.__dict__.pop("bar_", None)  # absent when the fit failed before its start
        if bar is not None:
            bar.close()
