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
"""

from __future__ import annotations

import numpy as np

try:
    import pandas as pd
    from sktime.transformations.base import BaseTransformer
except ModuleNotFoundError as exc:  # keep exc.name: tools detect the missing extra by it
    raise ModuleNotFoundError(
        f"sslts.sktime needs sktime ({exc}); install it with: pip install 'sslts[sktime]'",
        name=exc.name,
    ) from exc

from ._adapters import adapter_classes, make_estimator, runs_on_accelerator, tiny_test_params

__all__: list[str] = []  # the per-estimator classes, added at the end


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
    name = sslts_class.__name__
    return f"""{name} as an sktime transformer.

    The parameters are those of :class:`sslts.{name}` except ``input_layout`` and
    ``warm_start``; see there for their meaning.  Input: any sktime Panel or Series,
    multivariate, of unequal length, with NaN for missing values.  Output: a
    DataFrame of ``(n_instances, n_features)`` for ``level="instance"``, a Panel of
    ``n_features`` variables on the input's time index for ``level="timestamp"``.

    Attributes
    ----------
    estimator_ : sslts.{name}
        The fitted sslts estimator (``encode``, ``save``, ``loss_history_``, ...).

    See Also
    --------
    sslts.{name} : The scikit-learn estimator, for (n, n_timestamps, n_channels) data.

    Examples
    --------
    >>> from sktime.datasets import load_basic_motions
    >>> from sslts.sktime import {name}
    >>> X, _ = load_basic_motions(split="train", return_type="nested_univ")
    >>> Z = {name}(n_iters=2, random_state=0).fit_transform(X)
    >>> len(Z)
    40
    """


_ADAPTERS = adapter_classes(SSLTSTransformer, __name__, _docstring)
globals().update(_ADAPTERS)
__all__ += sorted(_ADAPTERS)
