"""Saving, loading and checkpointing of fitted estimators.

A saved model is a dict of plain Python values and tensors written with
:func:`torch.save`, so :func:`load` can use ``torch.load(weights_only=True)``: no
code from the file is ever executed.  The same payload, plus the training loop's
state, is what :class:`sslts.callbacks.Checkpoint` writes.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from ._registry import estimator_class
from .utils.devices import fallback_device, seeded_torch, to_cpu

__all__ = [
    "PersistenceMixin",
    "atomic_save",
    "data_fingerprint",
    "estimator_payload",
    "load",
    "read_payload",
    "restore_estimator",
    "Unsaveable",
    "from_plain",
    "plain_params",
    "same_plain",
    "to_plain",
]

_FORMAT_VERSION = 1
_NDARRAY = "__sslts_ndarray__"
_CALLABLE = "__sslts_callable__"
_ESTIMATOR = "__sslts_estimator__"
_FROZEN = "__sklearn_frozen__"
# Private attributes that are rebuilt (modules) or stored under their own key.
_NOT_PRIVATE = ("_optimizer_state",)
# Training-time objects, not model state: never written to a file.
_NOT_SAVED = ("callbacks", "callbacks_")


class Unsaveable(TypeError):
    """A value that cannot be written as plain data (the message says which and why)."""


def _importable_name(obj) -> str | None:
    """``"module:qualname"`` when importing it gives back ``obj`` itself, else None."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not module or "<" in qualname:  # lambdas and functions defined inside functions
        return None
    try:
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return f"{module}:{qualname}" if found is obj else None


def _import_name(name: str):
    module, qualname = name.split(":")
    found = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def to_plain(value):
    """``value`` as plain data for a ``weights_only`` file.

    Numbers, strings, numpy scalars and arrays, tensors, lists, tuples and dicts of
    them; functions and classes by their importable name (``"module:qualname"``);
    sslts estimators (fitted or not, e.g. a generator's tokenizer) by their class,
    parameters and fitted state, also inside :class:`sklearn.frozen.FrozenEstimator`.

    Raises
    ------
    Unsaveable
        Anything else, e.g. a lambda or a function defined inside another one.
    """
    if type(value) in (bool, int, float, str, type(None)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()  # numpy scalars would need numpy's pickle globals
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu")
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {_NDARRAY: torch.from_numpy(np.array(value, copy=True))}
    if isinstance(value, (list, tuple)):
        return type(value)(to_plain(v) for v in value)
    if isinstance(value, dict) and all(isinstance(k, (str, int)) for k in value):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, PersistenceMixin):
        fitted = estimator_payload(value) if hasattr(value, "module_") else None
        return {_ESTIMATOR: {"class": type(value).__name__, "params": plain_params(value),
                             "state": fitted}}
    if isinstance(value, FrozenEstimator):
        return {_FROZEN: to_plain(value.estimator)}
    if callable(value):
        name = _importable_name(value)
        if name is None:
            raise Unsaveable(
                f"{value!r} cannot be saved: only a function or class that can be imported "
                "by its name (defined at the top level of a module) can; a lambda, a "
                "functools.partial or a function defined inside another cannot"
            )
        return {_CALLABLE: name}
    raise Unsaveable(f"a {type(value).__name__} is not plain data")


def from_plain(value):
    """Inverse of :func:`to_plain`."""
    if isinstance(value, dict):
        if set(value) == {_NDARRAY}:
            return value[_NDARRAY].numpy()
        if set(value) == {_CALLABLE}:
            return _import_name(value[_CALLABLE])
        if set(value) == {_ESTIMATOR}:
            record = value[_ESTIMATOR]
            est = estimator_class(record["class"])(**from_plain(record["params"]))
            if record["state"] is not None:
                restore_estimator(est, record["state"])
            return est
        if set(value) == {_FROZEN}:
            return FrozenEstimator(from_plain(value[_FROZEN]))
        return {k: from_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(from_plain(v) for v in value)
    return value


def same_plain(a, b) -> bool:
    """Whether two values of :func:`to_plain`'s output are equal (tensors by value).

    Examples
    --------
    >>> same_plain({"w": torch.ones(2), "n": 3}, {"w": torch.ones(2), "n": 3})
    True
    >>> same_plain([torch.ones(2)], [torch.zeros(2)])
    False
    """
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b)))
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(same_plain(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(same_plain(x, y) for x, y in zip(a, b)))
    return bool(a == b)


def _plain_attributes(est, names) -> dict:
    out = {}
    for name in names:
        try:
            out[name] = to_plain(est.__dict__[name])
        except Unsaveable as exc:
            warnings.warn(
                f"{type(est).__name__}.{name} is not saved: {exc}.",
                RuntimeWarning,
                stacklevel=4,
            )
    return out


def plain_params(est) -> dict:
    """``est``'s parameters as plain data (a RandomState instance becomes None).

    Raises
    ------
    ValueError
        A parameter cannot be saved; the message names it and says what to do.
    """
    params = {k: v for k, v in est.get_params(deep=False).items() if k not in _NOT_SAVED}
    if isinstance(params.get("random_state"), np.random.RandomState):
        params["random_state"] = None  # a generator's state is not a parameter value
    params = {k: str(v) if isinstance(v, torch.device) else v for k, v in params.items()}
    try:
        return {k: to_plain(v) for k, v in params.items()}
    except Unsaveable:
        bad = {}
        for k, v in params.items():
            try:
                to_plain(v)
            except Unsaveable as exc:
                bad[k] = exc
        raise ValueError(
            f"{type(est).__name__} cannot be saved or checkpointed: "
            + "; ".join(f"{k}={params[k]!r}: {exc}" for k, exc in bad.items())
            + ". Pickle it instead (pickle or joblib keep any picklable object)."
        ) from None


def estimator_payload(est) -> dict:
    """Everything needed to rebuild the fitted ``est``."""
    keys = [k for k in est.__dict__ if not k.startswith("__")]
    fitted = [
        k for k in keys if k.endswith("_") and not k.startswith("_") and k not in _NOT_SAVED
    ]
    # Callables among private attributes are hooks patched onto the instance, not state.
    private = [
        k for k in keys
        if k.startswith("_") and k not in _NOT_PRIVATE and not callable(est.__dict__[k])
    ]
    modules = ("module_", "averaged_module_", "device_")
    fitted = [k for k in fitted if k not in modules]
    averaged = est.averaged_module_
    return {
        "sslts_format": _FORMAT_VERSION,
        "class": type(est).__name__,
        "params": plain_params(est),
        "fitted": _plain_attributes(est, fitted),
        "private": _plain_attributes(est, private),
        "device": str(est.device_),
        "module": to_cpu(est.module_.state_dict()),
        "averaged_module": None if averaged is None else to_cpu(averaged.state_dict()),
        "optimizer": est._optimizer_state,
    }


def atomic_save(payload: dict, path) -> None:
    """Write ``payload`` so that ``path`` is never left half-written (e.g. on Ctrl-C).

    The file is written next to ``path`` and renamed over it.  Only a regular file is
    ever replaced.

    Raises
    ------
    OSError
        ``path`` exists and is not a regular file (a folder, a device, a pipe), or the
        write failed (a full disk, no permission); no partial file is left behind.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise IsADirectoryError(
            f"{path} exists and is not a regular file; save to a file path instead."
        ) if path.is_dir() else OSError(
            f"{path} exists and is not a regular file (a device, pipe or socket); it was "
            "left alone. Save to a file path instead."
        )
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise OSError(f"Could not write {path}: {exc}") from exc


def save(est, path) -> None:
    """Write the fitted ``est`` to ``path`` (see :meth:`BaseSSLTransformer.save`)."""
    atomic_save(estimator_payload(est), path)


def read_payload(path) -> dict:
    """The payload in ``path``, checked to be an sslts model of a readable format."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # unpickling/zip errors vary by torch version
        raise ValueError(
            f"{path} is not an sslts model file (torch.load with weights_only=True "
            f"failed: {exc})."
        ) from exc
    if not isinstance(payload, dict) or "sslts_format" not in payload:
        raise ValueError(f"{path} is not an sslts model file (no 'sslts_format' key).")
    if payload["sslts_format"] > _FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by a newer sslts (format {payload['sslts_format']}); "
            "upgrade sslts to read it."
        )
    return payload


