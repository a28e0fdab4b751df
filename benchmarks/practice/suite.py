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

__all__ = ["SUITE", "Shape", "choose_datasets", "dataset_shape", "encoder_seconds",
           "estimate_seconds"]

SUITE = tuple(DEFAULT_DATASETS)
"""The 16 small UCR/UEA sets of ``benchmarks.run`` and ``benchmarks.seeds``."""

# Seconds on one core, from a default run on GunPoint and BasicMotions (seed 0): per
# (training step x series in the batch x time step) of each encoder's default budget
# (TS2Vec and IARS: 200 steps of 8 crops, 600 above 100,000 training values;
# VIbCReg: max(200, 50 epochs) steps of min(128, n_train) series); per value for
# everything proportional to the data (rockets, catch22, encoding, probes); per cell
# of 1-NN-DTW's n_train x n_test x length^2 cost matrices.
SECONDS_PER_SAMPLE_STEP = {"ts2vec": 1.05e-4, "iars": 0.75e-4, "vibcreg": 1.5e-5}
SECONDS_PER_VALUE = 5e-5
DTW_SECONDS_PER_CELL = 3e-9


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


def encoder_seconds(method: str, shape: Shape) -> float:
    """Rough CPU seconds of one default fit of an sslts encoder (unknown: as TS2Vec)."""
    length = min(shape.length, 3000)
    if method == "vibcreg":
        batch = min(128, shape.n_train)
        steps = max(200, 50 * (shape.n_train // batch))
        return SECONDS_PER_SAMPLE_STEP["vibcreg"] * steps * batch * length
    steps = 200 if shape.n_train * shape.length * shape.n_channels <= 100_000 else 600
    rate = SECONDS_PER_SAMPLE_STEP.get(method, SECONDS_PER_SAMPLE_STEP["ts2vec"])
    return rate * steps * 8 * length


def estimate_seconds(shape: Shape, n_seeds: int = 3, methods=("ts2vec", "vibcreg", "iars"),
                     n_fractions: int = 5) -> float:
    """Rough CPU seconds of the whole classification comparison on one dataset.

    Parameters
    ----------
    shape : Shape
    n_seeds : int, default=3
    methods : sequence of str, default=("ts2vec", "vibcreg", "iars")
        The sslts encoders (method names of ``benchmarks.seeds``).
    n_fractions : int, default=5
        Label fractions (the probes' share of the cost).

    Returns
    -------
    float
        Encoder fits (once per seed) + everything proportional to the data size
        (rockets, catch22, encoding, probes) + 1-NN-DTW (all labels once, plus the
        labelled subsets of every seed, about a third of that each).

    Examples
    --------
    >>> small = estimate_seconds(Shape(50, 150, 150, 1))
    >>> 0 < small < estimate_seconds(Shape(500, 1500, 150, 1))
    True
    """
    encoders = n_seeds * sum(encoder_seconds(m, shape) for m in methods)
    values = (shape.n_train + shape.n_test) * shape.length * shape.n_channels
    linear = n_seeds * SECONDS_PER_VALUE * values * (1 + n_fractions / 5)
    dtw = (DTW_SECONDS_PER_CELL * shape.n_train * shape.n_test * shape.length**2
           * shape.n_channels * (1 + n_seeds * 0.35))
    return encoders + linear + dtw


def choose_datasets(data_home, extra_hours: float, *, n_seeds: int = 3,
                    methods=("ts2vec", "vibcreg", "iars"), n_fractions: int = 5,
                    suite=SUITE) -> list[tuple[str, float]]:
    """The suite, then other local datasets cheapest first within ``extra_hours``.

    Returns
    -------
    list of (name, estimated seconds)
    """
    def cost(name):
        return estimate_seconds(dataset_shape(name, data_home), n_seeds, methods, n_fractions)

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
