"""ETTh1 / ETTm1 forecasting with :class:`sslts.EmbeddingForecaster` (TS2Vec encoder) vs the paper.

Protocol (TS2Vec, Section 4.2 and appendix C.4, as ``sslts.evaluation.load_ett``)
---------------------------------------------------------------------------------
- Data: 12/4/4 months of 30 days (ETTh1 rows 0-8639 / 8640-11519 / 11520-14399, four
  times that for ETTm1); the targets (``OT`` in the univariate setting, all 7
  channels in the multivariate one) and the 7 calendar covariates are standardised
  with training statistics; the covariates are input channels before the targets.
- Estimator: ``EmbeddingForecaster(TS2VecTransformer(random_state=seed),
  horizon=<the paper's horizons>, padding=200, valid_size=<the validation months>,
  baseline=None, lags=0, use_embedding=True, refit=False)`` (heads on the embedding
  alone that forecast the values, as the paper's; named explicitly so that no change
  of defaults alters the protocol) fitted on train + validation: the encoder is
  trained on the training months (the paper's budget: 200 iterations for at most
  100,000 training values, else 600), each horizon gets a ridge head on the causal embeddings of the
  training months (the first 200 steps dropped) with its penalty chosen on the
  validation months by RMSE + MAE.
- Test: :meth:`~sslts.EmbeddingForecaster.rolling_predict` on the test months and
  the 200 steps before them (the context of the first test window): every test step
  ``t`` with ``t + H`` inside the test months is a forecast origin.  MSE / MAE on the
  standardised scale, over all target channels.
- ``--official``: the official TS2Vec code from ``../shared/peers/ts2vec`` instead,
  as its ``train.py <dataset> --loader forecast_csv[_univar] --eval`` runs it (its own
  loading, training and ``tasks.eval_forecasting``: ridge penalty chosen on the
  validation months, every test step an origin), on the CPU with the same seeds; its
  rows are labelled "<setting>, official code".
- Reference: the paper's Tables 7 (univariate) and 8 (multivariate), TS2Vec column.
  The pass criterion: the MSE averaged over the horizons within 5 % of
  the paper's.

Usage::

    python -m benchmarks.forecaster --datasets ETTh1 \\
        --settings univariate          # one block; results are merged into --out
    python -m benchmarks.forecaster --quick --out /tmp/forecaster     # smoke test
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from sslts import TS2VecTransformer
from sslts.evaluation import load_ett
from sslts.forecaster import EmbeddingForecaster

from .anomaly import run_metadata
from .official import PEERS, ts2vec_forecast_run

PADDING = 200
REFERENCE = Path(__file__).parent / "reference"
FIELDS = ["dataset", "setting", "horizon", "mse", "mae", "paper_mse", "paper_mae", "alpha",
          "seed", "n_iters", "fit_seconds", "test_seconds"]


def paper_numbers() -> dict:
    """{(dataset, setting, horizon, metric): value} of the TS2Vec column of Tables 7-8."""
    out = {}
    for name in ("ts2vec_table7_univariate.csv", "ts2vec_table8_multivariate.csv"):
        with open(REFERENCE / name, newline="") as fh:
            for row in csv.DictReader(fh):
                if row["method"] == "TS2Vec":
                    setting, h = row["setting"].split(" H=")
                    out[row["dataset"], setting, int(h), row["metric"]] = float(row["value"])
    return out


def quick_dataset(ds):
    """A 1,400-step cut of ``ds`` (600 / 400 / 400) with horizons 24 and 48."""
    return replace(ds, data=ds.data[:, :1400], train=slice(0, 600), valid=slice(600, 1000),
                   test=slice(1000, 1400), horizons=(24, 48))


def run_official(name: str, setting: str, seed: int, args, paper: dict) -> list[dict]:
    """The official code's protocol and numbers for one (dataset, setting, seed)."""
    res = ts2vec_forecast_run(name, args.data_home, univariate=setting == "univariate",
                              seed=seed)
    rows = [{"dataset": name, "setting": f"{setting}, official code", "horizon": h,
             "mse": res["mse"][h], "mae": res["mae"][h],
             "paper_mse": paper.get((name, setting, h, "mse"), np.nan),
             "paper_mae": paper.get((name, setting, h, "mae"), np.nan),
             "alpha": np.nan, "seed": seed, "n_iters": res["n_iters"],
             "fit_seconds": round(res["fit_seconds"], 1),
             "test_seconds": round(res["encode_seconds"], 1)} for h in res["mse"]]
    for row in rows:
        print(row, flush=True)
    return rows


def run(name: str, setting: str, seed: int, args, paper: dict) -> list[dict]:
    ds = load_ett(name, args.data_home, univariate=setting == "univariate")
    padding = PADDING
    if args.quick:
        ds, padding = quick_dataset(ds), 24
    k, data = ds.n_covariates, ds.data[0]
    params = dict(output_dims=16, hidden_dims=16, depth=3, n_iters=5) if args.quick else {}
    if args.n_iters is not None:
        params["n_iters"] = args.n_iters
    encoder = TS2VecTransformer(device="cpu", random_state=seed, **params)
    # TS2Vec's heads, named explicitly so that no change of defaults alters the protocol
    forecaster = EmbeddingForecaster(encoder, horizon=ds.horizons, padding=padding,
                                     valid_size=ds.valid.stop - ds.valid.start,
                                     baseline=None, lags=0, use_embedding=True, refit=False)
    start = time.perf_counter()
    forecaster.fit(data[: ds.valid.stop, k:], X=data[: ds.valid.stop, :k])
    fit_seconds = time.perf_counter() - start
    history = data[ds.test.start - padding : ds.test.stop]
    start = time.perf_counter()
    forecasts = forecaster.rolling_predict(history[:, k:], X=history[:, :k],
                                           horizon=list(ds.horizons))
    test_seconds = time.perf_counter() - start
    rows = []
    for h in ds.horizons:
        origins = np.arange(padding, len(history) - h)  # forecast origins in the test months
        truth = np.stack([history[t + 1 : t + 1 + h, k:] for t in origins])
        err = forecasts[h][origins].reshape(truth.shape) - truth
        rows.append({
            "dataset": name, "setting": setting, "horizon": h,
            "mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err))),
            "paper_mse": paper.get((name, setting, h, "mse"), np.nan),
            "paper_mae": paper.get((name, setting, h, "mae"), np.nan),
            "alpha": forecaster.alphas_[h], "seed": seed,
            "n_iters": forecaster.encoder_.n_iter_, "fit_seconds": round(fit_seconds, 1),
            "test_seconds": round(test_seconds, 1),
        })
        print(rows[-1], flush=True)
    return rows


def merge(rows: list[dict], path: Path) -> list[dict]:
    """Rows of ``path`` for other (dataset, setting, seed) blocks, then ``rows``."""
    done = {(r["dataset"], r["setting"], str(r["seed"])) for r in rows}
    kept = []
    if path.is_file():
        with open(path, newline="") as fh:
            kept = [r for r in csv.DictReader(fh)
                    if (r["dataset"], r["setting"], r["seed"]) not in done]
    return kept + rows


def _mean_std(values, digits: int = 3) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def write(rows: list[dict], out: Path, header: str) -> None:
    """Merge ``rows`` into ``out/forecaster.csv`` and render ``out/forecaster.md``.

    Parameters
    ----------
    rows : list of dict
        Rows of this run (fields :data:`FIELDS`); they replace the CSV's rows of the
        same (dataset, setting, seed).
    out : Path
        Results folder.
    header : str
        The run's description, under the title.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = merge(rows, out / "forecaster.csv")
    with open(out / "forecaster.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    cells: dict = {}
    for r in rows:
        cells.setdefault((r["dataset"], r["setting"], int(r["horizon"])), []).append(r)
    lines = ["# EmbeddingForecaster (TS2Vec encoder) on ETT: MSE / MAE vs the paper", "",
             header, "",
             "Each cell: mean ± std over the seeds (population std); alpha = the ridge "
             "penalties chosen, one per seed.", "",
             "| dataset | setting | H | seeds | MSE | paper | MAE | paper | alpha |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    blocks: dict = {}
    for (name, setting, h), cell in cells.items():
        blocks.setdefault((name, setting), []).append(cell)
        lines.append(f"| {name} | {setting} | {h} | {len(cell)} | "
                     f"{_mean_std([float(r['mse']) for r in cell])} | "
                     f"{float(cell[0]['paper_mse']):.3f} | "
                     f"{_mean_std([float(r['mae']) for r in cell])} | "
                     f"{float(cell[0]['paper_mae']):.3f} | "
                     + ", ".join(f"{float(r['alpha']):g}" for r in cell) + " |")
    lines += ["", "MSE averaged over the horizons (the target: within 5 % of the paper), mean ± "
              "std over seeds of each seed's average:", "",
              "| dataset | setting | MSE | paper | difference | within 5 % | encoder "
              "iterations | fit s | test s |", "|---|---|---:|---:|---:|---|---:|---:|---:|"]
    averages = {}
    for (name, setting), block in blocks.items():
        seeds = sorted({str(r["seed"]) for cell in block for r in cell}, key=int)
        per_seed = [np.mean([float(r["mse"]) for cell in block for r in cell
                             if str(r["seed"]) == s]) for s in seeds]
        first = [r for cell in block for r in cell]
        ref = np.mean([float(cell[0]["paper_mse"]) for cell in block])
        diff = np.mean(per_seed) / ref - 1
        fit = _mean_std([float(r["fit_seconds"]) for r in first if int(r["horizon"]) ==
                         int(block[0][0]["horizon"])], 1)
        test = _mean_std([float(r["test_seconds"]) for r in first if int(r["horizon"]) ==
                          int(block[0][0]["horizon"])], 1)
        lines.append(f"| {name} | {setting} | {_mean_std(per_seed, 4)} | {ref:.4f} | "
                     f"{diff:+.1%} | {'yes' if abs(diff) <= 0.05 else 'no'} | "
                     f"{first[0]['n_iters']} | {fit} | {test} |")
        averages[name, setting] = dict(zip(seeds, per_seed))
    pairs = [(key, f"{key[1]}, official code") for key in averages
             if (key[0], f"{key[1]}, official code") in averages]
    if pairs:
        lines += ["", "sslts against the official code on the same protocol (ratio of the "
                  "horizon-averaged MSE, mean over the seeds both ran; below 1: sslts's "
                  "error is lower):", ""]
    for (name, setting), official in pairs:
        ours, theirs = averages[name, setting], averages[name, official]
        shared = sorted(set(ours) & set(theirs), key=int)
        if shared:
            a, b = (np.mean([d[k] for k in shared]) for d in (ours, theirs))
            lines.append(f"- {name} {setting}, seeds {', '.join(shared)}: {a:.4f} / {b:.4f} "
                         f"= {a / b:.3f}")
    (out / "forecaster.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("SSLTS_SHARED_DATA",
                                                              "../shared/data"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--datasets", nargs="+", default=["ETTh1", "ETTm1"])
    parser.add_argument("--settings", nargs="+", default=["univariate", "multivariate"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-iters", type=int, default=None,
                        help="encoder iterations (default: the paper's rule)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny encoder on 1,400 steps")
    parser.add_argument("--official", action="store_true",
                        help="run the official TS2Vec code (../shared/peers) instead")
    args = parser.parse_args(argv)
    if args.official and not (PEERS / "ts2vec").is_dir():
        print(f"skipped: no official TS2Vec tree at {PEERS / 'ts2vec'}")
        return
    torch.set_num_threads(args.threads)
    paper = paper_numbers()
    rows = []
    for name in args.datasets:
        for setting in args.settings:
            for seed in args.seeds:
                rows += (run_official if args.official else run)(name, setting, seed,
                                                                  args, paper)
                write(rows, Path(args.out), "(partial: the run is in progress)")
    config = ("the official TS2Vec code (--official)" if args.official else
              "tiny TS2Vec (16-d, depth 3, 5 iterations) on 1,400 steps, padding 24 (--quick)"
              if args.quick else f"TS2VecTransformer defaults (320-d, depth 10, hidden 64, "
              f"batch 8, lr 1e-3), padding {PADDING}, seeds {args.seeds}")
    header = (f"{run_metadata()}. Generated by `benchmarks/forecaster.py`. Encoder: {config}. "
              "Protocol in the script's docstring; paper = TS2Vec Tables 7-8.")
    write(rows, Path(args.out), header)


if __name__ == "__main__":
    main()
