"""Every sslts estimator as an sktime transformer (``pip install sslts[sktime]``).

``sslts.sktime.TS2VecTransformer`` (and one class per sslts estimator, same names and
parameters) is an :class:`sktime.transformations.base.BaseTransformer`.  It takes
any sktime Panel (``nested_univ``, ``pd-multiindex``, ``numpy3D``, ``df-list``, ...)
or a single series, and composes with sktime's pipelines and classifiers:

>>> from sklearn.linear_model import RidgeClassifierCV
>>> from sktime.classification.compose import SklearnClassifierPipeline
>>> from sktime.datasets import load_basic_motions
>>> from sslts.sktime import TS2VecTransformer
>>> X_train, y_train = load_basic_motions(split="train", return_type="nested_univ")
>>> X_test, y_test = load_basic_motions(split="test", return_type="nested_univ")
>>> clf = SklearnClassifierPipeline(
...     RidgeClassifierCV(), [TS2VecTransformer(n_iters=20, random_state=0)]
... )
>>> 0.0 <= clf.fit(X_train, y_train).score(X_test, y_test) <= 1.0
True

With ``level="instance"`` the output scitype is ``"Primitives"``: a DataFrame with
one row of ``output_dims`` features per instance.  With ``level="timestamp"`` it is
``"Series"``: each instance becomes a series of ``output_dims`` variables on the
input's time index.  Unequal lengths and missing values (NaN) are supported;
``property:randomness`` is ``"derandomized"`` (a seeded fit on the CPU is exactly
reproducible) unless the estimator trains on a GPU, whose kernels are not bitwise
reproducible.  The fitted sslts estimator is ``estimator_``.  ``input_layout`` and
``warm_start`` are not offered (sktime hands over channels-first data and refits
from scratch).

:class:`EmbeddingForecaster` is :class:`sslts.EmbeddingForecaster` as an sktime
forecaster (:class:`sktime.forecasting.base.BaseForecaster`): ``fit(y, X, fh)``,
``predict(fh)``, with exogenous ``X`` used as covariates observed up to the cutoff.
"""

from __future__ import annotations

import numpy as np

try:
    import pandas as pd
    from sktime.forecasting.base import BaseForecaster, ForecastingHorizon
    from sktime.transformations.base import BaseTransformer
except ModuleNotFoundError as exc:  # keep exc.name: tools detect the missing extra by it
    raise ModuleNotFoundError(
        f"sslts.sktime needs sktime ({exc}); install it with: pip install 'sslts[sktime]'",
        name=exc.name,
    ) from exc

from . import methods
from ._adapters import (
    adapter_classes,
    adapter_docstring,
    make_estimator,
    runs_on_accelerator,
    tiny_test_params,
)
from .forecast_head import RIDGE_ALPHAS
from .forecaster import EmbeddingForecaster as _SSLTSForecaster

__all__: list[str] = ["EmbeddingForecaster"]  # and the per-estimator classes, at the end


