"""Readers of the UCR/UEA archive files: ``.tsv`` (UCR) and ``.ts`` (UEA, sktime/aeon).

Both take plain or gzip-compressed files from any folder and name the file and line of a
malformed value.  :func:`sslts.load_dataset` finds the files and calls these.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np

from .series import pad_series_list

__all__ = ["read_archive_file", "read_ts", "read_ucr_tsv"]


def _open_text(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def read_archive_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.tsv`` or ``.ts`` file (gzipped or not), by its suffix.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    X : ndarray of shape (n_series, n_timestamps, n_channels), float64
    y : ndarray of shape (n_series,)
    """
    return read_ucr_tsv(path) if ".tsv" in path.name else read_ts(path)


def read_ucr_tsv(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a UCR ``.tsv`` file (label in the first column, then the values).

    Parameters
    ----------
    path : str or path-like
        File to read (``.gz`` allowed).

    Returns
    -------
    X : ndarray of shape (n_series, n_timestamps, 1), float64
    y : ndarray of shape (n_series,), str

    Raises
    ------
    ValueError
        A malformed line, naming the file and the line number.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "toy.tsv"
    >>> _ = path.write_text("a\\t1\\t2\\t3\\nb\\t4\\t5\\t?\\n")
    >>> X, y = read_ucr_tsv(path)
    >>> X[..., 0], y
    (array([[ 1.,  2.,  3.],
           [ 4.,  5., nan]]), array(['a', 'b'], dtype='<U1'))
    """
    path = Path(path)
    labels, rows = [], []
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            fields = line.split("\t") if "\t" in line else line.split(",")
            if len(fields) < 2:
                raise ValueError(f"{path}, line {lineno}: expected a label and values.")
            if rows and len(fields) - 1 != len(rows[0]):
                raise ValueError(
                    f"{path}, line {lineno}: {len(fields) - 1} values where line 1 has "
                    f"{len(rows[0])}."
                )
            rows.append(_parse_floats(fields[1:], path, lineno))
            labels.append(fields[0].strip())
    if not rows:
        raise ValueError(f"{path} holds no series.")
    return np.asarray(rows)[:, :, None], np.asarray(labels)


def _parse_floats(tokens, path, lineno) -> list[float]:
    out = []
    for tok in tokens:
        tok = tok.strip()
        if tok in ("?", ""):
            out.append(np.nan)
            continue
        try:
            out.append(float(tok))
        except ValueError:
            raise ValueError(f"{path}, line {lineno}: cannot parse value {tok!r}.") from None
    return out


def read_ts(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.ts`` file (sktime/aeon format, uni- or multivariate).

    Parameters
    ----------
    path : str or path-like
        File to read (``.gz`` allowed).

    Returns
    -------
    X : ndarray of shape (n_series, max_length, n_channels), float64
        Shorter series are NaN-padded; ``?`` values are NaN.
    y : ndarray of shape (n_series,), str

    Raises
    ------
    ValueError
        A malformed line, naming the file and the line number.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "toy.ts"
    >>> _ = path.write_text("@classLabel true a b\\n@data\\n1,2,3:4,5,6:a\\n7,8:9,10:b\\n")
    >>> X, y = read_ts(path)
    >>> X.shape, X[1, :, 0], y
    ((2, 3, 2), array([ 7.,  8., nan]), array(['a', 'b'], dtype='<U1'))
    """
    path = Path(path)
    series, labels = [], []
    in_data, has_labels = False, True
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                lower = line.lower()
                if lower.startswith("@classlabel"):
                    has_labels = lower.split()[1:2] == ["true"]
                elif lower.startswith("@data"):
                    in_data = True
                continue
            fields = line.split(":")
            if has_labels:
                labels.append(fields[-1].strip())
                fields = fields[:-1]
            if not fields:
                raise ValueError(f"{path}, line {lineno}: no channel values.")
            channels = [_parse_floats(f.split(","), path, lineno) for f in fields]
            if series and len(channels) != series[0].shape[1]:
                raise ValueError(
                    f"{path}, line {lineno}: {len(channels)} channels where the first case "
                    f"has {series[0].shape[1]}."
                )
            length = max(len(c) for c in channels)
            case = np.full((length, len(channels)), np.nan)
            for j, c in enumerate(channels):
                case[: len(c), j] = c
            series.append(case)
    if not in_data:
        raise ValueError(f"{path} has no @data section; is it a .ts file?")
    if not series:
        raise ValueError(f"{path} holds no series.")
    y = np.asarray(labels) if has_labels else np.full(len(series), "", dtype=object)
    return pad_series_list(series), y
