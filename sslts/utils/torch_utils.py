"""Device resolution and random-number plumbing (no global state is touched)."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch

__all__ = ["resolve_device", "RandomStreams", "seeded_torch", "to_cpu"]


def resolve_device(device) -> torch.device:
    """Turn the ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device
        ``"auto"`` picks CUDA when available, else the CPU.

    Returns
    -------
    torch.device
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu' or 'cuda'."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "use device='auto' or 'cpu'."
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} was requested but MPS is not available.")
    return dev


def fallback_device(device: torch.device) -> torch.device:
    """Return ``device`` if usable here, else the CPU (with a warning)."""
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            f"The model was fitted on {device} but CUDA is not available; it will run on "
            "the CPU.",
            RuntimeWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    return device


@contextlib.contextmanager
def seeded_torch(seed: int, device: torch.device):
    """Seed torch's default generators inside a forked RNG state.

    Layer initialisation and dropout draw from torch's default generators, which take
    no ``generator`` argument.  Forking makes those draws reproducible from ``seed``
    while leaving the caller's global RNG exactly as it was.
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type="cuda" if devices else "cpu"):
        torch.manual_seed(seed)
        yield


class RandomStreams:
    """Explicit random generators for one training run.

    Parameters
    ----------
    seed : int
        Root seed.
    device : torch.device
        Device on which tensor draws are made.

    Attributes
    ----------
    numpy : numpy.random.Generator
        Host-side scalars (crop sizes, shuffling); drawing them never syncs a GPU.
    torch : torch.Generator
        Device-side tensors (masks, noise).
    """

    def __init__(self, seed: int, device: torch.device):
        self.numpy = np.random.default_rng(seed)
        self.torch = torch.Generator(device=device)
        self.torch.manual_seed(int(self.numpy.integers(2**62)))
        self.device = device


def to_cpu(obj):
    """Recursively move every tensor in a (nested) dict/list to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu")
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj
