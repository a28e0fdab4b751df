"""Which classification datasets a run covers: the 16-dataset suite plus what fits a budget.

The extra datasets are the other UCR/UEA sets of the data folder, added cheapest first
while the estimated CPU time of the whole comparison on them stays within the budget.
The estimate (:func:`estimate_seconds`) is a coarse model of the arms' costs with
constants measured on one core; ``python -m benchmarks.vs_practice --task
classification --plan`` prints it per dataset without running anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from sslts import list_datasets, load_dataset

from ..run import DEFAULT_DATASETS

__all__ = ["SUITE", "Shape", "choose_datasets", "dataset_shape", "estimate_seconds"]

SUITE = tuple(DEFAULT_DATASETS)
"""The 16 small UCR/UEA sets of ``benchmarks.run`` and ``benchmarks.seeds``."""

# Seconds on one core, measured with every encoder at its defaults: an encoder fit
# per time step of the (sectioned) series, whatever the dataset size (the default
# budgets are fixed step counts); encoding, rockets and catch22 per value; 1-NN-DTW
# per cell of the n_train x n_test x length^2 cost matrices.
ENCODER_SECONDS_PER_STEP = 0.12
SECONDS_PER_VALUE = 2e-4
DTW_SECONDS_PER_CELL = 1.5e-9


@dataclass(frozen=True)
class Shape:
    """Size of one dataset."""

    n_train: int
    n_test: int
    length: int
    n_channels: int


def dataset_shape(name: str, data_home) -> Shape:
    """Series counts, padded length and channels of a dataset (loads it)."""
    X_train, _, X_test, _ = load_dataset(name, data_home=data_home)
    return Shape(len(X_train), len(X_test), X_train.shape[1], X_train.shape[2])


def estimate_seconds(shape: Shape, n_seeds: int = 3, n_encoders: int = 3,
                     n_fractions: int = 5) -> float:
    """Rough CPU seconds of the whole classification comparison on one dataset.

    Parameters
    ----------
    shape : Shape
    n_seeds, n_encoders, n_fractions : int
        The run's seeds, sslts encoders and label fractions.

    Returns
    -------
    float
        Encoder fits (once per seed) + everything proportional to the data size
        (encoding, rockets, catch22, probes) + 1-NN-DTW (all labels once, plus the
        labelled subsets, about a third of that again).

    Examples
    --------
    >>> small = estimate_seconds(Shape(50, 150, 150, 1))
    >>> 0 < small < estimate_seconds(Shape(500, 1500, 150, 1))
    True
    """
    steps = min(shape.length, 3000)
    encoders = n_seeds * n_encoders * ENCODER_SECONDS_PER_STEP * steps
    values = (shape.n_train + shape.n_test) * shape.length * shape.n_channels
    linear = n_seeds * (n_encoders + 3) * SECONDS_PER_VALUE * values * (1 + n_fractions / 5)
    dtw = (DTW_SECONDS_PER_CELL * shape.n_train * shape.n_test * shape.length**2
           * shape.n_channels * (1 + n_seeds * 0.35))
    return encoders + linear + dtw


def choose_datasets(data_home, extra_hours: float, *, n_seeds: int = 3, n_encoders: int = 3,
                    n_fractions: int = 5, suite=SUITE) -> list[tuple[str, float]]:
    """The suite, then other local datasets cheapest first within ``extra_hours``.

    Returns
    -------
    list of (name, estimated seconds)
    """
    def cost(name):
        return estimate_seconds(dataset_shape(name, data_home), n_seeds, n_encoders,
                                n_fractions)

    chosen = [(name, cost(name)) for name in suite]
    if extra_hours <= 0:
        return chosen
    extras = sorted((cost(n), n) for n in list_datasets(data_home) if n not in suite)
    budget = extra_hours * 3600
    for seconds, name in extras:
        if seconds > budget:
            break
        chosen.append((name, seconds))
        budget -= seconds
    return chosen
