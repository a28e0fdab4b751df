"""Data-parallel training of any sslts estimator across processes (``torchrun``).

Launch one process per GPU (or several CPU processes) with ``torchrun`` and call
:func:`init_from_env` before ``fit``.  While a process group is initialised,
:class:`~sslts.base.BaseSSLTransformer` trains data-parallel:

- every rank trains on its own shard of the series (:func:`shard`), all shards of
  equal size so that every rank takes the same number of steps;
- rank 0's initial weights are broadcast to the others (:func:`broadcast_`);
- the method's network and its training step run as one module wrapped in
  :class:`torch.nn.parallel.DistributedDataParallel` (:func:`data_parallel`): the
  gradients are averaged over the ranks during the backward pass (overlapping the
  communication with it), and rank 0's buffers (batch-norm running statistics)
  are broadcast before every forward and once more at every epoch end, so the ranks
  end every epoch with bit-identical parameters and buffers;
- with ``sync_batchnorm=True`` (CUDA/NCCL only) batch-norm layers compute their
  statistics over the whole global batch (:class:`torch.nn.SyncBatchNorm`);
- the epoch loss is averaged over the ranks (:func:`all_reduce_mean`), so early
  stopping and divergence checks agree everywhere.

A rank's batch is its own: the contrastive negatives of TS2Vec, IARS and
InfoNCE, and the batch statistics of Barlow Twins and VIbCReg, come from the
``batch_size`` series of that rank, as in the official single-GPU code run on each
GPU.  ``transform`` under a process group runs on each rank independently and
encodes whatever that rank is given (no communication).

Save the model from one process only::

    rank, world = sslts.distributed.init_from_env()
    enc = sslts.TS2VecTransformer(random_state=0).fit(X)   # same X on every rank
    if sslts.distributed.is_main_process():
        enc.save("ts2vec.pt")

and run ``torchrun --nproc-per-node 4 train.py``.
"""

from __future__ import annotations

import os
import warnings

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
    "data_parallel",
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


def data_parallel(
    module: torch.nn.Module, device: torch.device, *, sync_batchnorm: bool = False
) -> torch.nn.Module:
    """``module`` wrapped in DistributedDataParallel inside a process group, else itself.

    Parameters
    ----------
    module : torch.nn.Module
        A module whose ``forward`` returns the training loss (its parameters already
        identical on every rank).
    device : torch.device
        Where ``module`` lives.
    sync_batchnorm : bool, default=False
        Convert its batch-norm layers to :class:`torch.nn.SyncBatchNorm` (in place,
        sharing the parameters and buffers).  Only CUDA tensors can be synchronised
        that way; on the CPU a warning says so and the layers are left alone.

    Returns
    -------
    torch.nn.Module
    """
    if not is_distributed():
        return module
    if sync_batchnorm:
        if device.type == "cuda":
            module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
        else:
            warnings.warn(
                "sync_batchnorm=True needs CUDA tensors (NCCL); on the CPU each rank's "
                "batch norm uses its own batch, and the running statistics are "
                "broadcast from rank 0.",
                RuntimeWarning,
                stacklevel=3,
            )
    device_ids = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(
        module, device_ids=device_ids, broadcast_buffers=True
    )


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over the ranks (the tensor itself outside a process group)."""
    if not is_distributed():
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value / dist.get_world_size()