class SSLTSTransformer(BaseTransformer):
    """Base of the sktime adapters; use the per-estimator classes of this module.

    Attributes
    ----------
    estimator_ : BaseSSLTransformer
        The fitted sslts estimator.
    """

    _tags = {
        "authors": ["sslts developers"],
        "maintainers": ["sslts developers"],
        "python_dependencies": ["torch", "sslts"],
        "object_type": "transformer",
        "scitype:transform-input": "Series",
        "scitype:transform-output": "Primitives",
        "scitype:instancewise": True,
        # numpy3D (channels-first) arrays pass through; sktime converts every other
        # Panel to the first entry, df-list (one (n_timepoints_i, n_channels) frame
        # per instance, any lengths), which _channels_first transposes.
        "X_inner_mtype": ["df-list", "numpy3D"],
        "y_inner_mtype": "None",
        "fit_is_empty": False,
        "requires_y": False,
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "capability:unequal_length:removes": True,
        "capability:missing_values": True,
        # Strings are not categories to sslts (numeric strings would be parsed), so
        # sktime rejects categorical data before it reaches the estimator.
        "capability:categorical_in_X": False,
        "capability:random_state": True,
        "property:randomness": "derandomized",
        "transform-returns-same-time-index": False,
    }
    sslts_class: type | None = None  # set on each generated subclass

    def __init__(self):
        super().__init__()
        # Tags that depend on parameters; sktime's set_params re-runs __init__.
        timestamps = getattr(self, "level", "instance") == "timestamp"
        gpu = runs_on_accelerator(getattr(self, "device", "cpu"))
        self.set_tags(
            **{
                "scitype:transform-output": "Series" if timestamps else "Primitives",
                "capability:unequal_length:removes": not timestamps,
                "transform-returns-same-time-index": timestamps,
                "property:randomness": "stochastic" if gpu else "derandomized",
            }
        )

    def _fit(self, X, y=None):
        self.estimator_ = make_estimator(self).fit(_channels_first(X))
        return self

    def _transform(self, X, y=None):
        Z = self.estimator_.transform(_channels_first(X))
        if self.level != "timestamp":
            columns = self.estimator_.get_feature_names_out()
            return pd.DataFrame(Z, columns=columns)
        if isinstance(X, np.ndarray):
            return np.ascontiguousarray(np.swapaxes(Z, 1, 2))  # numpy3D in, numpy3D out
        # df-list in, df-list out: each instance on its own time index.
        return [pd.DataFrame(Z[i, : len(frame)], index=frame.index) for i, frame in enumerate(X)]

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Tiny CPU configurations for sktime's estimator checks.

        Parameters
        ----------
        parameter_set : str, default="default"
            Ignored; there is one set of test configurations.

        Returns
        -------
        list of dict
        """
        if cls.sslts_class is None:  # the base itself has no parameters
            return [{}]
        return tiny_test_params(cls.sslts_class)


def _channels_first(X):
    """sktime's inner data as what ``input_layout="channels_first"`` reads."""
    if isinstance(X, np.ndarray):
        return X
    return [frame.to_numpy().T for frame in X]


def _docstring(sslts_class: type) -> str:
    return adapter_docstring(sslts_class, toolkit="sktime", summary=f"""\
    The parameters are those of :class:`sslts.{sslts_class.__name__}` except
    ``input_layout`` and ``warm_start``; see there for their meaning.  Input: any sktime
    Panel or Series, multivariate, of unequal length, with NaN for missing values.
    Output: a DataFrame of ``(n_instances, n_features)`` for ``level="instance"``, a
    Panel of ``n_features`` variables on the input's time index for
    ``level="timestamp"``.""", load='split="train", return_type="nested_univ"')


