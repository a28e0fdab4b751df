"""IARS vs TS2Vec: fit time and accuracy, side by side in one process.

Both estimators get the same data, the same encoder (TS2Vec's dilated CNN, default
size), the same iteration budget (by default TS2Vec's: 200 iterations, 600 on
training sets of more than 100,000 values) and the same ``random_state``; otherwise
each has its defaults, so IARS keeps the last partial batch (its official loader)
where TS2Vec drops it, and the two draw different crops.  The difference that
matters is the loss: TS2Vec's full hierarchy vs IARS's one sampled level per
selection period.  Protocol: official splits, ``ts2vec_normalise``, instance
embeddings, ``fit_svm`` (RBF SVM, grid-searched C or C = inf on small sets).  To fit
a 2-core CPU, StandWalkJump (T = 2,500) gets 100 iterations and FordA's training set
is subsampled (stratified).  ``--compare-epoch`` also fits IARS with the paper's
once-per-epoch selection wherever the default ("auto") chose shorter periods.

Usage::

    python -m benchmarks.iars_vs_ts2vec --seeds 0 1 2 --compare-epoch --no-floor
"""

from __future__ import annotations

import argparse
import csv
import math
import platform
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from sslts import IARSTransformer, TS2VecTransformer, load_dataset
from sslts.evaluation import fit_svm, ts2vec_normalise

from .provenance import git_commit

DATASETS = [
    "Car", "Mallat", "InsectWingbeatSound", "Handwriting", "FordA", "StandWalkJump",
    "AtrialFibrillation", "BeetleFly",
]
LONG = 500  # series of at least this many steps count as "long" in the summary
# Per-dataset iteration budget (shared by both methods); the longest set gets fewer.
N_ITERS = {"StandWalkJump": 100}
SUBSAMPLE_TRAIN = {"FordA": 400}


def load(name: str, data_home: str, seed: int):
    X_train, y_train, X_test, y_test = load_dataset(name, data_home=data_home)
    X_train, X_test = ts2vec_normalise(name, X_train, X_test)
    if name in SUBSAMPLE_TRAIN:
        X_train, _, y_train, _ = train_test_split(
            X_train, y_train, train_size=SUBSAMPLE_TRAIN[name], random_state=seed,
            stratify=y_train,
        )
    return X_train, y_train, X_test, y_test


def accuracy(est, X_train, y_train, X_test, y_test) -> float:
    F_train, F_test = est.transform(X_train), est.transform(X_test)
    return float(np.mean(fit_svm(F_train, y_train).predict(F_test) == y_test))


class EncoderOnly(TS2VecTransformer):
    """TS2Vec's training step with a free loss: what a step costs without any level.

    Same crops, masks, encoder forward and backward (the gradient of a mean reaches
    every output), so ``fit_time_`` of this over TS2Vec's is the lowest fit-time
    ratio any selection of levels could reach.
    """

    def training_step(self, module, batch, ctx):
        out1, out2 = self._encode_views(module, batch, ctx.rng)
        return out1.mean() + out2.mean()


def run_one(
    name: str, data_home: str, seed: int, n_iters: int | None, first: str,
    floor: bool = True, compare_epoch: bool = False,
) -> dict:
    X_train, y_train, X_test, y_test = load(name, data_home, seed)
    n_iters = N_ITERS.get(name, n_iters)
    if n_iters is None:  # TS2Vec's default budget, which IARS shares
        n_iters = TS2VecTransformer().default_budget(X_train)[1]
    common = dict(n_iters=n_iters, random_state=seed, device="cpu")
    ests = {"ts2vec": TS2VecTransformer(**common), "iars": IARSTransformer(**common)}
    # Both fits run back to back (no inference in between), in alternating order
    # across datasets, so that neither method always runs in the other's wake.
    for key in sorted(ests, key=lambda k: k != first):
        ests[key].fit(X_train)
    floor_s = EncoderOnly(**common).fit(X_train).fit_time_ if floor else math.nan
    if compare_epoch and ests["iars"].selection_period_ is not None:
        ests["iars_epoch"] = IARSTransformer(selection_frequency="epoch", **common)
        ests["iars_epoch"].fit(X_train)
    acc = {k: accuracy(e, X_train, y_train, X_test, y_test) for k, e in ests.items()}
    fit_s = {k: e.fit_time_ for k, e in ests.items()}
    # Where "auto" already selects per epoch the two IARS arms are the same fit.
    acc.setdefault("iars_epoch", acc["iars"])
    fit_s.setdefault("iars_epoch", fit_s["iars"])
    period = ests["iars"].selection_period_
    return {
        "dataset": name, "seed": seed, "shape": "x".join(map(str, X_train.shape)),
        "length": X_train.shape[1], "n_iters": n_iters,
        "epochs": ests["iars"].n_epochs_, "first": first,
        "period": "epoch" if period is None else period,
        "draws": len(ests["iars"].resolution_history_),
        "ts2vec_fit_s": round(fit_s["ts2vec"], 2), "iars_fit_s": round(fit_s["iars"], 2),
        "ratio": round(fit_s["iars"] / fit_s["ts2vec"], 3),
        "floor": round(floor_s / fit_s["ts2vec"], 3),
        "ts2vec_acc": round(acc["ts2vec"], 4), "iars_acc": round(acc["iars"], 4),
        **({"iars_epoch_fit_s": round(fit_s["iars_epoch"], 2),
            "iars_epoch_acc": round(acc["iars_epoch"], 4)} if compare_epoch else {}),
        "levels": " ".join(map(str, ests["iars"].resolution_history_[:60]))
        + (" ..." if len(ests["iars"].resolution_history_) > 60 else ""),
    }


