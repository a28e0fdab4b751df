"""The state of one ``fit``'s training loop, and how a checkpoint captures it."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import torch

from .utils.torch_utils import RandomStreams

__all__ = ["Progress", "TrainingLoop"]


class Progress:
    """What ``verbose`` shows: nothing (0), a line per epoch (1), a tqdm bar (2).

    The bar counts iterations when the budget is in iterations, else epochs.
    """

    def __init__(self, name: str, verbose: int, n_epochs: int | None, n_iters: int | None):
        self.name, self.verbose, self.per_iter = name, verbose, n_iters is not None
        self.bar = None
        if verbose >= 2:
            from tqdm.auto import tqdm

            total, unit = (n_iters, "it") if self.per_iter else (n_epochs, "epoch")
            self.bar = tqdm(total=total, unit=unit, desc=name, file=sys.stderr)

    def step(self) -> None:
        if self.bar is not None and self.per_iter:
            self.bar.update(1)

    def epoch(self, loss: float, n_epochs: int, n_iter: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}")
            if not self.per_iter:
                self.bar.update(1)
        elif self.verbose:
            print(f"{self.name} epoch {n_epochs:4d}  iter {n_iter:6d}  loss {loss:.5f}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class TrainingLoop:
    """State of one ``fit``'s training loop; a checkpoint stores it with the model."""

    data: torch.Tensor
    batch_size: int
    steps: int
    optimizer: torch.optim.Optimizer
    scheduler: object
    rng: RandomStreams
    progress: Progress
    n_epochs: int | None
    n_iters: int | None
    seed: int
    fingerprint: str
    epochs_done: int = 0
    iters_done: int = 0
    best: float = math.inf
    stale: int = 0
    stop: bool = False

    def iters_remain(self) -> bool:
        return self.n_iters is None or self.iters_done < self.n_iters

    def more(self) -> bool:
        epochs_remain = self.n_epochs is None or self.epochs_done < self.n_epochs
        return epochs_remain and self.iters_remain()

    def state(self, device: torch.device) -> dict:
        """Progress and generator states, for a checkpoint taken at an epoch end."""
        return {
            "epochs_done": self.epochs_done,
            "iters_done": self.iters_done,
            "best": self.best,
            "stale": self.stale,
            "seed": self.seed,
            "fingerprint": self.fingerprint,
            "device_type": device.type,
            "rng_numpy": self.rng.numpy.bit_generator.state,
            "rng_torch": self.rng.torch.get_state(),
            "torch_cpu": torch.get_rng_state(),
            "torch_cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
        }

    def set_random_state(self, run: dict) -> None:
        """Continue a checkpointed run: its progress and random draws (inside seeded_torch)."""
        self.epochs_done, self.iters_done = run["epochs_done"], run["iters_done"]
        self.best, self.stale = run["best"], run["stale"]
        self.rng.numpy.bit_generator.state = run["rng_numpy"]
        torch.set_rng_state(run["torch_cpu"])
        if run["device_type"] == self.rng.device.type:  # other device: fresh device draws
            self.rng.torch.set_state(run["rng_torch"])
            if run["torch_cuda"] is not None:
                torch.cuda.set_rng_state(run["torch_cuda"], self.rng.device)
