"""Random streams and weight averaging for the training loop (no global state is touched)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["RandomStreams", "running_average_"]


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