def warm_up(args) -> None:
    """One short fit of each method, so one-time start-up costs stay out of the timings."""
    X = load(args.datasets[0], args.data_home, args.seeds[0])[0][:16]
    for cls in (TS2VecTransformer, IARSTransformer):
        cls(n_iters=2, random_state=args.seeds[0], device="cpu").fit(X)


def header(args) -> list[str]:
    commit = git_commit()
    return [
        "# IARS vs TS2Vec: fit time and SVM accuracy (same process, same crops)",
        "",
        f"commit {commit}, torch {torch.__version__}, device cpu ({platform.machine()}),"
        f" {torch.get_num_threads()} CPU thread(s), seeds {args.seeds}.",
        "",
        "Budget: "
        + ("TS2Vec's default (200 iterations, 600 above 100,000 values)" if args.n_iters
           is None else f"{args.n_iters} iterations")
        + f" for both methods (overrides: {N_ITERS}); batch 8, TS2Vec's default encoder "
        "(depth 10, 64 hidden, 320 outputs, max_train_length 3000) for both; each "
        "method's other defaults (IARS: `selection='paper'`, `selection_frequency='auto'`,"
        " `drop_last=False`). Training set subsampled (stratified): "
        f"{SUBSAMPLE_TRAIN}; test sets complete. `period` = IARS's selection period "
        "(`epoch` or optimiser steps), `draws` = levels drawn in the fit, `levels` = "
        "the first 60 draws; `iars_epoch_*` = IARS with `selection_frequency='epoch'` "
        "(the paper's), fitted only where `period` is not `epoch` (elsewhere it is the "
        "same fit); `first` = the method fitted first "
        "(the two fits run back to back, before any inference). `floor` = fit time of "
        "TS2Vec's step with a free loss (same crops, masks, encoder forward and "
        "backward) over TS2Vec's fit time: the lowest ratio that training fewer "
        "levels can reach, since the encoder pass is the same in both methods.",
        "",
    ]


def summary(rows: list[dict], label: str, keep) -> list[str]:
    """One line: means over the (dataset, seed) rows selected by ``keep``."""
    rows = [r for r in rows if keep(r)]
    if not rows:
        return []
    keys = ("ratio", "floor", "ts2vec_acc", "iars_acc")
    mean = {k: np.mean([r[k] for r in rows]) for k in keys}  # floor: NaN if not measured
    # The per-epoch arm exists only in runs made with --compare-epoch.
    compared = [r for r in rows if isinstance(r.get("iars_epoch_acc"), float)]
    epoch_gap = 100 * np.mean([r["iars_epoch_acc"] - r["ts2vec_acc"] for r in compared]) if (
        compared) else math.nan
    n_sets = len({r["dataset"] for r in rows})
    return [
        f"- {label} ({n_sets} datasets, {len(rows)} runs): fit-time ratio IARS/TS2Vec "
        f"**{mean['ratio']:.3f}**"
        + (f" (floor {mean['floor']:.3f})" if math.isfinite(mean["floor"]) else "")
        + "; accuracy TS2Vec "
        f"{mean['ts2vec_acc']:.4f}, IARS "
        f"{mean['iars_acc']:.4f} (difference "
        f"{100 * (mean['iars_acc'] - mean['ts2vec_acc']):+.2f} points)"
        + (f"; IARS with per-epoch selection {epoch_gap:+.2f} points from TS2Vec, and "
           "'auto' "
           f"{100 * np.mean([r['iars_acc'] - r['ts2vec_acc'] for r in compared]):+.2f}, "
           f"on the {len(compared)} runs that fitted both"
           if compared else "") + ".",
    ]


def write(rows: list[dict], args) -> None:
    out, stem = Path(args.out), "iars_vs_ts2vec" + (f"_{args.tag}" if args.tag else "")
    with open(out / f"{stem}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), restval="")
        writer.writeheader()
        writer.writerows(rows)
    cols = list(rows[0])
    lines = header(args) + ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    lines += [""] + summary(rows, "all datasets", lambda r: True)
    lines += summary(rows, f"series of at least {LONG} steps", lambda r: r["length"] >= LONG)
    lines += summary(rows, f"series shorter than {LONG} steps", lambda r: r["length"] < LONG)
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")


def _typed(row: dict) -> dict:
    """A CSV row with its numbers as numbers."""
    def value(text):
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text
    return {k: value(v) for k, v in row.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=str(Path(__file__).parents[2] / "shared/data"))
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--n-iters", type=int, default=None,
                        help="iterations of both methods (default: TS2Vec's budget)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--compare-epoch", action="store_true",
                        help="also fit IARS with the paper's per-epoch selection")
    parser.add_argument("--no-floor", action="store_true", help="skip the encoder-only fits")
    parser.add_argument("--tag", default="", help="suffix of the result file names")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--merge", nargs="+", metavar="CSV", default=None,
                        help="fit nothing: write the rows of these CSVs (parts of one run, "
                             "one process per core) as one result into --out")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.merge:
        write([_typed(row) for path in args.merge for row in csv.DictReader(open(path))],
              args)
        return
    warm_up(args)
    rows = []
    for seed in args.seeds:
        for i, name in enumerate(args.datasets):
            first = ("ts2vec", "iars")[(i + seed) % 2]
            rows.append(run_one(name, args.data_home, seed, args.n_iters, first,
                                not args.no_floor, args.compare_epoch))
            print(rows[-1], flush=True)
            write(rows, args)  # partial results survive an interrupted run


if __name__ == "__main__":
    main()
