"""Every sslts estimator as an aeon collection transformer (``pip install sslts[aeon]``).

``sslts.aeon.TS2VecTransformer`` (and one class per sslts estimator, same names and
parameters) is an :class:`aeon.transformations.collection.BaseCollectionTransformer`:
it takes aeon's collections as they are (``(n_cases, n_channels, n_timepoints)``
arrays, lists of ``(n_channels, n_timepoints_i)`` arrays, ``pd-multiindex`` frames,
...), and works in aeon pipelines and with aeon/scikit-learn classifiers:

>>> from aeon.datasets import load_basic_motions
>>> from sklearn.linear_model import RidgeClassifierCV
>>> from sklearn.pipeline import make_pipeline
>>> from sslts.aeon import TS2VecTransformer
>>> X_train, y_train = load_basic_motions(split="train")   # (40, 6, 100)
>>> X_test, y_test = load_basic_motions(split="test")
>>> clf = make_pipeline(TS2VecTransformer(n_iters=20, random_state=0), RidgeClassifierCV())
>>> 0.0 <= clf.fit(X_train, y_train).score(X_test, y_test) <= 1.0
True

Tags: multivariate, unequal length and missing values are supported (NaN marks
both); ``output_data_type`` is ``"Tabular"`` for ``level="instance"`` (one row of
``output_dims`` features per case) and ``"Collection"`` for ``level="timestamp"``
(``(n_cases, output_dims, n_timepoints)``, or a list of ``(output_dims,
n_timepoints_i)`` arrays for unequal-length input); ``non_deterministic`` is set
when the estimator trains on a GPU (``device`` resolving to CUDA), whose kernels
are not bitwise reproducible.  The fitted sslts estimator is ``estimator_`` (for
``encode``, ``save``, ...).  The parameters ``input_layout`` (aeon collections are
channels-first) and ``warm_start`` (aeon's ``fit`` resets the estimator) are not
offered.
"""

from __future__ import annotations

import numpy as np

try:
    from aeon.transformations.collection import BaseCollectionTransformer
except ModuleNotFoundError as exc:  # keep exc.name: tools detect the missing extra by it
    raise ModuleNotFoundError(
        f"sslts.aeon needs aeon ({exc}); install it with: pip install 'sslts[aeon]'",
        name=exc.name,
    ) from exc

from ._adapters import (
    adapter_classes,
    adapter_docstring,
    make_estimator,
    runs_on_accelerator,
    tiny_test_params,
)

__all__: list[str] = []  # the per-estimator classes, added at the end


class SSLTSCollectionTransformer(BaseCollectionTransformer):
    """Base of the aeon adapters; use the per-estimator classes of this module.

    Attributes
    ----------
    estimator_ : BaseSSLTransformer
        The fitted sslts estimator.
    """

    _tags = {
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "capability:missing_values": True,
        # aeon hands over numpy3D when the series are equally long, else np-list;
        # both are channels-first, which the inner estimator is told.
        "X_inner_type": ["np-list", "numpy3D"],
        "output_data_type": "Tabular",
        "removes_unequal_length": True,
        "algorithm_type": "deeplearning",
        "non_deterministic": False,
    }
    sslts_class: type | None = None  # set on each generated subclass

    def __init__(self):
        super().__init__()
        # Tags that depend on parameters; aeon's fit re-runs __init__ (reset), so
        # they follow set_params too.
        timestamps = getattr(self, "level", "instance") == "timestamp"
        self.set_tags(
            **{
                "output_data_type": "Collection" if timestamps else "Tabular",
                "removes_unequal_length": not timestamps,
                "non_deterministic": runs_on_accelerator(getattr(self, "device", "cpu")),
            }
        )

    def _fit(self, X, y=None):
        self.estimator_ = make_estimator(self).fit(X)
        return self

    def _transform(self, X, y=None):
        Z = self.estimator_.transform(X)
        if self.level != "timestamp":
            return Z
        if isinstance(X, list):  # unequal length: each case keeps its own length
            return [np.ascontiguousarray(Z[i, : x.shape[-1]].T) for i, x in enumerate(X)]
        return np.ascontiguousarray(np.swapaxes(Z, 1, 2))

    @classmethod
    def _get_test_params(cls, parameter_set="default"):
        """Tiny CPU configurations for aeon's estimator checks.

        Parameters
        ----------
        parameter_set : str, default="default"
            Ignored; there is one set of test configurations.

        Returns
        -------
        list of dict
        """
        return tiny_test_params(cls.sslts_class)


def _docstring(sslts_class: type) -> str:
    return adapter_docstring(sslts_class, toolkit="aeon", summary=f"""\
    The parameters are those of :class:`sslts.{sslts_class.__name__}` except
    ``input_layout`` (aeon collections are channels-first) and ``warm_start``; see there
    for their meaning.  Input: any aeon collection, multivariate, of unequal length, with
    NaN for missing values.  Output: ``(n_cases, n_features)`` for ``level="instance"``,
    ``(n_cases, n_features, n_timepoints)`` (a list for unequal lengths) for
    ``level="timestamp"``.""", load='split="train"')


_ADAPTERS = adapter_classes(SSLTSCollectionTransformer, __name__, _docstring)
globals().update(_ADAPTERS)
__all__ += sorted(_ADAPTERS)
