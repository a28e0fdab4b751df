"""Converters from the collection layouts of aeon, sktime and pandas to sslts arrays.

Every sslts estimator reads ``(n_series, n_timestamps, n_channels)`` arrays
("channels-last", the tslearn/TS2Vec layout), NaN-padded when the series differ in
length.  What else it reads directly (see :func:`sslts.utils.check_time_series`):

- channels-first ``(n_series, n_channels, n_timestamps)`` arrays and lists of
  ``(n_channels, n_timestamps_i)`` arrays (aeon's ``numpy3D`` and ``np-list``, sktime's
  ``numpy3D``, tsai) with ``input_layout="channels_first"``;
- DataFrames with an ``(instance, timepoint)`` MultiIndex and one column per channel
  (``pd-multiindex`` in aeon and sktime), read by :func:`from_pd_multiindex`;
- sktime's ``nested_univ`` DataFrames (one ``pd.Series`` per cell), read by
  :func:`from_nested_univ`.

:func:`from_aeon` and :func:`from_sktime` turn any collection type of those
libraries into an sslts array, using the libraries' own type detection and
conversions; they need the library installed (the ``[aeon]`` / ``[sktime]`` extras).
The other converters need only pandas.  Every converter returns a new float64 array
and leaves its input untouched.
"""

from __future__ import annotations

import numpy as np

from .series import pad_series_list

__all__ = ["from_aeon", "from_nested_univ", "from_pd_multiindex", "from_sktime", "is_nested_univ"]


def from_pd_multiindex(X) -> np.ndarray:
    """Read a DataFrame indexed by ``(instance, timepoint)`` with one column per channel.

    This is the ``pd-multiindex`` layout of aeon and sktime.  Instances keep their
    order of first appearance; within an instance the rows are sorted by timepoint,
    whose values are otherwise unused (rows are consecutive time steps).  Shorter
    instances are right-padded with ``NaN``.

    Parameters
    ----------
    X : pandas.DataFrame of shape (n_rows, n_channels)
        Index with two levels (instance, timepoint); numeric columns.

    Returns
    -------
    X_out : ndarray of shape (n_instances, max_length, n_channels), float64

    Raises
    ------
    ValueError
        An index without exactly two levels, duplicate or missing index labels.
    TypeError
        Non-numeric columns.

    Examples
    --------
    >>> import pandas as pd
    >>> index = pd.MultiIndex.from_tuples([("a", 0), ("a", 1), ("b", 0)])
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [4.0, 5.0, 6.0]}, index=index)
    >>> from_pd_multiindex(df)
    array([[[ 1.,  4.],
            [ 2.,  5.]],
    <BLANKLINE>
           [[ 3.,  6.],
            [nan, nan]]])
    """
    import pandas as pd

    if X.index.nlevels != 2:
        raise ValueError(
            f"A pd-multiindex DataFrame needs an index with two levels (instance, timepoint); "
            f"X's has {X.index.nlevels}. Reset the other levels, e.g. X.droplevel(...)."
        )
    if X.index.has_duplicates:
        raise ValueError(
            "X has duplicate (instance, timepoint) index entries; each time step of an "
            "instance must appear once."
        )
    values = _numeric_values(X)
    if len(X) == 0:
        return np.empty((0, 0, X.shape[1]))
    # factorize keeps the instances in order of first appearance (code -1: missing).
    instance, n_instances = _codes(pd.factorize(X.index.get_level_values(0)), "instance")
    time, _ = _codes(pd.factorize(X.index.get_level_values(1), sort=True), "timepoint")
    order = np.lexsort((time, instance))
    instance = instance[order]
    lengths = np.bincount(instance, minlength=n_instances)
    step = np.arange(len(instance)) - (np.cumsum(lengths) - lengths)[instance]
    out = np.full((n_instances, lengths.max(), X.shape[1]), np.nan)
    out[instance, step] = values[order]
    return out


def _codes(factorized, level: str) -> tuple[np.ndarray, int]:
    codes, uniques = factorized
    if (codes < 0).any():
        raise ValueError(f"X has missing (NaN) {level} labels in its index; drop or fill them.")
    return codes, len(uniques)


def _numeric_values(X) -> np.ndarray:
    try:
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        dtypes = ", ".join(f"{c!r}: {t}" for c, t in X.dtypes.items())
        raise TypeError(
            f"Every column of X must be numeric (one column per channel); got {dtypes} "
            f"({exc})."
        ) from exc


def is_nested_univ(X) -> bool:
    """Whether ``X`` is a DataFrame in sktime's ``nested_univ`` layout.

    That is: object columns whose cells hold one ``pd.Series`` each (one row per
    instance, one column per channel).  Only the first cell is inspected.

    Parameters
    ----------
    X : object

    Returns
    -------
    bool

    Examples
    --------
    >>> import pandas as pd
    >>> is_nested_univ(pd.DataFrame({"dim_0": [pd.Series([1.0, 2.0])]}))
    True
    >>> is_nested_univ(pd.DataFrame({"t0": [1.0], "t1": [2.0]}))
    False
    """
    try:
        import pandas as pd
    except ImportError:  # then X cannot be a DataFrame
        return False
    return (
        isinstance(X, pd.DataFrame)
        and X.size > 0
        and all(pd.api.types.is_object_dtype(dtype) for dtype in X.dtypes)
        and isinstance(X.iat[0, 0], pd.Series)
    )


