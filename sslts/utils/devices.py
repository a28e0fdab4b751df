"""Everything sslts does that depends on the device: one module, so that supporting a
new kind of accelerator means reading one file.

Resolving the ``device`` parameter, falling back to the CPU when a saved model's device
is missing here, moving the training data, freeing cached memory, seeding network
initialisation.  No global state is changed behind the caller's back.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings

import numpy as np
import torch

__all__ = [
    "available_memory",
    "check_network_fits",
    "device_data",
    "empty_cache",
    "fallback_device",
    "is_available",
    "resolve_device",
    "seeded_torch",
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


def available_memory(device: torch.device) -> int | None:
    """Bytes free for a new allocation on ``device``, or None where that is unknown.

    Parameters
    ----------
    device : torch.device

    Returns
    -------
    int or None
        The free memory of a CUDA device; the available physical memory of the host
        for the CPU (on systems that report it).

    Examples
    --------
    >>> free = available_memory(torch.device("cpu"))
    >>> free is None or free > 0
    True
    """
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu":
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # not reported on this system
            return None
    return None


def check_network_fits(estimator, device: torch.device) -> None:
    """Refuse, before anything is allocated, a network whose training cannot fit in memory.

    The estimator's network is built on torch's ``meta`` device (shapes only, no
    memory) and its parameters counted; training holds each about five times
    (weights, gradients, two AdamW moments, the copy kept for faults, and the running
    average for methods that average).  Networks whose size grows faster than
    linearly with the channel count (NC-VQVAE's decoder, whose last layer is dense
    over the channels) are caught here instead of failing in a many-gigabyte
    allocation.

    Parameters
    ----------
    estimator : BaseSSLTransformer
        With ``n_channels_`` and ``n_features_in_`` set.
    device : torch.device

    Raises
    ------
    MemoryError
        With the estimate, the largest parameters and what to change.

    Examples
    --------
    >>> from sslts import TS2VecTransformer
    >>> est = TS2VecTransformer()
    >>> est.n_channels_, est.n_features_in_ = 3, 100
    >>> check_network_fits(est, torch.device("cpu"))  # about 640,000 parameters: fits
    """
    try:
        with torch.device("meta"):
            network = estimator.build_module(estimator.n_channels_)
    except Exception:  # a network that cannot be built on "meta" is not checked here
        return
    sizes = {name: p.numel() for name, p in network.named_parameters()}
    copies = 5 + int(estimator.average_weights)
    need = sum(sizes.values()) * 4 * copies
    free = available_memory(device)
    if free is None or need <= free:
        return
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    raise MemoryError(
        f"{type(estimator).__name__} on {estimator.n_channels_} channels would train a "
        f"network of {sum(sizes.values()):,} parameters, about {need / 2**30:.1f} GiB with "
        f"gradients and optimiser state, but {device} has {free / 2**30:.1f} GiB available. "
        "Largest parameters: "
        + ", ".join(f"{name} ({n:,})" for name, n in largest)
        + ". Reduce the number of channels (e.g. with a PCA over them), or the widths."
    )


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


# Held while torch's global generator is forked and seeded, so that two threads never
# interleave their fork / restore (which would leave one's seeded state behind).
_GLOBAL_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def seeded_torch(seed: int, device: torch.device):
    """Seed torch's default generators inside a forked RNG state, one thread at a time.

    Layer initialisation draws from torch's default generators (module constructors
    take no ``generator``).  Forking makes those draws reproducible from ``seed``
    while leaving the caller's global RNG exactly as it was; a process-wide lock keeps
    concurrent fits (threads) from interleaving.  Training itself draws only from the
    fit's own generators (dropout through
    :func:`~sslts.encoders.dropout.dropout_generator`), so this is held only while a
    network is built.

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
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(
        devices=devices, device_type="cuda" if devices else "cpu"
    ):
        torch.manual_seed(seed)
        yield


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
