"""Everything sslts does that depends on the device: one module, so that supporting a
new kind of accelerator means reading one file.

Resolving the ``device`` parameter, falling back to the CPU when a saved model's device
is missing here, moving the training data, freeing cached memory, forking and saving
the device's random state.  No global state is changed behind the caller's back.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch

__all__ = [
    "device_data",
    "empty_cache",
    "fallback_device",
    "get_device_rng_state",
    "is_available",
    "resolve_device",
    "seeded_torch",
    "set_device_rng_state",
    "to_cpu",
]

# Training data up to this size is moved to the accelerator once for the whole fit.
_DEVICE_RESIDENT_BYTES = 2 * 1024**3


def is_available(device: torch.device) -> bool:
    """Whether ``device``'s kind of accelerator exists on this machine (the CPU always).

    Parameters
    ----------
    device : torch.device

    Returns
    -------
    bool

    Examples
    --------
    >>> is_available(torch.device("cpu"))
    True
    """
    if device.type == "cpu":
        return True
    if device.type == "mps":
        return torch.backends.mps.is_available()
    backend = getattr(torch, device.type, None)  # torch.cuda, torch.xpu, ...
    return bool(backend is not None and hasattr(backend, "is_available")
                and backend.is_available())


def resolve_device(device) -> torch.device:
    """Turn the ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device
        ``"auto"`` picks CUDA when available, else the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        Not a torch device, or one this machine does not have.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu' or 'cuda'."
        ) from exc
    if not is_available(dev):
        raise ValueError(
            f"device={device!r} was requested but {dev.type.upper()} is not available on "
            "this machine; use device='auto' or 'cpu'."
        )
    return dev


def fallback_device(device: torch.device) -> torch.device:
    """``device`` if this machine has it, else the CPU (with a warning).

    A model fitted on a GPU (CUDA or MPS) is usable where there is none.

    Parameters
    ----------
    device : torch.device

    Returns
    -------
    torch.device

    Examples
    --------
    >>> fallback_device(torch.device("cpu"))
    device(type='cpu')
    """
    if not is_available(device):
        warnings.warn(
            f"The model was fitted on {device} but {device.type.upper()} is not available "
            "here; it will run on the CPU.",
            RuntimeWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    return device


def device_data(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """The training array as a tensor that batches are drawn from during ``fit``.

    On the CPU the array is shared, not copied.  On an accelerator it is moved there
    once when it is small enough (2 GiB), else kept in pinned host memory so that each
    batch's copy is asynchronous.

    Parameters
    ----------
    X : ndarray
    device : torch.device

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> X = np.zeros((4, 10, 1), dtype=np.float32)
    >>> device_data(X, torch.device("cpu")).data_ptr() == X.ctypes.data  # shared
    True
    """
    data = torch.from_numpy(X)
    if device.type == "cpu":
        return data
    if X.nbytes <= _DEVICE_RESIDENT_BYTES:
        return data.to(device)
    return data.pin_memory()


def empty_cache(device: torch.device) -> None:
    """Return the cached blocks of ``device``'s allocator (after running out of memory).

    Parameters
    ----------
    device : torch.device
        Nothing happens for the CPU.

    Examples
    --------
    >>> empty_cache(torch.device("cpu"))
    """
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


@contextlib.contextmanager
def seeded_torch(seed: int, device: torch.device):
    """Seed torch's default generators inside a forked RNG state.

    Layer initialisation and dropout draw from torch's default generators, which take
    no ``generator`` argument.  Forking makes those draws reproducible from ``seed``
    while leaving the caller's global RNG exactly as it was.

    Parameters
    ----------
    seed : int
    device : torch.device
        Its generator is forked and seeded too (CUDA only; the CPU's always is).

    Examples
    --------
    >>> before = torch.random.get_rng_state()
    >>> with seeded_torch(0, torch.device("cpu")):
    ...     a = torch.rand(1)
    >>> with seeded_torch(0, torch.device("cpu")):
    ...     b = torch.rand(1)
    >>> bool(a == b), bool((torch.random.get_rng_state() == before).all())
    (True, True)
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type="cuda" if devices else "cpu"):
        torch.manual_seed(seed)
        yield


def get_device_rng_state(device: torch.device):
    """The default generator state of an accelerator (None for the CPU), for checkpoints.

    Parameters
    ----------
    device : torch.device

    Returns
    -------
    torch.Tensor or None

    Examples
    --------
    >>> get_device_rng_state(torch.device("cpu")) is None
    True
    """
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def set_device_rng_state(state, device: torch.device) -> None:
    """Restore :func:`get_device_rng_state` (nothing for None).

    Parameters
    ----------
    state : torch.Tensor or None
    device : torch.device

    Examples
    --------
    >>> set_device_rng_state(None, torch.device("cpu"))
    """
    if state is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state, device)


def to_cpu(obj):
    """Recursively move every tensor in a (nested) dict/list to the CPU.

    Parameters
    ----------
    obj : Tensor, dict, list, tuple or anything else (returned as it is)

    Examples
    --------
    >>> to_cpu({"w": [torch.ones(1)]})
    {'w': [tensor([1.])]}
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu")
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj
