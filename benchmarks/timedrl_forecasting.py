"""ETTh1 multivariate forecasting with a ridge probe on TimeDRL embeddings.

Protocol
--------
- Data: ``ETTh1.csv`` (7 channels), 12/4/4-month split: rows 0-8639 train,
  8640-11519 validation, 11520-14399 test; a StandardScaler fitted on the training
  rows; every metric is on that standardised scale, over all channels.
- Windows: an input window of ``--lookback`` steps (default 336) predicts the next
  ``H`` steps, ``H`` in {24, 48, 168, 336, 720}.  As in the Informer/TimeDRL loaders,
  validation and test windows may start up to ``lookback`` steps before their
  split; their targets lie inside it.  Every test window is scored (stride 1).
- Encoder: ``TimeDRLTransformer`` (channel-independent, 64-d, 4 heads, 2 layers,
  patch 16 / stride 8, 10 epochs -- the official forecasting pretraining length --
  with the official "type1" schedule) pretrained on the training windows taken
  every ``--pretrain-stride`` steps, once per seed (``--seeds``).
- Probe (one per horizon, shared by the channels as TimeDRL's channel-independent
  head): ridge regression from a channel's embedding of the window to that
  channel's next ``H`` values *divided by the window's RevIN statistics*
  (``(y - mean) / std`` of the input window); predictions are de-normalised with
  the same statistics.  The embeddings are invariant to each window's mean and
  scale, so without this step a probe could not forecast the level.  Features:

  * ``last``: the timestamp embedding of the window's last step (its patch token,
    64 values), the TS2Vec probe;
  * ``patches``: all patch tokens flattened (``n_patches * 64``), the input of
    TimeDRL's official linear head.

  The ridge penalty is picked per horizon from a grid by validation MSE; the
  probe is fitted on training windows taken every ``--probe-stride`` steps.
- Baseline ``raw window``: the same ridge probe on the RevIN-normalised input
  window itself (a linear "NLinear"-like model), to show what the embeddings add.
- Reference: TimeDRL's own result file (seq_len 512, tuned config, linear head
  trained end-to-end on the frozen encoder, *test MSE of the best epoch*).

The table gives the mean +- standard deviation over the seeds.

Usage::

    python -m benchmarks.timedrl_forecasting --seeds 3
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sslts import TimeDRLTransformer

from .timedrl_classification import run_metadata

HORIZONS = (24, 48, 168, 336, 720)
BORDERS = {"train": (0, 8640), "val": (8640, 11520), "test": (11520, 14400)}
OFFICIAL_MSE = {24: 0.327, 48: 0.353, 168: 0.411, 336: 0.437, 720: 0.446}
OFFICIAL_MAE = {24: 0.378, 48: 0.392, 168: 0.427, 336: 0.446, 720: 0.461}
ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 1e6)


def load_etth1(path: Path) -> np.ndarray:
    """ETTh1's first 14,400 rows, standardised with training statistics, (14400, 7)."""
    values = pd.read_csv(path).drop(columns="date").to_numpy(np.float64)[:14400]
    train = values[: BORDERS["train"][1]]
    return (values - train.mean(0)) / train.std(0)


def window_starts(split: str, lookback: int, horizon: int, stride: int) -> np.ndarray:
    """Starts of the input windows whose targets lie inside ``split``."""
    lo, hi = BORDERS[split]
    first = max(0, lo - lookback)
    return np.arange(first, hi - lookback - horizon + 1, stride)


def split_windows(data, split, lookback, stride):
    """Input windows, (n, lookback, 7), and their starts (max horizon kept out)."""
    starts = window_starts(split, lookback, min(HORIZONS), stride)
    return np.stack([data[s : s + lookback] for s in starts]), starts