def from_nested_univ(X) -> np.ndarray:
    """Read sktime's ``nested_univ`` DataFrame (one ``pd.Series`` per cell).

    Uses :func:`tslearn.utils.from_sktime_dataset`; any column names are accepted
    (tslearn wants ``dim_0, dim_1, ...``, so the columns are renamed in a copy).

    Parameters
    ----------
    X : pandas.DataFrame of shape (n_instances, n_channels)
        Each cell a numeric ``pd.Series``; series of different lengths are allowed.

    Returns
    -------
    X_out : ndarray of shape (n_instances, max_length, n_channels), float64
        Shorter series right-padded with ``NaN``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"acc": [pd.Series([1.0, 2.0]), pd.Series([3.0])]})
    >>> from_nested_univ(df)[..., 0]
    array([[ 1.,  2.],
           [ 3., nan]])
    """
    from tslearn.utils import from_sktime_dataset  # here: tslearn loads numba, ~1 s

    if not is_nested_univ(X):
        raise TypeError(
            "X is not a nested_univ DataFrame (object columns holding one pd.Series per "
            "cell); sktime.datatypes.convert_to(X, 'nested_univ') makes one."
        )
    renamed = X.set_axis([f"dim_{j}" for j in range(X.shape[1])], axis=1)
    return from_sktime_dataset(renamed.reset_index(drop=True))


def from_aeon(X) -> np.ndarray:
    """Convert any aeon collection to an sslts array.

    The type is detected by :func:`aeon.utils.validation.collection.get_type`:
    ``numpy3D`` ``(n_cases, n_channels, n_timepoints)``, ``np-list`` / ``df-list`` of
    ``(n_channels, n_timepoints_i)``, ``numpy2D`` / ``pd-wide`` (univariate) or
    ``pd-multiindex``.  Lists go through :func:`aeon.utils.conversion.convert_collection`
    to ``np-list`` and are then NaN-padded.

    Parameters
    ----------
    X : aeon collection
        See ``aeon.utils.data_types.COLLECTIONS_DATA_TYPES``.

    Returns
    -------
    X_out : ndarray of shape (n_cases, max_n_timepoints, n_channels), float64

    Raises
    ------
    TypeError or ValueError
        From aeon, when ``X`` is no aeon collection type.

    Examples
    --------
    >>> from aeon.datasets import load_basic_motions
    >>> X, y = load_basic_motions(split="train")
    >>> X.shape, from_aeon(X).shape
    ((40, 6, 100), (40, 100, 6))
    """
    from aeon.utils.conversion import convert_collection
    from aeon.utils.validation.collection import get_type

    kind = get_type(X)
    if kind == "numpy3D":
        return np.swapaxes(X, 1, 2).astype(np.float64)
    if kind in ("numpy2D", "pd-wide"):
        return np.asarray(X, dtype=np.float64)[:, :, None].copy()
    if kind == "pd-multiindex":
        return from_pd_multiindex(X)
    return pad_series_list(convert_collection(X, "np-list"), layout="channels_first")


def from_sktime(X) -> np.ndarray:
    """Convert any sktime Panel (collection of series) to an sslts array.

    ``numpy3D`` ``(n_instances, n_channels, n_timepoints)`` arrays are transposed;
    every other Panel mtype (``nested_univ``, ``pd-multiindex``, ``df-list``,
    ``pd-long``, ``numpyflat``, ...) is converted by
    :func:`sktime.datatypes.convert_to` to ``df-list`` (one ``(n_timepoints_i,
    n_channels)`` frame per instance) and NaN-padded.

    Parameters
    ----------
    X : sktime Panel
        See ``sktime.datatypes.MTYPE_REGISTER``.

    Returns
    -------
    X_out : ndarray of shape (n_instances, max_n_timepoints, n_channels), float64

    Raises
    ------
    TypeError
        From sktime, when ``X`` is no Panel mtype.

    Examples
    --------
    >>> from sktime.datasets import load_basic_motions
    >>> X, y = load_basic_motions(split="train", return_type="nested_univ")
    >>> X.shape, from_sktime(X).shape
    ((40, 6), (40, 100, 6))
    """
    from sktime.datatypes import convert_to

    if isinstance(X, np.ndarray) and X.ndim == 3:
        return np.swapaxes(X, 1, 2).astype(np.float64)
    frames = convert_to(X, to_type="df-list", as_scitype="Panel")
    return pad_series_list([frame.to_numpy() for frame in frames])