def restore_estimator(est, payload: dict) -> None:
    """Put the fitted state of ``payload`` into ``est`` (whose params already match)."""
    est.__dict__.update(from_plain(payload["fitted"]))
    est.callbacks_ = []  # training-time objects are not saved (pickling keeps them)
    est.__dict__.update(from_plain(payload["private"]))
    est.device_ = fallback_device(torch.device(payload["device"]))
    with seeded_torch(0, torch.device("cpu")):  # initial values are overwritten below
        est.module_ = est.build_module(est.n_channels_)
    est.module_.load_state_dict(payload["module"])
    est.averaged_module_ = None
    if payload["averaged_module"] is not None:
        est.averaged_module_ = copy.deepcopy(est.module_)
        est.averaged_module_.load_state_dict(payload["averaged_module"])
    est._optimizer_state = payload["optimizer"]
    for module in (est.module_, est.averaged_module_):
        if module is not None:
            module.to(est.device_)


def load(path):
    """Load any sslts estimator written by ``save``.

    Parameters
    ----------
    path : str or path-like
        File written by :meth:`BaseSSLTransformer.save`.

    Returns
    -------
    estimator : BaseSSLTransformer or ChannelIndependent
        The fitted estimator, on its saved device when that exists here, else on the
        CPU (with a warning).

    Raises
    ------
    ValueError
        ``path`` is not a file written by sslts (``torch.load`` runs with
        ``weights_only=True``, so a foreign pickle is rejected, never executed).
    """
    payload = read_payload(path)
    cls = estimator_class(payload["class"])
    if not issubclass(cls, PersistenceMixin):  # a wrapper around a method loads itself
        return cls.load(path)
    est = cls(**from_plain(payload["params"]))
    restore_estimator(est, payload)
    return est


class PersistenceMixin:
    """Pickling and ``save``/``load`` for :class:`~sslts.base.BaseSSLTransformer`.

    Pickles hold CPU copies of the networks and the device as a string, so a model
    fitted on a GPU unpickles on a machine without one (on the CPU, with a warning).
    """

    def __getstate__(self):
        state = self.__dict__.copy()
        for key in ("module_", "averaged_module_"):
            module = state.get(key)
            # Copy only what is off the CPU: pickling never changes the module, and a
            # deep copy's tensors hash differently each time (joblib.hash, aeon's checks).
            if isinstance(module, torch.nn.Module) and any(
                t.device.type != "cpu" for t in module.state_dict().values()
            ):
                state[key] = copy.deepcopy(module).to("cpu")
        if "device_" in state:
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "device_" in state:
            self.device_ = fallback_device(torch.device(state["device_"]))
            for key in ("module_", "averaged_module_"):
                if isinstance(self.__dict__.get(key), torch.nn.Module):
                    self.__dict__[key].to(self.device_)

    def save(self, path) -> None:
        """Save the fitted estimator to ``path`` in a torch file loadable with
        ``weights_only=True`` (no arbitrary code runs on :func:`load`).

        Every parameter, fitted attribute and private training state is written,
        numpy arrays included; an attribute that is not plain data is skipped with a
        warning.

        Parameters
        ----------
        path : str or path-like
            Destination file.
        """
        check_is_fitted(self, "module_")
        save(self, path)

    @classmethod
    def load(cls, path):
        """Load an estimator written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            File written by ``save``.

        Returns
        -------
        estimator : instance of ``cls``
            A fitted estimator of the saved class, on the saved device when it is
            available here, else on the CPU.
        """
        est = load(path)
        if not isinstance(est, cls):
            raise TypeError(f"{path} holds a {type(est).__name__}, not a {cls.__name__}.")
        return est


def data_fingerprint(X: np.ndarray) -> str:
    """Short hash of a validated training array, to refuse resuming on other data."""
    digest = hashlib.blake2b(np.ascontiguousarray(X).data, digest_size=16)
    return f"{X.shape}:{digest.hexdigest()}"