def probe_features(enc: TimeDRLTransformer, windows: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel features, each of shape (n * 7, d), rows ordered window-major."""
    patches = enc.encode(windows, level="patch")  # (n, N, 7 * D)
    n, N, _ = patches.shape
    per_channel = patches.reshape(n, N, windows.shape[2], -1).transpose(0, 2, 1, 3)
    mean, std = revin_stats(windows)
    raw = ((windows - mean) / std).transpose(0, 2, 1).reshape(n * windows.shape[2], -1)
    return {
        "last": per_channel[:, :, -1].reshape(n * windows.shape[2], -1),
        "patches": per_channel.reshape(n * windows.shape[2], -1),
        "raw window": raw.astype(np.float32),
    }


def revin_stats(windows: np.ndarray):
    """Mean and biased std (+1e-5 variance) of each window and channel, (n, 1, 7)."""
    mean = windows.mean(1, keepdims=True)
    return mean, np.sqrt(windows.var(1, keepdims=True) + 1e-5)


def targets(data, starts, lookback, horizon, windows):
    """Future values, normalised by the window's statistics, (n * 7, horizon)."""
    future = np.stack([data[s + lookback : s + lookback + horizon] for s in starts])
    mean, std = revin_stats(windows)
    return ((future - mean) / std).transpose(0, 2, 1).reshape(-1, horizon), mean, std


class EigenRidge:
    """Ridge regression for many penalties from one eigendecomposition.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Training features (centred internally).
    """

    def __init__(self, X: np.ndarray):
        X = X.astype(np.float64)
        self.x_mean = X.mean(0)
        Xc = X - self.x_mean
        self.evals, self.evecs = np.linalg.eigh(Xc.T @ Xc)
        self.Xc = Xc

    def coefs(self, Y: np.ndarray, alpha: float):
        """Weights (d, h) and intercept (h,) for targets ``Y`` (n, h)."""
        y_mean = Y.mean(0)
        proj = self.evecs.T @ (self.Xc.T @ (Y - y_mean))
        W = self.evecs @ (proj / (self.evals + alpha)[:, None])
        return W, y_mean - self.x_mean @ W


def forecast_errors(pred_norm, mean, std, future):
    """MSE and MAE on the standardised scale after de-normalising ``pred_norm``."""
    n, C = mean.shape[0], mean.shape[2]
    pred = pred_norm.reshape(n, C, -1).transpose(0, 2, 1) * std + mean
    err = pred - future
    return float(np.mean(err**2)), float(np.mean(np.abs(err)))


def horizon_split(data, starts, windows, split, lookback, horizon):
    """Windows of ``split`` whose ``horizon`` targets fit in it: (row mask, targets, stats)."""
    keep = starts[split] <= BORDERS[split][1] - lookback - horizon
    s, w = starts[split][keep], windows[split][keep]
    Y, mean, std = targets(data, s, lookback, horizon, w)
    future = np.stack([data[i + lookback : i + lookback + horizon] for i in s])
    return np.repeat(keep, w.shape[2]), Y, mean, std, future


def evaluate_horizon(ridges, n_fit, feats, data, starts, windows, horizon, lookback):
    """Fit each probe on train, pick alpha on val, score test at one horizon.

    The training rows are the windows valid for the longest horizon, the same for
    every horizon (the first ``n_fit``), so each feature kind needs one
    eigendecomposition.  Returns one result row per feature kind.
    """
    sets = {split: horizon_split(data, starts, windows, split, lookback, horizon)
            for split in ("val", "test")}
    Y, *_ = targets(data, starts["train"][:n_fit], lookback, horizon, windows["train"][:n_fit])
    rows = []
    for kind, ridge in ridges.items():

        def score(split, W, b, kind=kind):
            rows_kept, _, mean, std, future = sets[split]
            return forecast_errors(feats[split][kind][rows_kept] @ W + b, mean, std, future)

        best_alpha = min((score("val", *ridge.coefs(Y, a))[0], a) for a in ALPHAS)[1]
        mse, mae = score("test", *ridge.coefs(Y, best_alpha))
        rows.append({"horizon": horizon, "features": kind, "alpha": best_alpha, "mse": mse,
                     "mae": mae, "n_test_windows": len(sets["test"][2])})
    return rows


def write_markdown(rows, meta, path: Path) -> None:
    df = pd.DataFrame(rows)
    kinds = list(dict.fromkeys(df["features"]))
    seeds = sorted(df["seed"].unique())
    fits = ", ".join(f"{m['fit_s']:.0f}" for m in meta)
    m = meta[0]
    lines = [
        "# TimeDRL on ETTh1 (multivariate): ridge probe, MSE / MAE",
        "",
        f"{run_metadata()}, seeds {[int(s) for s in seeds]} (mean +- std over seeds). Generated by "
        "`benchmarks/timedrl_forecasting.py`.",
        "",
        f"Encoder: {m['encoder']}; pretraining on {m['n_pretrain']} training windows of "
        f"{m['lookback']} steps (every {m['pretrain_stride']}th), {m['n_iters']} "
        f"iterations, fit {fits} s per seed; encoding all windows {m['encode_s']:.0f} s. "
        f"Ridge fitted on training windows every {m['probe_stride']} steps, alpha chosen "
        "on validation, all test windows scored. Official: TimeDRL's stored result "
        "(lookback 512, tuned, linear head trained on the frozen encoder, the epoch with "
        "the best *test* MSE selected).",
        "",
        "| H | " + " | ".join(kinds) + " | TimeDRL official |",
        "|---|" + "---:|" * (len(kinds) + 1),
    ]

    def cell(part):
        return (f"{part['mse'].mean():.3f} +- {part['mse'].std(ddof=1) if len(part) > 1 else 0:.3f}"
                f" / {part['mae'].mean():.3f}")

    done = list(dict.fromkeys(df["horizon"]))
    for h in done:
        cells = [cell(df[(df["horizon"] == h) & (df["features"] == k)]) for k in kinds]
        lines.append(f"| {h} | " + " | ".join(cells) + f" | {OFFICIAL_MSE[h]:.3f} / "
                     f"{OFFICIAL_MAE[h]:.3f} |")
    # The average over horizons, per seed, then its mean and std over seeds.
    avg = df.groupby(["features", "seed"])[["mse", "mae"]].mean().reset_index()
    official = (f"{np.mean([OFFICIAL_MSE[h] for h in done]):.3f} / "
                f"{np.mean([OFFICIAL_MAE[h] for h in done]):.3f}")
    lines.append("| **avg** | " + " | ".join(f"**{cell(avg[avg['features'] == k])}**"
                                             for k in kinds) + f" | **{official}** |")
    path.write_text("\n".join(lines + [""]))


def run_seed(data, args, seed: int) -> tuple[list[dict], dict]:
    """Pretrain with ``seed``, probe every horizon: (result rows, run metadata)."""
    L = args.lookback
    enc = TimeDRLTransformer(output_dims=64, n_heads=4, n_layers=2, patch_len=16, stride=8,
                             n_epochs=args.n_epochs, random_state=seed, device="cpu",
                             verbose=1)
    pretrain, _ = split_windows(data, "train", L, args.pretrain_stride)
    enc.fit(pretrain)
    windows, starts = {}, {}
    for split, stride in (("train", args.probe_stride), ("val", args.probe_stride), ("test", 1)):
        windows[split], starts[split] = split_windows(data, split, L, stride)
    t0 = time.perf_counter()
    feats = {split: probe_features(enc, w) for split, w in windows.items()}
    encode_s = time.perf_counter() - t0
    n_fit = int(np.sum(starts["train"] <= BORDERS["train"][1] - L - max(HORIZONS)))
    ridges = {kind: EigenRidge(f[: n_fit * 7]) for kind, f in feats["train"].items()}
    meta = {"lookback": L, "pretrain_stride": args.pretrain_stride,
            "probe_stride": args.probe_stride, "n_pretrain": len(pretrain),
            "fit_s": enc.fit_time_, "n_iters": enc.n_iter_, "encode_s": encode_s,
            "encoder": "channel-independent, 64-d, 4 heads, 2 layers, patch 16 / stride 8, "
                       f"{args.n_epochs} epochs ({enc.lr_schedule} schedule), batch 32"}
    rows = []
    for h in HORIZONS:
        for r in evaluate_horizon(ridges, n_fit, feats, data, starts, windows, h, L):
            rows.append({"seed": seed, **r, "fit_s": enc.fit_time_})
            print(f"seed {seed} H={h:4d} {r['features']:10s} mse {r['mse']:.3f} "
                  f"mae {r['mae']:.3f} alpha {r['alpha']:g}", flush=True)
    return rows, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).parents[2]
                                              / "shared/data/forecast/ETTh1.csv"))
    parser.add_argument("--lookback", type=int, default=336)
    parser.add_argument("--pretrain-stride", type=int, default=8)
    parser.add_argument("--probe-stride", type=int, default=4)
    parser.add_argument("--n-epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0, 1, ...")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    data = load_etth1(Path(args.data))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, metas = [], []
    for seed in range(args.seeds):
        seed_rows, meta = run_seed(data, args, seed)
        rows += seed_rows
        metas.append(meta)
        # Rewritten after every seed so that an interrupted run keeps its rows.
        with open(out / "timedrl_forecasting.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        write_markdown(rows, metas, out / "timedrl_forecasting.md")


if __name__ == "__main__":
    main()
