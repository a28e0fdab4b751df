"""Channel-independent embeddings: one univariate encoder for series of any channel count.

:class:`ChannelIndependent` wraps any sslts transformer.  ``fit`` turns every channel
of every series into a univariate series and trains the wrapped estimator on them, so
that one encoder learns from datasets of different lengths *and* channel counts (a
corpus); ``transform`` embeds each channel and pools the channel embeddings (same
width whatever the channel count) or concatenates them.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._persistence import (
    atomic_save,
    estimator_payload,
    from_plain,
    plain_params,
    read_payload,
    restore_estimator,
)
from ._registry import estimator_class, register
from .methods.ts2vec import TS2VecTransformer
from .utils.validation import StrictParamsMixin, check_time_series

__all__ = ["ChannelIndependent"]


class ChannelIndependent(TransformerMixin, StrictParamsMixin, BaseEstimator):
    """Embed every channel with a univariate encoder; pool or concatenate the channels.

    A channel-mixing encoder (every sslts method by default) reads all channels at
    once: it takes only the channel count it was fitted on.  Wrapped in this class,
    the same method becomes channel-independent: ``fit`` trains it on every channel of
    every series as a univariate series, and ``transform`` embeds each channel alone
    and combines the channel embeddings of a series.  One fitted model then embeds
    series of any channel count, and ``fit`` takes a *corpus*: several datasets of
    different lengths and channel counts in one list.

    The wrapped estimator does the training (its loop, budget, callbacks,
    checkpoints and data-parallel training under ``torchrun`` work as usual); its
    parameters are reached as ``estimator__<name>`` (``get_params``, ``set_params``,
    grid search).

    Parameters
    ----------
    estimator : sslts transformer, default=None
        The univariate method, e.g. ``TS2VecTransformer()``; a clone is fitted (see
        ``warm_start`` below).  A fitted univariate encoder wrapped in
        :class:`sklearn.frozen.FrozenEstimator` is used as it is.  None means
        ``TS2VecTransformer()``.
    pooling : {"mean", "max", "concat"}, default="mean"
        How the channel embeddings of a series become one: their mean or their
        element-wise maximum (width ``D``, the encoder's, whatever the channel
        count), or their concatenation in channel order (width ``n_channels * D``;
        every series of a ``transform`` call then needs the same channel count).
        Changing it after ``fit`` needs no refit.
    input_layout : {"channels_last", "channels_first"}, default="channels_last"
        Axis order of 3-D arrays and of 2-D series in lists (the wrapped estimator
        always receives univariate series, whatever its own ``input_layout``).

    Attributes
    ----------
    estimator_ : sslts transformer
        The fitted univariate encoder.
    n_channels_ : int or None
        Channel count of the training series; None when they had several.
    n_series_fit_ : int
        Univariate series the encoder was trained on (channels with no observed
        value are left out).

    See Also
    --------
    sslts.pretrained.load_pretrained : Channel-independent encoders fitted on a corpus.

    Notes
    -----
    Input forms: a 2-D array ``(n_series, n_timestamps)`` (univariate), a 3-D array
    ``(n_series, n_timestamps, n_channels)``, or a list whose items are series (1-D
    ``(n_timestamps,)`` or 2-D ``(n_timestamps, n_channels)``, of any lengths and
    channel counts) or whole datasets (3-D arrays): the list stands for all their
    series in order.  NaN marks missing values and the padding of shorter series.

    A channel of a series with no observed value is left out of that series' pooled
    embedding (``pooling="concat"`` refuses it).

    *Fine-tuning.* With ``estimator__warm_start=True``, a fitted ``ChannelIndependent``
    continues training its fitted encoder (with the wrapped estimator's current
    parameters, e.g. a new ``n_iters`` or ``lr``) instead of fitting a fresh clone.
    ``sklearn.base.clone`` returns an unfitted copy, as for any estimator: to keep a
    fitted model's weights inside a cross-validated pipeline, wrap it in
    :class:`sklearn.frozen.FrozenEstimator`.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import ChannelIndependent, TS2VecTransformer
    >>> rng = np.random.default_rng(0)
    >>> corpus = [rng.normal(size=(6, 40, 1)), rng.normal(size=(4, 25, 3))]  # 1 and 3 channels
    >>> enc = TS2VecTransformer(output_dims=8, hidden_dims=8, depth=2, n_iters=3,
    ...                         random_state=0)
    >>> model = ChannelIndependent(enc).fit(corpus)
    >>> model.n_series_fit_
    18
    >>> model.transform(rng.normal(size=(5, 30, 7))).shape
    (5, 8)
    >>> model.set_params(pooling="concat").transform(rng.normal(size=(5, 30, 7))).shape
    (5, 56)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "encode"]), None],
        "pooling": [StrOptions({"mean", "max", "concat"})],
        "input_layout": [StrOptions({"channels_last", "channels_first"})],
    }

    def __init__(self, estimator=None, *, pooling="mean", input_layout="channels_last"):
        self.estimator = estimator
        self.pooling = pooling
        self.input_layout = input_layout

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, **fit_params):
        """Train the wrapped estimator on every channel of every series of ``X``.

        Parameters
        ----------
        X : array-like or list
            One collection of series, or a corpus: a list of datasets (3-D arrays)
            and series of any lengths and channel counts (see Notes).
        y : None
            Ignored; present for Pipeline compatibility.
        **fit_params
            Passed to the wrapped estimator's ``fit``, e.g. ``checkpoint=``.

        Returns
        -------
        self : object
        """
        self._validate_params()
        template = self.estimator if self.estimator is not None else TS2VecTransformer()
        blocks = _read_blocks(X, self.input_layout, self)
        rows = [_channel_rows(block)[0] for block in blocks]
        counts = {block.shape[2] for block in blocks}
        length = max(r.shape[1] for r in rows)
        flat = np.concatenate([_pad_steps(r, length) for r in rows])[:, :, None]
        warm = hasattr(self, "estimator_") and bool(template.get_params().get("warm_start"))
        if warm:  # fine-tune the fitted encoder with the template's current parameters
            inner = self.estimator_
            inner.set_params(**template.get_params(deep=False))
        else:
            inner = clone(template)
        layout = inner.get_params().get("input_layout", "channels_last")
        self.estimator_ = inner.fit(_to_layout(flat, layout), None, **fit_params)
        self.n_channels_ = counts.pop() if len(counts) == 1 else None
        self.n_series_fit_ = len(flat)
        return self

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Embed every channel and pool (or concatenate) the channels of each series.

        Parameters
        ----------
        X : array-like or list
            Series of any channel count (see Notes).

        Returns
        -------
        ndarray of shape (n_series, D) or (n_series, n_timestamps, D)
            With ``pooling="concat"``, ``n_channels * D`` columns; the level is the
            wrapped estimator's ``level``.  At the timestamp level the steps after the
            end of a shorter series are NaN.
        """
        return self.encode(X)

    def encode(self, X, *, level=None, **kwargs):
        """Embed series at any level, with the wrapped estimator's encoding options.

        Parameters
        ----------
        X : array-like or list
            Series of any channel count (see Notes).
        level : {"instance", "timestamp"}, default=None
            Overrides the wrapped estimator's ``level`` for this call.
        **kwargs
            The wrapped estimator's ``encode`` options (``batch_size``, ``causal``,
            ``sliding_length``, ``sliding_padding``, ``encoding_window``,
            ``mask_padding``), applied to every channel.

        Returns
        -------
        ndarray, float32
            See :meth:`transform`.
        """
        check_is_fitted(self)
        self._validate_params()
        blocks = _read_blocks(X, self.input_layout, self)
        if self.pooling == "concat" and len({b.shape[2] for b in blocks}) > 1:
            raise ValueError(
                "pooling='concat' needs the same channel count in every series of a "
                f"transform call; X has {sorted({b.shape[2] for b in blocks})}. Use "
                "pooling='mean' or 'max' for series of different channel counts."
            )
        layout = getattr(self.estimator_, "input_layout_", "channels_last")
        outputs = []
        for block in blocks:
            rows, observed = _channel_rows(block)
            Z = self.estimator_.encode(_to_layout(rows[:, :, None], layout), level=level,
                                       **kwargs)
            outputs.append(self._combine(Z, observed, block.shape[0], block.shape[2]))
        return _stack(outputs)

    def _combine(self, Z: np.ndarray, observed: np.ndarray, n: int, channels: int):
        """Per-channel embeddings of ``n`` series -> one embedding per series."""
        if self.pooling == "concat" and not observed.all():
            i, c = divmod(int(np.flatnonzero(~observed)[0]), channels)
            raise ValueError(
                f"Series {i} has no observed value in channel {c}: pooling='concat' needs "
                "every channel. Use pooling='mean' or 'max', which leave it out."
            )
        full = np.full((n * channels,) + Z.shape[1:], np.nan, dtype=np.float32)
        full[observed] = Z
        full = full.reshape((n, channels) + Z.shape[1:])
        if self.pooling == "concat":
            moved = np.moveaxis(full, 1, -2)  # channels next to the features
            return moved.reshape(moved.shape[:-2] + (-1,))
        with warnings.catch_warnings():  # all-NaN slices: the padding of short series
            warnings.simplefilter("ignore", RuntimeWarning)
            pool = np.nanmean if self.pooling == "mean" else np.nanmax
            return pool(full, axis=1).astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        """Output feature names for instance embeddings.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        ndarray of str
            ``channelindependent0``, ... (``n_channels_ * D`` of them with
            ``pooling="concat"``, which needs a fit on one channel count).
        """
        check_is_fitted(self)
        width = self.estimator_.embedding_dims("instance")
        if self.pooling == "concat":
            if self.n_channels_ is None:
                raise ValueError(
                    "With pooling='concat' the output width depends on the channel count, "
                    "and this model was fitted on several; feature names are defined for "
                    "pooling='mean' or 'max'."
                )
            width *= self.n_channels_
        return np.asarray([f"channelindependent{i}" for i in range(width)], dtype=object)

    # ---------------------------------------------------------- persistence
    def save(self, path) -> None:
        """Save the fitted model to ``path``, readable by :func:`sslts.load`.

        The file holds tensors and plain data only (``torch.load(weights_only=True)``
        reads it): the parameters, the wrapped estimator's parameters and the fitted
        encoder.

        Parameters
        ----------
        path : str or path-like
        """
        check_is_fitted(self)
        template = self.estimator
        if isinstance(template, FrozenEstimator):
            described = {"frozen": True}
        else:
            template = template if template is not None else TS2VecTransformer()
            described = {"class": type(template).__name__, "params": plain_params(template)}
        inner = self.estimator_
        if isinstance(inner, FrozenEstimator):
            inner = inner.estimator
        atomic_save({
            "sslts_format": 1,
            "class": type(self).__name__,
            "params": {"pooling": self.pooling, "input_layout": self.input_layout},
            "estimator": described if self.estimator is not None else None,
            "fitted": {"n_channels_": self.n_channels_, "n_series_fit_": self.n_series_fit_},
            "estimator_": estimator_payload(inner),
        }, path)

    @classmethod
    def load(cls, path):
        """Load a model written by :meth:`save` (:func:`sslts.load` does the same).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        ChannelIndependent
            Fitted, on the saved device when it is available here, else on the CPU.
        """
        payload = read_payload(path)
        if payload["class"] != cls.__name__:
            raise TypeError(f"{path} holds a {payload['class']}, not a {cls.__name__}.")
        saved = payload["estimator_"]
        inner = estimator_class(saved["class"])(**from_plain(saved["params"]))
        restore_estimator(inner, saved)
        described = payload["estimator"]
        if described is None:
            template = None
        elif described.get("frozen"):
            template = inner = FrozenEstimator(inner)
        else:
            template = estimator_class(described["class"])(**from_plain(described["params"]))
        model = cls(template, **payload["params"])
        model.estimator_ = inner
        model.__dict__.update(payload["fitted"])
        return model

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "estimator_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


register(ChannelIndependent, listed=False)  # loadable by name, not a method


def _read_blocks(X, layout: str, owner) -> list[np.ndarray]:
    """``X`` as validated float32 arrays ``(n, T, C)``: one per dataset of a list, one
    per run of consecutive list series with the same channel count."""
    if not isinstance(X, (list, tuple)):
        return [check_time_series(X, estimator=owner, layout=layout)]
    if len(X) == 0:
        raise ValueError(f"{type(owner).__name__} got an empty list; it needs series.")
    axis = 0 if layout == "channels_first" else 1
    # A dataset (3-D) is a group of its own; series group while their channels agree.
    keys = [("dataset", i) if np.ndim(item) == 3 else
            ("series", np.shape(item)[axis] if np.ndim(item) == 2 else 1)
            for i, item in enumerate(X)]
    blocks, start = [], 0
    for stop in range(1, len(X) + 1):
        if stop < len(X) and keys[stop] == keys[start]:
            continue
        items = X[start] if keys[start][0] == "dataset" else list(X[start:stop])
        try:
            blocks.append(check_time_series(items, estimator=owner, layout=layout))
        except ValueError as exc:
            where = f"X[{start}]" if stop - start == 1 else f"X[{start}:{stop}]"
            raise ValueError(f"In {where}: {exc}") from exc
        start = stop
    return blocks


def _channel_rows(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every channel of every series as a row ``(n * C, T)`` (series-major), and which
    rows hold an observed value; only those are returned."""
    rows = np.ascontiguousarray(block.transpose(0, 2, 1)).reshape(-1, block.shape[1])
    observed = ~np.isnan(rows).all(axis=1)
    return rows[observed], observed


def _pad_steps(rows: np.ndarray, length: int) -> np.ndarray:
    if rows.shape[1] == length:
        return rows
    return np.pad(rows, ((0, 0), (0, length - rows.shape[1])), constant_values=np.nan)


def _to_layout(flat: np.ndarray, layout: str) -> np.ndarray:
    """Univariate series ``(N, T, 1)`` in the axis order the encoder reads."""
    return flat.transpose(0, 2, 1) if layout == "channels_first" else flat


def _stack(outputs: list[np.ndarray]) -> np.ndarray:
    """Concatenate per-block embeddings; timestamp ones NaN-padded to the longest."""
    if len(outputs) == 1:
        return outputs[0]
    if outputs[0].ndim == 2:
        return np.concatenate(outputs)
    length = max(o.shape[1] for o in outputs)
    return np.concatenate([np.pad(o, ((0, 0), (0, length - o.shape[1]), (0, 0)),
                                  constant_values=np.nan) for o in outputs])