class EmbeddingForecaster(BaseForecaster):
    """:class:`sslts.EmbeddingForecaster` as an sktime forecaster.

    A ridge head maps the recent values of ``y`` at the cutoff (and, with
    ``use_embedding``, the embedding of the causal window ending there, from a
    self-supervised encoder fitted on ``y`` and the exogenous ``X`` as extra input
    channels) to the next ``max(fh)`` steps, and ``predict`` returns the steps of
    ``fh``.  The parameters are those of :class:`sslts.EmbeddingForecaster`, see
    there for their meaning, except ``horizon``: it is the largest step of the
    forecasting horizon passed to ``fit`` (which is required there).

    Parameters
    ----------
    encoder : sslts estimator, default=None
        The self-supervised encoder (a clone is fitted when the head may read the
        embedding); None uses ``TS2VecTransformer()``.
    padding : int, default=200
        Past steps of each causal window.
    valid_size : int or float, default=0.2
        Validation tail of ``y`` (steps, or a fraction) that picks the ridge penalty.
    baseline : {"last_value", "seasonal_naive", "auto"} or None, default="auto"
        None: the head forecasts the values (TS2Vec's protocol).  Otherwise the naive
        forecast the head corrects; the naive forecast alone is one of the validated
        candidates.
    season : int, default=None
        Period of ``"seasonal_naive"`` in steps.
    lags : int or "padding", default="padding"
        The head reads the ``lags`` values of ``y`` before the last one, relative to
        it, beside the embedding when it reads it ("padding": as many as the
        encoder's window).
    use_embedding : "auto" or bool, default=False
        Whether the head reads the embedding.  False: the lags alone (needs
        ``lags > 0``; no encoder is fitted and ``X`` is not used); "auto": validated
        against the lags alone.
    alphas : sequence of float, default=sslts.evaluation.RIDGE_ALPHAS
        Candidate ridge penalties.
    refit : bool, default=True
        Refit the head with the chosen penalty on the whole of ``y``.
    standardize : bool, default=True
        Standardise targets and covariates (forecasts are on the original scale).
    max_samples : int, default=100_000
        Training rows of the head above which rows are subsampled.
    batch_size : int, default=None
        Windows per forward pass of the encoder.

    Attributes
    ----------
    forecaster_ : sslts.EmbeddingForecaster
        The fitted sslts forecaster (``horizons_ == (max(fh),)``, ``alphas_``, ...).

    See Also
    --------
    sslts.EmbeddingForecaster : The scikit-learn estimator, for arrays.

    Notes
    -----
    Only out-of-sample horizons are supported (``capability:insample`` is False;
    sktime rejects an ``fh`` with steps at or before the cutoff).  Exogenous ``X`` is
    used as covariates *observed up to the cutoff*: future values are not used, so an
    ``X`` passed to ``predict`` is ignored, and ``update`` needs ``X`` when ``fit``
    had it.  ``update`` moves the window forecasts start from; with
    ``update_params=True`` it also refits on all the data seen (when sktime
    remembers it, config ``remember_data``).  Missing values (NaN) are supported:
    rows with one are left out of the head's training.  Panels and hierarchies are
    forecast one series at a time (sktime's vectorisation).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sslts import TS2VecTransformer
    >>> from sslts.sktime import EmbeddingForecaster
    >>> index = pd.period_range("2024-01-01", periods=300, freq="h")
    >>> y = pd.Series(np.sin(2 * np.pi * np.arange(300) / 24), index=index, name="load")
    >>> enc = TS2VecTransformer(output_dims=8, hidden_dims=8, depth=2, n_iters=5,
    ...                         device="cpu", random_state=0)
    >>> fc = EmbeddingForecaster(enc, padding=30, valid_size=60, use_embedding="auto")
    >>> y_pred = fc.fit(y, fh=[1, 2, 3, 12]).predict()
    >>> y_pred.index.astype(str).tolist()[::3], y_pred.name
    (['2024-01-13 12:00', '2024-01-13 23:00'], 'load')
    >>> truth = np.sin(2 * np.pi * np.array([300, 301, 302, 311]) / 24)
    >>> bool(np.abs(y_pred.to_numpy() - truth).max() < 0.3)
    True
    """

    _tags = {
        "authors": ["sslts developers"],
        "maintainers": ["sslts developers"],
        "python_dependencies": ["torch", "sslts"],
        # One (n_timestamps, n_targets) frame is what sslts reads; sktime converts a
        # Series to it (and back) and loops over the instances of a Panel/Hierarchy.
        "y_inner_mtype": "pd.DataFrame",
        "X_inner_mtype": "pd.DataFrame",
        "capability:multivariate": True,
        "capability:exogenous": True,
        # The heads forecast after the last step only; fitted values are not offered.
        "capability:insample": False,
        "capability:pred_int": False,
        "capability:missing_values": True,
        "capability:categorical_in_X": False,  # covariates are encoder input channels
        # The head is trained for a fixed number of steps, so fh is needed in fit.
        "requires-fh-in-fit": True,
        "X-y-must-have-same-index": True,
        "fit_is_empty": False,
    }

    def __init__(
        self,
        encoder=None,
        padding: int = 200,
        valid_size: int | float = 0.2,
        baseline: str | None = "auto",
        season: int | None = None,
        lags: int | str = "padding",
        use_embedding: str | bool = False,
        alphas=RIDGE_ALPHAS,
        refit: bool = True,
        standardize: bool = True,
        max_samples: int = 100_000,
        batch_size: int | None = None,
    ):
        self.encoder = encoder
        self.padding = padding
        self.valid_size = valid_size
        self.baseline = baseline
        self.season = season
        self.lags = lags
        self.use_embedding = use_embedding
        self.alphas = alphas
        self.refit = refit
        self.standardize = standardize
        self.max_samples = max_samples
        self.batch_size = batch_size
        super().__init__()

    def _fit(self, y: pd.DataFrame, X: pd.DataFrame | None, fh: ForecastingHorizon):
        steps = self._steps(fh)
        X = self._covariates(X, y)
        self.forecaster_ = _SSLTSForecaster(
            self.encoder,
            horizon=int(steps.max()),
            padding=self.padding,
            valid_size=self.valid_size,
            baseline=self.baseline,
            season=self.season,
            lags=self.lags,
            use_embedding=self.use_embedding,
            alphas=self.alphas,
            refit=self.refit,
            standardize=self.standardize,
            max_samples=self.max_samples,
            batch_size=self.batch_size,
        ).fit(y.to_numpy(dtype=float), X=None if X is None else X.to_numpy(dtype=float))
        self._columns = y.columns
        # The history forecasts start from: its last padding + 1 steps are all the
        # encoder sees (the naive forecast and the lags read at most season or lags
        # steps).  update() extends it; until then the training series' stored
        # embedding is used (no re-encoding).
        width = self._width()
        self._history = (y.iloc[-width:], None if X is None else X.iloc[-width:])
        self._updated = False
        return self

    def _update(self, y: pd.DataFrame, X: pd.DataFrame | None = None, update_params=True):
        old_y, old_X = self._history
        if old_X is not None and X is None:
            raise ValueError("This forecaster was fitted with exogenous X, which its "
                             "forecasts start from; pass X to update as well.")
        if update_params and getattr(self, "_y", None) is not None:
            # Refit on everything seen (sktime's default for forecasters without a
            # native update); self._y and self._X already hold the new data.
            return self._fit(self._y, self._X, self.fh)
        width = self._width()
        self._history = (
            _append(old_y, y, width),
            None if old_X is None else _append(old_X, self._covariates(X, y), width),
        )
        self._updated = True
        return self

    def _width(self) -> int:
        return max(self.padding + 1, self.forecaster_.lags_ + 1, self.season or 1)

    def _predict(self, fh: ForecastingHorizon, X: pd.DataFrame | None = None) -> pd.DataFrame:
        # X (future covariates) is not used: the forecasts depend on the history only.
        # Relative steps can only shrink as update() moves the cutoff, so they stay
        # within the fitted horizon, max(fh) at fit.
        steps = self._steps(fh)
        longest = self.forecaster_.horizons_[-1]
        if not self._updated:
            forecast = self.forecaster_.predict(longest)
        else:
            y_hist, X_hist = self._history
            forecast = self.forecaster_.predict(
                longest, y=y_hist.to_numpy(dtype=float),
                X=None if X_hist is None else X_hist.to_numpy(dtype=float))
        index = fh.to_absolute_index(self.cutoff)
        return pd.DataFrame(forecast[steps - 1], index=index, columns=self._columns)

    # ---------------------------------------------------------------- helpers
    def _steps(self, fh: ForecastingHorizon) -> np.ndarray:
        """Steps of ``fh`` after the cutoff, 1-based; in-sample steps are refused."""
        steps = np.asarray(fh.to_relative(self.cutoff).to_numpy(), dtype=int)
        if (steps < 1).any():
            raise ValueError(
                f"{type(self).__name__} forecasts after the cutoff only; fh has in-sample "
                f"step(s) {steps[steps < 1].tolist()} (relative to the cutoff)."
            )
        return steps

    def _covariates(self, X: pd.DataFrame | None, y: pd.DataFrame) -> pd.DataFrame | None:
        """The rows of ``X`` at ``y``'s steps (sktime lets ``X`` reach further)."""
        if X is None or X.shape[1] == 0:
            return None
        return X.loc[y.index]

    @classmethod
    def get_test_params(cls, parameter_set: str = "default") -> list[dict]:
        """Tiny CPU configurations for sktime's estimator checks.

        Parameters
        ----------
        parameter_set : str, default="default"
            Ignored; there is one set of test configurations.

        Returns
        -------
        list of dict
        """
        def encoder(**kw):
            return methods.TS2VecTransformer(output_dims=8, hidden_dims=8, depth=2, n_iters=3,
                                     device="cpu", random_state=0, **kw)

        # sktime's series have 15 to 50 steps and fh up to 5: a fractional tail fits.
        return [
            {"padding": 5, "valid_size": 0.3},
            {"encoder": encoder(batch_size=4), "padding": 3, "valid_size": 0.3,
             "baseline": "last_value", "use_embedding": True, "refit": False,
             "standardize": False, "alphas": (0.1, 10.0)},
            {"encoder": encoder(), "padding": 3, "valid_size": 0.3, "baseline": "auto",
             "season": 2, "lags": 2, "use_embedding": "auto"},
        ]


def _append(old: pd.DataFrame, new: pd.DataFrame, width: int) -> pd.DataFrame:
    """The last ``width`` rows of ``old`` updated with ``new`` (new rows win)."""
    both = pd.concat([old, new[old.columns]])
    both = both[~both.index.duplicated(keep="last")].sort_index()
    return both.iloc[-width:]


_ADAPTERS = adapter_classes(SSLTSTransformer, __name__, _docstring)
globals().update(_ADAPTERS)
__all__ += sorted(_ADAPTERS)
