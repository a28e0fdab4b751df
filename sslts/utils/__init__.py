"""Utilities shared by every sslts estimator.

``Interval``, ``StrOptions``, ``Options`` and ``HasMethods`` are scikit-learn's
parameter constraints, re-exported for the ``parameter_constraints`` of a new method
(scikit-learn keeps them in a private module).
"""

from .series import LayoutWarning, pad_series_list, series_lengths, valid_timestamp_mask
from .validation import HasMethods, Interval, Options, StrOptions, check_time_series

__all__ = [
    "HasMethods",
    "Interval",
    "LayoutWarning",
    "Options",
    "StrOptions",
    "check_time_series",
    "pad_series_list",
    "series_lengths",
    "valid_timestamp_mask",
]
