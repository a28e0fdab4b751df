"""Device resolution and random-number plumbing (no global state is touched)."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch

__all__ = ["resolve_device", "RandomStreams", "running_average_", "seeded_torch", "to_cpu"]


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


@torch.no_grad()
def running_average_(averaged: torch.nn.Module, current: torch.nn.Module, n_averaged: int) -> None:
    """Fold ``current`` into ``averaged``, the mean of ``n_averaged`` networks, in place.

    The arithmetic of ``torch.optim.swa_utils.AveragedModel(use_buffers=True)``:
    ``avg += (cur - avg) / n_averaged`` for every parameter and floating buffer, in
    one fused lerp; integer buffers (batch-norm counters) are copied.  It works on a
    plain copy of the network rather than an ``AveragedModel`` wrapper so that the
    averaged network keeps its own class (methods read its sub-modules) and its
    state-dict keys (saved files stay loadable into the plain network).

    Parameters
    ----------
    averaged, current : torch.nn.Module
        Networks of the same architecture.
    n_averaged : int
        How many networks ``averaged`` holds the mean of once ``current`` is in.

    Examples
    --------
    >>> avg, cur = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    >>> with torch.no_grad():
    ...     _ = avg.weight.fill_(1.0), cur.weight.fill_(4.0)
    >>> running_average_(avg, cur, 3)  # (1 + 1 + 4) / 3 if avg held two networks of 1
    >>> float(avg.weight)
    2.0
    """
    pairs = zip(
        [*averaged.parameters(), *averaged.buffers()], [*current.parameters(), *current.buffers()]
    )
    floats, ints = [], []
    for avg, cur in pairs:
        (floats if avg.is_floating_point() else ints).append((avg, cur))
    if floats:
        avg_list, cur_list = (list(t) for t in zip(*floats))
        torch._foreach_lerp_(avg_list, cur_list, 1.0 / n_averaged)
    for avg, cur in ints:
        avg.copy_(cur)
