"""Data-parallel training of any sslts estimator across processes (``torchrun``).

Launch one process per GPU (or several CPU processes) with ``torchrun`` and call
:func:`init_from_env` before ``fit``.  While a process group is initialised,
:class:`~sslts.base.BaseSSLTransformer` trains data-parallel:

- every rank trains on its own shard of the series (:func:`shard`), all shards of
  equal size so that every rank takes the same number of steps;
- rank 0's initial weights are broadcast to the others (:func:`broadcast_`);
- after each backward pass the gradients are averaged over the ranks in one
  all-reduce (:func:`average_gradients`), so every rank applies the same update and
  the weights stay identical, exactly as with ``DistributedDataParallel``;
- the epoch loss is averaged over the ranks (:func:`all_reduce_mean`), so early
  stopping and divergence checks agree everywhere.

The gradients are averaged explicitly rather than by wrapping the network in
``torch.nn.parallel.DistributedDataParallel``: DDP only synchronises parameters
used through its own ``forward``, while several methods call sub-modules (an
encoder and heads) directly in their training step.  The arithmetic is DDP's
(mean of the per-rank gradients over NCCL or gloo); the overlap of communication
with the backward pass is given up.

Save the model from one process only::

    rank, world = sslts.distributed.init_from_env()
    enc = sslts.TS2VecTransformer(random_state=0).fit(X)   # same X on every rank
    if sslts.distributed.is_main_process():
        enc.save("ts2vec.pt")

and run ``torchrun --nproc-per-node 4 train.py``.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist

__all__ = [
    "init_from_env",
    "is_distributed",
    "rank_and_world",
    "is_main_process",
    "shard",
    "broadcast_",
    "average_gradients",
    "all_reduce_mean",
]


def is_distributed() -> bool:
    """True inside an initialised process group with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` outside a process group."""
    if not is_distributed():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def is_main_process() -> bool:
    """True on rank 0 (and in a plain single process): the one that saves models."""
    return rank_and_world()[0] == 0


def init_from_env(backend: str | None = None) -> tuple[int, int]:
    """Join the process group described by ``torchrun``'s environment variables.

    Parameters
    ----------
    backend : {"nccl", "gloo"}, default=None
        ``"nccl"`` when CUDA is available, else ``"gloo"``.  With NCCL the process
        is bound to GPU ``LOCAL_RANK``, so ``device="cuda"`` means that GPU.

    Returns
    -------
    rank, world_size : int
    """
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def shard(X: np.ndarray, rank: int | None = None, world_size: int | None = None) -> np.ndarray:
    """This rank's share of the training series: every ``world_size``-th one.

    All shards have ``len(X) // world_size`` series (the last ``len(X) % world_size``
    are left out), so that every rank runs the same number of steps.

    Parameters
    ----------
    X : ndarray of shape (n_series, ...)
    rank, world_size : int, default=None
        Taken from the process group when None.

    Returns
    -------
    ndarray of shape (n_series // world_size, ...)
    """
    if rank is None or world_size is None:
        rank, world_size = rank_and_world()
    if world_size == 1:
        return X
    if len(X) < world_size:
        raise ValueError(
            f"{len(X)} training series cannot be shared by {world_size} processes; "
            "use fewer processes or more data."
        )
    return X[rank : (len(X) // world_size) * world_size : world_size]


@torch.no_grad()
def broadcast_(tensors: list[torch.Tensor], src: int = 0) -> None:
    """Overwrite ``tensors`` on every rank with rank ``src``'s values (in place)."""
    if not is_distributed():
        return
    for t in tensors:
        dist.broadcast(t, src=src)


@torch.no_grad()
def average_gradients(parameters) -> None:
    """Replace each gradient by its mean over the ranks, in one all-reduce.

    A parameter without a gradient on this rank contributes zeros, so that every
    rank sends a buffer of the same layout.

    Parameters
    ----------
    parameters : iterable of torch.nn.Parameter
        The trainable parameters, in the same order on every rank.
    """
    if not is_distributed():
        return
    params = [p for p in parameters if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    grads = [p.grad for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    parts = flat.split([g.numel() for g in grads])
    torch._foreach_copy_(grads, [part.view_as(g) for part, g in zip(parts, grads)])


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over the ranks (the tensor itself outside a process group)."""
    if not is_distributed():
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value / dist.get_world_size()
