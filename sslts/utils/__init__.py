"""Utilities shared by every sslts estimator."""

from .validation import (
    LayoutWarning,
    check_time_series,
    pad_series_list,
    series_lengths,
    valid_timestamp_mask,
)

__all__ = [
    "LayoutWarning",
    "check_time_series",
    "pad_series_list",
    "series_lengths",
    "valid_timestamp_mask",
]
