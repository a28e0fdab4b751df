"""Draw one picture per augmentation of ``sslts.augment`` on a real GunPoint series.

Usage::

    python docs/make_augmentation_figures.py   # writes docs/images/augment_*.png
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from sslts import augment as A  # noqa: E402
from sslts import load_dataset  # noqa: E402

# name -> (function, keyword arguments shown in the title)
FIGURES = {
    "jitter": (A.jitter, {"sigma": 0.2}),
    "gaussian_noise": (A.gaussian_noise, {"std": 0.1}),
    "scaling": (A.scaling, {"sigma": 0.4}),
    "amplitude_resize": (A.amplitude_resize, {"low": 0.5, "high": 1.5}),
    "magnitude_warp": (A.magnitude_warp, {"sigma": 0.3, "n_knots": 4}),
    "time_warp": (A.time_warp, {"sigma": 0.2, "n_knots": 8}),
    "window_warp": (A.window_warp, {"window_ratio": 0.3, "scales": (0.5, 2.0)}),
    "window_slice": (A.window_slice, {"ratio": 0.8}),
    "cutout": (A.cutout, {"ratio": 0.1}),
    "timestamp_mask": (A.timestamp_mask, {"ratio": 0.2}),
    "slice_and_shuffle": (A.slice_and_shuffle, {"n_segments": 4}),
    "random_crop": (A.random_crop, {"length": 100}),
}


def main() -> None:
    X, _, _, _ = load_dataset("GunPoint")
    x = torch.as_tensor(X[:1], dtype=torch.float32)  # (1, 150, 1)
    out_dir = Path(__file__).parent / "images"
    out_dir.mkdir(exist_ok=True)
    for name, (fn, kwargs) in FIGURES.items():
        views = [fn(x, generator=torch.Generator().manual_seed(s), **kwargs) for s in (1, 2)]
        fig, ax = plt.subplots(figsize=(5, 1.9), dpi=90)
        ax.plot(x[0, :, 0], color="0.6", lw=2.5, label="original")
        for s, v in enumerate(views):
            ax.plot(v[0, :, 0], lw=1.1, label=f"seed {s + 1}")
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        ax.set_title(f"{name}({args})", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper left", frameon=False)
        fig.tight_layout()
        fig.savefig(out_dir / f"augment_{name}.png")
        plt.close(fig)


if __name__ == "__main__":
    main()
