"""Loading the UCR/UEA classification archives, and the example forecasting and anomaly data.

Files are looked up, in order, in ``data_home`` (argument, else the ``SSLTS_DATA``
environment variable), in the datasets bundled with sslts (GunPoint, BasicMotions,
JapaneseVowels),
and in the download cache.  A directory may use the archive layout
``<home>/ucr/<Name>/<Name>_TRAIN.tsv``, ``<home>/uea/<Name>/<Name>_TRAIN.ts`` or the
flat ``<home>/<Name>/<Name>_TRAIN.{tsv,ts}``; gzip-compressed files (``.gz``) are
read too.  A dataset found nowhere is downloaded as a zip from the archive
(``SSLTS_DATA_URL`` overrides the URL template) into the cache directory
(``SSLTS_CACHE``, default ``~/.cache/sslts``).

:func:`fetch_ett` and :func:`fetch_ucr_anomaly` return the folder that
:func:`sslts.evaluation.load_ett` and :func:`sslts.evaluation.load_ucr_anomaly` read:
ETTh1 and the UCR anomaly-archive series ``InternalBleeding16`` ship with sslts
(unmodified, gzip-compressed; decompressed into the cache on first use), the other ETT
files are downloaded once from the official ETDataset repository.

tslearn's ``UCR_UEA_datasets`` is not reused: it reads only the archive's
``.txt``/``.arff`` files in its own download cache and returns ``None`` on failure,
while these readers take ``.tsv``/``.ts`` files (gzipped or not) from any directory and
name the file and line of a malformed value.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from .utils._archive_files import read_archive_file, read_ts, read_ucr_tsv

__all__ = [
    "load_dataset",
    "list_datasets",
    "read_ucr_tsv",
    "read_ts",
    "fetch_ett",
    "fetch_ucr_anomaly",
    "BUNDLED_DATASETS",
    "ETT_URL",
]

BUNDLED_DATASETS = ("BasicMotions", "GunPoint", "JapaneseVowels")
DEFAULT_URL = "https://www.timeseriesclassification.com/aeon-toolkit/{name}.zip"
ETT_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{name}.csv"
"""Where :func:`fetch_ett` downloads an ETT file that is neither local nor bundled."""
# SHA-256 of the official ETT files. ETT's licence (CC BY-ND 4.0) allows unmodified
# copies only, and a checked download cannot be a truncated or altered one.
_ETT_SHA256 = {
    "ETTh1": "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066",
    "ETTh2": "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b",
    "ETTm1": "6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e",
    "ETTm2": "db973ca252c6410a30d0469b13d696cf919648d0f3fd588c60f03fdbdbadd1fd",
}
_BUNDLED_HOME = Path(__file__).parent / "data"
_SUFFIXES = (".tsv", ".ts", ".tsv.gz", ".ts.gz")
_LAYOUTS = ("ucr", "uea", "")


def _user_homes(data_home) -> list[Path]:
    if data_home is not None:
        return [Path(data_home).expanduser()]
    if os.environ.get("SSLTS_DATA"):
        return [Path(os.environ["SSLTS_DATA"]).expanduser()]
    return []


def _data_homes(data_home) -> list[Path]:
    return [*_user_homes(data_home), _BUNDLED_HOME, _cache_dir()]


def _cache_dir() -> Path:
    return Path(os.environ.get("SSLTS_CACHE", "~/.cache/sslts")).expanduser()


def _find_split_files(name: str, homes: list[Path]) -> tuple[Path, Path] | None:
    for home in homes:
        for layout in _LAYOUTS:
            folder = home / layout / name if layout else home / name
            for suffix in _SUFFIXES:
                train = folder / f"{name}_TRAIN{suffix}"
                test = folder / f"{name}_TEST{suffix}"
                if train.is_file() and test.is_file():
                    return train, test
    return None


def list_datasets(data_home=None) -> list[str]:
    """Names of the datasets available locally (no download).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data directory; defaults to ``$SSLTS_DATA``.

    Returns
    -------
    list of str
        Sorted dataset names.
    """
    names = set()
    for home in _data_homes(data_home):
        for layout in _LAYOUTS:
            folder = home / layout if layout else home
            if not folder.is_dir():
                continue
            for sub in folder.iterdir():
                if sub.is_dir() and _find_split_files(sub.name, [home]) is not None:
                    names.add(sub.name)
    return sorted(names)


def load_dataset(name: str, data_home=None, *, download: bool | None = None,
                 url: str | None = None):
    """Load a UCR/UEA classification dataset with its official train/test split.

    Parameters
    ----------
    name : str
        Dataset name as in the archive, e.g. ``"GunPoint"`` or ``"BasicMotions"``.
    data_home : str or path-like, default=None
        Directory holding the archive; defaults to ``$SSLTS_DATA``.  Bundled and
        cached datasets are found without it.
    download : bool, default=None
        Download the dataset into the cache when it is not found locally.  None (the
        default) downloads only when no data home was given (``data_home`` or
        ``$SSLTS_DATA``): a data home means "use what is there", so a misspelt name
        fails at once, offline, with the folders searched and the closest names.
    url : str, default=None
        URL template with a ``{name}`` field; defaults to ``$SSLTS_DATA_URL`` or the
        timeseriesclassification.com archive.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_timestamps, n_channels), float64
        NaN marks missing values and right-padding of shorter series.
    y_train : ndarray of shape (n_train,)
        Labels: integers when every label is an integer, else strings.
    X_test : ndarray of shape (n_test, n_timestamps, n_channels), float64
        Padded to the same length as ``X_train``.
    y_test : ndarray of shape (n_test,)

    Examples
    --------
    >>> X_train, y_train, X_test, y_test = load_dataset("GunPoint")
    >>> X_train.shape, X_test.shape
    ((50, 150, 1), (150, 150, 1))
    """
    homes = _data_homes(data_home)
    files = _find_split_files(name, homes)
    if files is None:
        if not (not _user_homes(data_home) if download is None else download):
            raise FileNotFoundError(_not_found(name, data_home, homes))
        _download(name, url or os.environ.get("SSLTS_DATA_URL", DEFAULT_URL))
        files = _find_split_files(name, [_cache_dir()])
        if files is None:
            raise FileNotFoundError(
                f"The downloaded archive for {name!r} holds no {name}_TRAIN/{name}_TEST "
                "file in .tsv or .ts format."
            )
    X_train, y_train = read_archive_file(files[0])
    X_test, y_test = read_archive_file(files[1])
    length = max(X_train.shape[1], X_test.shape[1])
    X_train, X_test = (_pad_to(X, length) for X in (X_train, X_test))
    if X_train.shape[2] != X_test.shape[2]:
        raise ValueError(
            f"{files[0]} has {X_train.shape[2]} channels but {files[1]} has {X_test.shape[2]}."
        )
    y_train, y_test = _convert_labels(np.concatenate([y_train, y_test]), len(y_train))
    return X_train, y_train, X_test, y_test


def _not_found(name: str, data_home, homes: list[Path]) -> str:
    """The error for a dataset found nowhere: where it looked, what is close, what to do."""
    known = sorted(set(list_datasets(data_home)) | set(BUNDLED_DATASETS))
    by_case = [k for k in known if k.lower() == name.lower()]
    close = by_case or difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"Dataset {name!r} was not found in {[str(h) for h in homes]} (as "
        f"<home>/[ucr|uea]/{name}/{name}_TRAIN.tsv or .ts, gzipped or not).{hint} "
        "Pass download=True to fetch it from the archive."
    )


def _pad_to(X: np.ndarray, length: int) -> np.ndarray:
    if X.shape[1] == length:
        return X
    return np.pad(X, ((0, 0), (0, length - X.shape[1]), (0, 0)), constant_values=np.nan)


def _convert_labels(labels: np.ndarray, n_train: int):
    try:
        values = labels.astype(np.float64)
    except ValueError:
        converted = labels.astype(str)
    else:
        integral = np.isfinite(values).all() and (values == np.round(values)).all()
        converted = values.astype(np.int64) if integral else labels.astype(str)
    return converted[:n_train], converted[n_train:]


def _download(name: str, url_template: str) -> None:
    url = url_template.format(name=name)
    target = _cache_dir() / name
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        archive = Path(tmp) / "archive.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, open(archive, "wb") as out:
                shutil.copyfileobj(resp, out)
        except OSError as exc:
            raise OSError(
                f"Could not download dataset {name!r} from {url}: {exc}. Put the files in "
                "$SSLTS_DATA/<Name>/ or pass data_home."
            ) from exc
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    base = Path(member).name
                    if base.startswith(f"{name}_TRAIN") or base.startswith(f"{name}_TEST"):
                        if base.endswith((".ts", ".tsv")):
                            with zf.open(member) as src, open(Path(tmp) / base, "wb") as dst:
                                shutil.copyfileobj(src, dst)
        except zipfile.BadZipFile as exc:
            raise ValueError(f"The file downloaded from {url} is not a zip archive.") from exc
        for f in Path(tmp).iterdir():
            if f.name != "archive.zip":
                os.replace(f, target / f.name)


def fetch_ett(name: str, data_home=None, *, download: bool = True, url: str | None = None) -> Path:
    """The folder holding ``<name>.csv`` of the ETT benchmark, ready for ``load_ett``.

    Looked up in ``data_home`` (as ``<home>/forecast/<name>.csv`` or ``<home>/<name>.csv``),
    then in the cache; ETTh1 ships with sslts and is decompressed into the cache on first
    use; the other files are downloaded once from the official ETDataset repository.
    Cached copies are checked byte for byte against the official files.

    Parameters
    ----------
    name : {"ETTh1", "ETTh2", "ETTm1", "ETTm2"}
    data_home : str or path-like, default=None
        Directory to look in first; defaults to ``$SSLTS_DATA``.
    download : bool, default=True
        Download a file found neither locally nor in the package.
    url : str, default=None
        URL template with a ``{name}`` field; defaults to :data:`ETT_URL`.

    Returns
    -------
    pathlib.Path
        Pass it as ``data_home`` to :func:`sslts.evaluation.load_ett`.

    Raises
    ------
    OSError
        The file is not available locally and cannot be downloaded (e.g. offline); the
        message says where to put it.

    Examples
    --------
    >>> from sslts.evaluation import load_ett
    >>> etth1 = load_ett("ETTh1", fetch_ett("ETTh1"), univariate=True)
    >>> etth1.data.shape, etth1.columns
    ((1, 14400, 8), ['OT'])
    """
    if name not in _ETT_SHA256:
        raise ValueError(f"{name!r} is not an ETT dataset: one of {sorted(_ETT_SHA256)}.")
    for home in _user_homes(data_home):
        if (home / "forecast" / f"{name}.csv").is_file() or (home / f"{name}.csv").is_file():
            return home
    cache = _cache_dir()
    target = cache / "forecast" / f"{name}.csv"
    if target.is_file() and _sha256(target) == _ETT_SHA256[name]:
        return cache
    bundled = _BUNDLED_HOME / "forecast" / f"{name}.csv.gz"
    if bundled.is_file():
        with gzip.open(bundled, "rb") as src:
            _write_atomically(src, target)
    elif download:
        source = (url or ETT_URL).format(name=name)
        try:
            with urllib.request.urlopen(source, timeout=60) as src:
                _write_atomically(src, target)
        except OSError as exc:
            raise OSError(
                f"{name}.csv is not on this computer and could not be downloaded from "
                f"{source} ({exc}). sslts ships ETTh1 only: download {name}.csv from the "
                f"ETDataset repository and put it in <data_home>/forecast/ (pass data_home "
                "or set $SSLTS_DATA)."
            ) from exc
    else:
        raise FileNotFoundError(f"{name}.csv was not found locally and download=False.")
    if _sha256(target) != _ETT_SHA256[name]:
        target.unlink()
        raise OSError(f"The {name}.csv obtained for the cache differs from the official file.")
    return cache


def fetch_ucr_anomaly(name: str = "InternalBleeding16", data_home=None) -> Path:
    """The folder of a UCR anomaly-archive series, ready for ``load_ucr_anomaly``.

    A folder matches when it holds ``<prefix><name>_TRAIN.csv`` and ``..._TEST.csv``
    (the archive's files as aeon distributes them, e.g.
    ``135_UCR_Anomaly_InternalBleeding16_TRAIN.csv``).  Looked up in ``data_home`` (the
    folder itself, or its ``anomaly/`` sub-folders), then in the cache; the series
    ``InternalBleeding16`` ships with sslts and is decompressed into the cache on first use.

    Parameters
    ----------
    name : str, default="InternalBleeding16"
        The series' name, with or without its archive prefix.
    data_home : str or path-like, default=None
        Directory to look in first; defaults to ``$SSLTS_DATA``.

    Returns
    -------
    pathlib.Path
        Pass it to :func:`sslts.evaluation.load_ucr_anomaly`.

    Raises
    ------
    FileNotFoundError
        The series is neither local nor bundled.

    Examples
    --------
    >>> from sslts.evaluation import load_ucr_anomaly
    >>> series = load_ucr_anomaly(fetch_ucr_anomaly("InternalBleeding16"))
    >>> len(series.values), series.n_train, int(series.labels.sum())
    (7501, 1200, 12)
    """
    homes = _user_homes(data_home)
    folders = [f for home in homes for f in (home, *sorted((home / "anomaly").glob("*")))]
    cache = _cache_dir() / "anomaly"
    for folder in [*folders, *sorted(cache.glob("*"))]:
        if _anomaly_files(folder, name, ".csv"):
            return folder
    bundled = _anomaly_files(_BUNDLED_HOME / "anomaly", name, ".csv.gz")
    if not bundled:
        raise FileNotFoundError(
            f"No UCR anomaly series {name!r} in {[str(h) for h in homes]} or the cache, and sslts "
            "bundles only InternalBleeding16: put its *_TRAIN.csv and *_TEST.csv files in "
            "<data_home>/anomaly/<folder>/ (pass data_home or set $SSLTS_DATA)."
        )
    target = cache / bundled[0].name.removesuffix("_TRAIN.csv.gz")
    for path in bundled:
        with gzip.open(path, "rb") as src:
            _write_atomically(src, target / path.name.removesuffix(".gz"))
    return target


def _anomaly_files(folder: Path, name: str, suffix: str) -> list[Path]:
    for train in sorted(folder.glob(f"*{name}_TRAIN{suffix}")):
        prefix = train.name[: -len(f"{name}_TRAIN{suffix}")]
        test = train.with_name(f"{prefix}{name}_TEST{suffix}")
        if prefix[-1:] in ("", "_") and test.is_file():  # "Bleeding16" is not "InternalBleeding16"
            return [train, test]
    return []


def _write_atomically(source, target: Path) -> None:
    # A partial file (interrupted download, full disk) never takes the final name.
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            shutil.copyfileobj(source, tmp)
        except BaseException:
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
