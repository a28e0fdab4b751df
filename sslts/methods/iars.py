"""IARS: TS2Vec training on one importance-sampled resolution per epoch."""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..base import store_init_arguments
from ..encoders.resnet import ResNet18Encoder
from ..losses import hierarchical_contrastive_loss, level_losses, single_level_loss
from .ts2vec import TS2VecTransformer

__all__ = ["IARSTransformer"]

# selection_frequency="auto" draws a level at least this many times per fit.
_MIN_SELECTIONS = 50


class IARSTransformer(TS2VecTransformer):
    """TS2Vec with importance-aware resolution selection (IARS) as a transformer.

    The views (overlapping crops, timestamp masking), the encoder, the weight
    averaging and ``transform`` are :class:`TS2VecTransformer`'s.  Only the loss
    changes: instead of TS2Vec's hierarchical loss, which builds and back-propagates
    the contrastive loss at every max-pooling level, each selection period (an
    epoch by default) trains a single level ``r'`` sampled from scores that favour
    the levels whose loss rose, or fell least, since the previous period.

    Parameters
    ----------
    backbone : {"dilated_conv", "resnet18"}, default="dilated_conv"
        ``"dilated_conv"`` is TS2Vec's encoder (``hidden_dims``, ``depth``);
        ``"resnet18"`` is the paper's 1-D ResNet18
        (:class:`~sslts.encoders.resnet.ResNet18Encoder`, base width
        ``hidden_dims``; ``depth`` is ignored).
    selection : {"paper", "uniform"}, default="paper"
        ``"paper"``: importance-aware sampling (see Notes).  ``"uniform"``: every
        level equally likely, which is what the official code does in effect.
    selection_frequency : {"auto", "epoch", "iteration"} or int, default="auto"
        How often a new level is drawn: once per epoch (the paper), before every
        optimiser step (the official code), or every ``k`` optimiser steps (an
        int).  "auto" is "epoch" when the fit's budget spans at least 50 epochs, and
        otherwise every ``max(1, planned_steps // 50)`` steps, so that every fit
        draws about 50 times or more: with TS2Vec's budget of 200 or 600 steps, a
        large training set gives one or two epochs, and per-epoch selection would
        train one or two resolutions in the whole fit (FordA: 450 steps per epoch).
        The choice is recorded in ``selection_period_``.
    drop_last : bool, default=False
        Skip the last partial batch of each epoch.  False as the official IARS loader
        (TS2Vec's drops it); a last batch of a single series is skipped either way.
    [shared parameters]

    Attributes
    ----------
    n_levels_ : int
        Number of pooling levels, ``floor(log2 L) + 1`` with ``L`` the longest
        training crop (``min(n_timestamps, max_train_length)``).  Level ``r`` pools
        ``2**r`` consecutive timestamps into one, whatever the crop length.
    resolution_history_ : list of int
        Level sampled for each selection period (see ``selection_period_``).  When a crop
        is shorter than ``2**r``, that step trains the crop's coarsest level.
    selection_period_ : int or None
        Optimiser steps per selection period; None when a period is an epoch.
    resolution_losses_ : Tensor of shape (n_periods, n_levels), float64
        Loss of every level measured in each period, NaN where not measured
        (levels the measured crop is too short for; in ``"uniform"`` mode only the
        trained level is recorded).  ``np.asarray`` turns it into an array.
    loss_history_ : list of float
        Mean loss of the trained level in each epoch.
    [shared attributes]

    See Also
    --------
    TS2VecTransformer : The full hierarchical loss at every step.

    Notes
    -----
    The parameters shared with :class:`TS2VecTransformer` have its defaults;
    ``loss_chunk_size`` applies to the trained level's loss and to the losses
    measured for selection.

    Selection follows the paper, step by step:

    1. *Per-level losses.*  ``L_r = alpha * instance + (1 - alpha) * temporal`` on the
       overlap pooled ``r`` times by 2 (the coarsest level of a crop, of length 1,
       has only the instance term), as in TS2Vec.
    2. *Alignment.*  Index ``r`` is the absolute pooling level, so it means the same
       resolution every epoch although the crop length changes; a crop of length
       ``l`` reaches levels ``0 .. floor(log2 l)``.  (The official code aligns the
       vectors from their coarsest end, so its index ``j`` means "``j`` levels finer
       than the coarsest reached", a different resolution for each crop.)
    3. *Fill.*  A level not measured in period ``e`` keeps its last recorded loss.
    4. *Score.*  ``s_i = exp(L_{i,e} - L_{i,e-1}) / sum_r exp(L_{r,e} - L_{r,e-1})``,
       then, as the paper writes, a softmax: ``p = softmax(s)``.  Levels without two
       recorded values get a zero difference.  Because every ``s_i`` lies in
       ``(0, 1)``, the second softmax keeps ``p_max / p_min <= e``: selection stays
       close to uniform and explores every level, tilted towards the levels whose
       loss increased.  The first period is uniform.
    5. *Sample* ``r' ~ Multinomial(p)`` once per period and back-propagate only
       ``L_{r'}``: the overlap is max-pooled once with kernel ``2**r'``
       (:func:`~sslts.losses.single_level_loss`) and no finer level is built.

    Cost of the scores: the losses of the other levels are computed without a graph
    on the representations the training step already has (no extra encoder pass),
    and only on the **last batch of each selection period**, the one batch whose
    values the scorer reads (never with ``selection="uniform"``).  The paper's
    per-epoch loss of a level is therefore the loss on that period's last batch: a
    one-batch estimate that costs one forward-only hierarchical loss per period.

    The level draws do not consume the training random stream (see
    ``_level_generator``): with the same ``random_state`` and ``drop_last``, IARS and
    :class:`TS2VecTransformer` train on identical crops, masks and dropout.

    Differences from the official code (``KEEBVIN/IARS``): it records the previous
    losses *after* overwriting them with the current ones, so the two vectors it
    compares are always equal and its sampling is uniform (``selection="uniform"``
    is the same in effect, uniform over all ``n_levels_`` levels rather than over
    the levels the previous crop reached); it scores
    ``softmax(0.1 * (L_cur - L_prev))``; it selects per iteration from the previous
    batch's crop; and it recomputes the whole hierarchy
    under ``no_grad`` at every step.  Its encoder is TS2Vec's with depth 2 and 32
    outputs; here the defaults are TS2VecTransformer's, so both train the same
    network.  With ``backbone="resnet18"`` the batch-norm running statistics are
    averaged together with the weights (the encoder used by ``transform`` is the
    running average of the iterates, as in TS2Vec).

    References
    ----------
    .. [1] K. Garcia, J. Perez and Y. Gao, "Efficient Hierarchical Contrastive
       Self-supervising Learning for Time Series Classification via Importance-aware
       Resolution Selection", IEEE BigData 2024.
    .. [2] Z. Yue et al., "TS2Vec: Towards Universal Representation of Time Series",
       AAAI 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import IARSTransformer
    >>> X = np.random.default_rng(0).normal(size=(10, 30))
    >>> enc = IARSTransformer(output_dims=8, hidden_dims=8, depth=2, batch_size=4,
    ...                       n_epochs=3, selection_frequency="epoch",
    ...                       random_state=0).fit(X)
    >>> enc.transform(X).shape
    (10, 8)
    >>> len(enc.resolution_history_), tuple(enc.resolution_losses_.shape)
    (3, (3, 5))
    """

    parameter_constraints: dict = {
        "backbone": [StrOptions({"dilated_conv", "resnet18"})],
        "selection": [StrOptions({"paper", "uniform"})],
        "selection_frequency": [StrOptions({"auto", "epoch", "iteration"}),
                                Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self, *, backbone="dilated_conv", selection="paper", selection_frequency="auto",
        output_dims=320, hidden_dims=64, depth=10, alpha=0.5, temporal_unit=0,
        max_train_length=3000, loss_chunk_size=None, mask_p=0.5, dropout=0.1, n_epochs=None,
        n_iters=None, batch_size=8, lr=1e-3, drop_last=False, weight_decay=0.01, level="instance",
        device="auto", random_state=None, verbose=0, warm_start=False, n_iter_no_change=None,
        tol=1e-4, precision="float32", compile=False, callbacks=None, sync_batchnorm=False,
        input_layout="channels_last", n_threads=None,
    ):
        store_init_arguments(self, locals())

    # -- network and state --------------------------------------------------
    def build_module(self, n_channels):
        if self.backbone == "resnet18":
            return ResNet18Encoder(n_channels, self.output_dims, self.hidden_dims, self.dropout)
        return super().build_module(n_channels)

    def on_fit_start(self, ctx):
        if self.n_iter_ == 0:  # a new fit; warm starts and resumes keep their tables
            longest = ctx.input_shape[1] if self.max_train_length is None else min(
                ctx.input_shape[1], self.max_train_length
            )
            self.n_levels_ = int(longest).bit_length()  # floor(log2 L) + 1
            self.resolution_history_ = []
            self.resolution_losses_ = torch.empty(0, self.n_levels_, dtype=torch.float64)
            self.selection_period_ = self._selection_period(ctx)
        # Every fit starts a new selection period (a resumed one continues its own).
        ctx.state.setdefault("period", _new_period())

    # -- training -----------------------------------------------------------
    def training_step(self, module, batch, ctx):
        out1, out2 = self._encode_views(module, batch, ctx.rng)
        chunk = self.loss_chunk_size
        if not ctx.training:  # a held-out loss comparable across periods: every level
            return hierarchical_contrastive_loss(
                out1, out2, self.alpha, self.temporal_unit, chunk_size=chunk
            )
        period = ctx.state["period"]
        if period["step"] == 0:
            period["level"] = self._draw_level(self._level_generator(ctx.rng))
            self.resolution_history_.append(period["level"])
        # A crop shorter than 2**r' trains its coarsest level (length 1).
        level = min(period["level"], out1.shape[1].bit_length() - 1)
        loss = single_level_loss(
            out1, out2, level, self.alpha, self.temporal_unit, chunk_size=chunk
        )
        period["step"] += 1
        if not ctx.is_last_micro_batch:  # the step's other micro-batches keep the level
            return loss
        # The scorer reads the losses of the period's last step only.
        # A step period also measures at epoch ends, so that a period still open
        # when an epoch budget or early stopping ends the fit has a row.
        k = self.selection_period_
        ends = k is not None and (period["step"] >= k or ctx.is_last_step)
        if ends or ctx.is_last_step_of_epoch:
            period["row"] = self._measure_levels(out1, out2, level, loss)
        if ends:
            self._close_period(period)
        return loss

    def on_epoch_end(self, ctx):
        if self.selection_period_ is None:
            self._close_period(ctx.state["period"])

    def on_fit_end(self, ctx):
        if ctx.state["period"]["step"]:  # the fit ended inside a step period
            self._close_period(ctx.state["period"])

    def _selection_period(self, ctx) -> int | None:
        """Steps per selection period (None: an epoch) for ``selection_frequency``."""
        frequency = self.selection_frequency
        if frequency == "epoch":
            return None
        if frequency == "iteration":
            return 1
        if frequency != "auto":
            return int(frequency)
        per_epoch = ctx.steps_per_epoch
        planned = ctx.n_iters if ctx.n_iters is not None else ctx.n_epochs * per_epoch
        if planned >= _MIN_SELECTIONS * per_epoch:
            return None
        return max(1, planned // _MIN_SELECTIONS)

    def _measure_levels(self, out1, out2, level, loss) -> list[float]:
        """Row of the loss table for this step, (n_levels_,) with NaN where absent."""
        losses = {level: loss}
        others = [r for r in range(out1.shape[1].bit_length()) if r != level]
        if self.selection == "paper" and others:  # uniform needs no scores
            with torch.no_grad():
                every = level_losses(
                    out1.detach(), out2.detach(), self.alpha, self.temporal_unit, others,
                    chunk_size=self.loss_chunk_size,
                )
            losses.update({r: every[r] for r in others})
        levels = sorted(losses)
        values = torch.stack([losses[r].detach() for r in levels]).double().cpu().tolist()
        row = [math.nan] * (levels[-1] + 1)  # one host sync per measurement above
        for r, v in zip(levels, values):
            row[r] = v
        return align_level_losses(row, self.n_levels_)

    def _close_period(self, period: dict) -> None:
        """Append the period's row to the loss table and start a new period."""
        row = period["row"] or [math.nan] * self.n_levels_
        row_t = torch.tensor([row], dtype=torch.float64)
        self.resolution_losses_ = torch.cat([self.resolution_losses_, row_t])
        period.update(_new_period())

    def _level_generator(self, rng) -> np.random.Generator:
        """Generator of this period's draw, from the fit's seed and the period index.

        It consumes nothing from ``rng``, so the crops, masks and dropout are exactly
        those TS2VecTransformer draws with the same ``random_state``, and a fit
        resumed from a checkpoint redraws the same levels.
        """
        entropy = rng.numpy.bit_generator.seed_seq.entropy
        return np.random.default_rng([entropy, len(self.resolution_history_)])

    def _draw_level(self, rng: np.random.Generator) -> int:
        n = self.n_levels_
        if self.selection == "uniform":
            return int(rng.integers(n))
        probs = selection_probabilities(self.resolution_losses_.numpy())
        return int(rng.choice(n, p=probs))

    # -- inspection -----------------------------------------------------------
    def plot_resolutions(self, axes=None):
        """Plot the sampled level and the per-level losses of each period.

        Parameters
        ----------
        axes : sequence of two matplotlib Axes, default=None
            Where to draw; a new figure with two stacked panels when None.

        Returns
        -------
        axes : sequence of two matplotlib Axes
            Top: sampled level per period.  Bottom: loss of every level per period
            (gaps where it was not measured).
        """
        check_is_fitted(self, "resolution_history_")
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError(
                "plot_resolutions needs matplotlib: pip install matplotlib"
            ) from exc
        if axes is None:
            _, axes = plt.subplots(2, 1, sharex=True, figsize=(7, 5))
        periods = np.arange(1, len(self.resolution_history_) + 1)
        axes[0].step(periods, self.resolution_history_, where="mid")
        axes[0].set_ylabel("sampled level r'")
        table = np.asarray(self.resolution_losses_)
        for r in range(table.shape[1]):
            axes[1].plot(np.arange(1, len(table) + 1), table[:, r], marker=".", label=f"r={r}")
        axes[1].set_xlabel(
            "epoch" if self.selection_period_ is None
            else f"period of {self.selection_period_} step(s)")
        axes[1].set_ylabel("loss of level r")
        axes[1].legend(ncol=2, fontsize="small")
        return axes


def _new_period() -> dict:
    """State of a selection period: its level, steps taken and measured loss row."""
    return {"level": None, "step": 0, "row": None}


def align_level_losses(losses, n_levels: int) -> list[float]:
    """Place a crop's per-level losses at their absolute pooling levels.

    Parameters
    ----------
    losses : sequence of float
        Losses of levels ``0 .. k`` of one crop (level ``r`` pools ``2**r`` steps).
    n_levels : int
        Width of the table.

    Returns
    -------
    list of float of length ``n_levels``
        ``losses[r]`` at position ``r``; NaN at levels the crop does not reach
        (levels beyond the table are dropped).
    """
    losses = list(losses)[:n_levels]
    return losses + [math.nan] * (n_levels - len(losses))


def forward_fill(table: np.ndarray) -> np.ndarray:
    """Fill every NaN with the last non-NaN value above it in its column.

    Parameters
    ----------
    table : ndarray of shape (n_periods, n_levels)

    Returns
    -------
    ndarray of shape (n_periods, n_levels)
        NaN remains only where a level was never recorded before.
    """
    table = np.array(table, dtype=np.float64)
    rows = np.where(np.isnan(table), 0, np.arange(len(table))[:, None])
    last = np.maximum.accumulate(rows, axis=0)  # index of the last record so far
    filled = table[last, np.arange(table.shape[1])]
    return filled


def selection_probabilities(table: np.ndarray) -> np.ndarray:
    """The paper's sampling distribution over levels, from the loss table.

    Parameters
    ----------
    table : ndarray of shape (n_periods, n_levels)
        Per-level losses, NaN where absent.

    Returns
    -------
    ndarray of shape (n_levels,)
        ``softmax(s)`` with ``s = softmax(L_e - L_{e-1})`` on the forward-filled
        last two rows; uniform with fewer than two rows.
    """
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[1] == 0:
        raise ValueError(
            f"table must have shape (n_periods, n_levels) with n_levels >= 1, got {table.shape}."
        )
    n_levels = table.shape[1]
    if len(table) < 2:
        return np.full(n_levels, 1.0 / n_levels)
    filled = forward_fill(table)
    delta = np.nan_to_num(filled[-1] - filled[-2], nan=0.0)
    return _softmax(_softmax(delta))


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()
