"""SoftCLT against TS2Vec, paired: the same data, seeds, crops, masks and budget.

With the same ``random_state`` the two estimators draw identical initial weights,
crops, masks and dropout (SoftCLT's distances draw nothing from the fit's random
streams), so each (dataset, seed) is a paired comparison: only the targets differ.

Parts:

- ``suite``: the 16 datasets of ``benchmarks/run.py`` plus Car, seeds 0, 1, 2.  Arms:
  ``ts2vec`` (defaults), ``softclt`` (defaults: one temperature pair for every
  dataset) and ``softclt_official`` (the official per-dataset temperatures,
  ``OFFICIAL_TEMPERATURES``; only the datasets that have them: the official table
  has no multivariate set);
- ``modes``: larger training sets, the whole distance matrix (``distance_mode="full"``)
  against the distances of each mini-batch (``"batch"``): ECG5000 and Strawberry
  (3 seeds), FordA (``"auto"``, which picks "batch"; one seed).

Timing: each (dataset, seed) fits its arms one after another in the same process,
in an order rotated by the seed, on one pinned core with one thread; two processes
(disjoint datasets) may run side by side, one per core.  Fit times are the wall
time of ``fit``, the DTW distances included; numba's one-time compilation of the
DTW (about a second per process, cached on disk) is done before the first fit.

Usage (resumable: rows already in the CSV are skipped)::

    python -m benchmarks.softclt --part suite --datasets GunPoint ECG200 ... \\
        --csv results/softclt_a.csv
    python -m benchmarks.softclt --merge results/softclt_a.csv results/softclt_b.csv
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

import numpy as np
import torch

from sslts import SoftCLTTransformer, TS2VecTransformer, load_dataset
from sslts.evaluation import CLASSIFICATION_PROTOCOLS, ts2vec_normalise
from sslts.utils.dtw import DTWDistances

from .provenance import git_commit
from .run import DEFAULT_DATASETS
from .seeds import append_rows, baseline_rows

# ``cls_hyperparams.csv`` of the official code (``seunghan96/softclt``,
# ``softclt_ts2vec/hyperparameters``), read as (tau_inst, tau_temp), for the sets here.
OFFICIAL_TEMPERATURES = {
    "ArrowHead": (3.0, 2.5), "CBF": (10.0, 0.5), "Car": (30.0, 0.5), "Chinatown": (0.1, 2.5),
    "Coffee": (0.1, 0.1), "ECG200": (20.0, 2.0), "GunPoint": (0.1, 1.0),
    "ItalyPowerDemand": (0.1, 0.1), "SonyAIBORobotSurface1": (3.0, 0.1),
    "SonyAIBORobotSurface2": (0.5, 2.5), "SyntheticControl": (1.0, 0.5),
    "ToeSegmentation1": (0.5, 0.5), "TwoLeadECG": (20.0, 0.5), "UMD": (0.1, 0.1),
    "ECG5000": (5.0, 2.5), "Strawberry": (0.1, 0.5), "FordA": (10.0, 2.0),
}
SUITE = [*DEFAULT_DATASETS, "Car"]
PARTS = {
    "suite": {"datasets": SUITE, "seeds": [0, 1, 2],
              "arms": ["ts2vec", "softclt", "softclt_official"]},
    "modes": {"datasets": ["ECG5000", "Strawberry", "FordA"], "seeds": [0, 1, 2],
              "arms": ["ts2vec", "softclt_full", "softclt_batch"]},
}
FIELDS = ["commit", "part", "dataset", "arm", "seed", "protocol", "accuracy", "fit_seconds",
          "distance_seconds", "distance_mode", "distance_mib", "n_iter", "n_train", "length",
          "tau_inst", "tau_temp"]
PROTOCOLS = ("svm", "knn", "linear_svm", "logistic")
LABELS = {"ts2vec": "TS2Vec", "softclt": "SoftCLT (defaults)",
          "softclt_official": "SoftCLT (official per-dataset τ)",
          "softclt_full": "SoftCLT, full matrix", "softclt_batch": "SoftCLT, batch distances"}


def arm_estimator(arm: str, dataset: str, seed: int):
    """The estimator of an arm (None when the arm does not apply to the dataset)."""
    common = {"device": "cpu", "random_state": seed}
    if arm == "ts2vec":
        return TS2VecTransformer(**common)
    if arm == "softclt_official":
        if dataset not in OFFICIAL_TEMPERATURES:
            return None
        tau_inst, tau_temp = OFFICIAL_TEMPERATURES[dataset]
        return SoftCLTTransformer(tau_inst=tau_inst, tau_temp=tau_temp, **common)
    if arm in ("softclt_full", "softclt_batch"):
        mode = arm.split("_")[1]
        if dataset == "FordA" and mode == "full":
            return None  # 6.5 million DTWs of 500 x 500 cells
        if dataset == "FordA":
            return SoftCLTTransformer(**common) if seed == 0 else None
        return SoftCLTTransformer(distance_mode=mode, **common)
    if dataset == "FordA" and seed != 0:
        return None
    return SoftCLTTransformer(**common)


def fit_and_score(part, dataset, arm, seed, data, commit="") -> list[dict]:
    """One fit, scored with every probe."""
    X_train, y_train, X_test, y_test = data
    if dataset == "FordA" and arm == "ts2vec" and seed != 0:
        return []
    est = arm_estimator(arm, dataset, seed)
    if est is None:
        return []
    start = time.perf_counter()
    est.fit(X_train)
    fit_seconds = time.perf_counter() - start
    F_train, F_test = est.transform(X_train), est.transform(X_test)
    distances = getattr(est, "distance_seconds_", 0.0)
    mode = getattr(est, "distance_mode_", None)
    common = {"commit": commit, "part": part, "dataset": dataset, "arm": arm, "seed": seed,
              "fit_seconds": fit_seconds, "distance_seconds": distances,
              "distance_mode": mode or "", "distance_mib": _held_mib(est, X_train, mode),
              "n_iter": est.n_iter_, "n_train": len(X_train), "length": X_train.shape[1],
              "tau_inst": getattr(est, "tau_inst", ""), "tau_temp": getattr(est, "tau_temp", "")}
    rows = []
    for protocol in PROTOCOLS:
        clf = CLASSIFICATION_PROTOCOLS[protocol](F_train, y_train)
        rows.append({**common, "protocol": protocol,
                     "accuracy": float(np.mean(clf.predict(F_test) == y_test))})
    return rows


def _held_mib(est, X, mode) -> float | str:
    """Memory the distances held during the fit: the float32 matrix or the scaled series."""
    if not mode:
        return ""
    n = len(X)
    held = 4 * n * n if mode == "full" else 8 * X.size
    return round(held / 2**20, 2)


def read(paths) -> list[dict]:
    typed = {"seed": int, "accuracy": float, "fit_seconds": float, "distance_seconds": float,
             "n_iter": int, "n_train": int, "length": int}
    rows = []
    for path in paths:
        if Path(path).exists():
            with open(path, newline="") as fh:
                rows += [{k: typed.get(k, str)(v) for k, v in r.items() if v != ""}
                         for r in csv.DictReader(fh)]
    return rows


def run(args) -> None:
    DTWDistances(np.random.default_rng(0).normal(size=(3, 8)))  # numba's compilation
    path, commit = Path(args.csv), git_commit()
    done = {(r["part"], r["dataset"], r["arm"], r["seed"]) for r in read([path])}
    spec = PARTS[args.part]
    for dataset in args.datasets or spec["datasets"]:
        X_train, y_train, X_test, y_test = load_dataset(dataset, data_home=args.data_home)
        X_train, X_test = ts2vec_normalise(dataset, X_train, X_test)
        data = (X_train, y_train, X_test, y_test)
        if (args.part, dataset, "1nn_euclidean", 0) not in done:
            append_rows(path, [{**r, "part": args.part, "arm": r["method"], "commit": commit}
                               for r in baseline_rows(dataset, args.data_home)], FIELDS)
        for seed in args.seeds or spec["seeds"]:
            arms = spec["arms"]
            for arm in arms[seed % len(arms):] + arms[: seed % len(arms)]:
                if (args.part, dataset, arm, seed) in done:
                    continue
                rows = fit_and_score(args.part, dataset, arm, seed, data, commit)
                append_rows(path, rows, FIELDS)
                if rows:
                    print(f"{dataset} {arm} seed {seed}: {100 * rows[0]['accuracy']:.1f} "
                          f"({rows[0]['fit_seconds']:.1f} s)", flush=True)


# -- the report -----------------------------------------------------------------------
def _acc(rows, dataset, arm, protocol="svm") -> dict[int, float]:
    """Accuracy (%) by seed."""
    return {r["seed"]: 100 * r["accuracy"] for r in rows if r["dataset"] == dataset
            and r["arm"] == arm and r["protocol"] == protocol}


def _fit(rows, dataset, arm, key="fit_seconds") -> dict[int, float]:
    return {r["seed"]: r[key] for r in rows if r["dataset"] == dataset and r["arm"] == arm
            and r["protocol"] == "svm"}


def paired(rows, arm, datasets, protocol="svm") -> dict | None:
    """Per-dataset mean differences to TS2Vec (paired by seed) and fit-time ratios."""
    diffs, ratios, soft_s, hard_s, dist_s, used = [], [], 0.0, 0.0, 0.0, []
    for d in datasets:
        soft, hard = _acc(rows, d, arm, protocol), _acc(rows, d, "ts2vec", protocol)
        seeds = sorted(set(soft) & set(hard))
        if not seeds:
            continue
        used.append(d)
        diffs.append(np.mean([soft[s] - hard[s] for s in seeds]))
        t_soft, t_hard = _fit(rows, d, arm), _fit(rows, d, "ts2vec")
        ratios.append(np.exp(np.mean([np.log(t_soft[s] / t_hard[s]) for s in seeds])))
        soft_s += sum(t_soft[s] for s in seeds)
        hard_s += sum(t_hard[s] for s in seeds)
        dist_s += sum(_fit(rows, d, arm, "distance_seconds")[s] for s in seeds)
    if not used:
        return None
    diffs = np.array(diffs)
    mean = lambda a: np.mean([np.mean(list(_acc(rows, d, a, protocol).values()))  # noqa: E731
                              for d in used])
    return {"datasets": used, "soft": mean(arm), "hard": mean("ts2vec"),
            "diff": diffs.mean(),
            "se": diffs.std(ddof=1) / np.sqrt(len(diffs)) if len(diffs) > 1 else np.nan,
            "wins": int((diffs > 0.05).sum()), "ties": int((abs(diffs) <= 0.05).sum()),
            "losses": int((diffs < -0.05).sum()), "total_ratio": soft_s / hard_s,
            "geo_ratio": float(np.exp(np.mean(np.log(ratios)))), "max_ratio": max(ratios),
            "distance_share": dist_s / soft_s}


def _cell(values: dict) -> str:
    v = np.array(list(values.values()))
    if not len(v):
        return "–"
    return f"{v.mean():.1f}" if len(v) == 1 else f"{v.mean():.1f} ± {v.std():.1f}"


def coverage(rows, arms, datasets) -> list[str]:
    """Which datasets and seeds each arm ran: a partial run says so before its numbers."""
    lines = []
    for arm in arms:
        seeds = {d: sorted(_acc(rows, d, arm)) for d in datasets}
        full = [d for d in datasets if len(seeds[d]) == 3]
        part = [f"{d} (seeds {', '.join(map(str, seeds[d]))})" for d in datasets
                if 0 < len(seeds[d]) < 3]
        missing = [d for d in datasets if not seeds[d]]
        if arm == "softclt_official":
            missing = [d for d in missing if d in OFFICIAL_TEMPERATURES]
        text = f"*{LABELS[arm]}*: {len(full)} of {len(datasets)} datasets with 3 seeds"
        text += f" ({', '.join(full)})" if full else ""
        text += f"; fewer seeds: {', '.join(part)}" if part else ""
        text += f"; not run: {', '.join(missing)}" if missing else ""
        lines.append(f"- {text}.")
    if any("not run" in line or "fewer seeds" in line for line in lines):
        lines.insert(0, "**Partial run**: the averages below cover only the datasets and "
                        "seeds each arm ran, paired with TS2Vec on the same ones.")
        lines.insert(1, "")
    return lines + [""]


def summary_table(rows, arms, datasets) -> list[str]:
    lines = ["| arm | datasets | accuracy | TS2Vec, same sets | difference ± s.e. | "
             "better / equal / worse | fit time ratio, total | per-dataset ratio: "
             "geometric mean (max) | share of SoftCLT's fit time in the distances |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for arm in arms:
        p = paired(rows, arm, datasets)
        if p is None:
            continue
        lines.append(
            f"| {LABELS[arm]} | {len(p['datasets'])} | {p['soft']:.2f} | {p['hard']:.2f} | "
            f"{p['diff']:+.2f} ± {p['se']:.2f} | {p['wins']} / {p['ties']} / {p['losses']} | "
            f"{p['total_ratio']:.2f} | {p['geo_ratio']:.2f} ({p['max_ratio']:.2f}) | "
            f"{100 * p['distance_share']:.1f} % |")
    return lines + [""]


def dataset_table(rows, arms, datasets) -> list[str]:
    soft_arms = [a for a in arms if a != "ts2vec"]
    header = ["dataset", "train × length", "1-NN-ED", "TS2Vec"]
    for a in soft_arms:
        header += [LABELS[a], "Δ"]
    lines = ["| " + " | ".join(header) + " |", "|---|---:" + "|---:" * (len(header) - 2) + "|"]
    for d in datasets:
        hard = _acc(rows, d, "ts2vec")
        if not hard:
            continue
        first = next(r for r in rows if r["dataset"] == d and r["arm"] == "ts2vec")
        base = _acc(rows, d, "1nn_euclidean", "1-NN")
        cells = [d, f"{first['n_train']} × {first['length']}", _cell(base), _cell(hard)]
        for a in soft_arms:
            soft = _acc(rows, d, a)
            seeds = sorted(set(soft) & set(hard))
            delta = f"{np.mean([soft[s] - hard[s] for s in seeds]):+.1f}" if seeds else "–"
            cells += [_cell(soft), delta]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def time_table(rows, arms, datasets) -> list[str]:
    soft_arms = [a for a in arms if a != "ts2vec"]
    header = ["dataset", "TS2Vec fit s (steps)"]
    for a in soft_arms:
        header += [f"{LABELS[a]}: fit s", "of which distances (mode)", "ratio"]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for d in datasets:
        hard = _fit(rows, d, "ts2vec")
        if not hard:
            continue
        steps = next(r["n_iter"] for r in rows if r["dataset"] == d and r["arm"] == "ts2vec")
        cells = [d, f"{_cell(hard)} ({steps})"]
        for a in soft_arms:
            soft, dist = _fit(rows, d, a), _fit(rows, d, a, "distance_seconds")
            seeds = sorted(set(soft) & set(hard))
            if not seeds:
                cells += ["–"] * 3
                continue
            mode = next(r.get("distance_mode", "") for r in rows
                        if r["dataset"] == d and r["arm"] == a)
            ratio = np.exp(np.mean([np.log(soft[s] / hard[s]) for s in seeds]))
            cells += [_cell(soft), f"{_cell(dist)} ({mode})", f"{ratio:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def probes_table(rows, arms, datasets) -> list[str]:
    lines = ["| probe | " + " | ".join(f"{LABELS[a]} − TS2Vec" for a in arms
                                      if a != "ts2vec") + " |",
             "|---" + "|---:" * (len(arms) - 1) + "|"]
    for protocol in PROTOCOLS:
        cells = []
        for a in arms[1:]:
            p = paired(rows, a, datasets, protocol)
            cells.append("–" if p is None else f"{p['diff']:+.2f} ± {p['se']:.2f}")
        lines.append(f"| {protocol} | " + " | ".join(cells) + " |")
    return lines + [""]


def render(rows: list[dict]) -> str:
    commits = sorted({r["commit"] for r in rows if r.get("commit")})
    lines = [
        "# SoftCLT against TS2Vec, paired", "",
        f"commit {', '.join(commits) or git_commit()}, torch {torch.__version__}, cpu, one "
        f"thread per fit, {platform.machine()}. Generated by `python -m benchmarks.softclt` "
        "(module docstring: parts, arms, how it was run).", "",
        "Every arm trains with the estimators' defaults (batch 8, 200 optimiser steps, or "
        "600 on training sets of more than 100,000 values), from the same seeds: with the "
        "same seed both estimators draw the same initial weights, crops, masks and dropout, "
        "so each (dataset, seed) is a paired comparison in which only the targets differ. "
        "Test accuracy (%) of TS2Vec's RBF-SVM protocol on the instance embeddings, mean "
        "± std over seeds. *Difference*: the mean over datasets of each dataset's mean "
        "paired difference (SoftCLT − TS2Vec), with its standard error over datasets; "
        "*better / equal / worse*: datasets whose mean difference is above, within or "
        "below ±0.05 points. Fit times: wall time of `fit`, the DTW distances included, "
        "the arms of a (dataset, seed) fitted one after another in one process pinned to "
        "one core, so that the ratios compare fits made side by side (the machine's "
        "second core was not kept idle); "
        "*ratio*: SoftCLT / TS2Vec, geometric mean over seeds.", "",
    ]
    suite = [r for r in rows if r["part"] == "suite"]
    if suite:
        arms = PARTS["suite"]["arms"]
        lines += ["## 16-dataset suite and Car, seeds 0, 1, 2", "",
                  "SoftCLT's defaults are `tau_inst=5`, `tau_temp=1` (the medians of the "
                  "official per-dataset table), `max_weight=0.5`; the official arm uses "
                  "the table's pair for each dataset, and runs only on the 14 univariate "
                  "sets that have one.", ""]
        lines += coverage(suite, arms, SUITE) + summary_table(suite, arms[1:], SUITE)
        lines += ["### Per dataset (RBF SVM)", ""] + dataset_table(suite, arms, SUITE)
        lines += ["### Fit seconds", ""] + time_table(suite, arms, SUITE)
        lines += ["### Other probes: mean difference to TS2Vec ± s.e.", ""]
        lines += probes_table(suite, arms, SUITE)
        lines += ["Official temperatures (tau_inst, tau_temp): " + ", ".join(
            f"{d} {OFFICIAL_TEMPERATURES[d]}" for d in SUITE if d in OFFICIAL_TEMPERATURES)
            + ".", ""]
    modes = [r for r in rows if r["part"] == "modes"]
    if modes:
        arms, sets = PARTS["modes"]["arms"], PARTS["modes"]["datasets"]
        lines += ["## Larger training sets: the whole matrix or each batch's distances", "",
                  "`distance_mode=\"full\"` computes every pair once per fit; `\"batch\"` "
                  "computes the 28 pairs of each batch of 8 when it is drawn, min-max "
                  "scaled by the range of 1,024 random pairs. FordA (3,601 series of 500 "
                  "steps): one seed, `\"auto\"` (which picks \"batch\"). Distances held: "
                  "the float32 matrix, or the float64 scaled series.", ""]
        lines += dataset_table(modes, arms, sets)
        lines += time_table(modes, arms, sets)
        held = {(r["dataset"], r["arm"]): r.get("distance_mib", "") for r in modes
                if r.get("distance_mib", "") != ""}
        lines += ["Distances held (MiB): " + ", ".join(
            f"{d} {LABELS[a]} {v}" for (d, a), v in sorted(held.items())) + ".", ""]
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.softclt",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=list(PARTS), default="suite")
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    parser.add_argument("--csv", default=str(Path(__file__).parent / "results/softclt.csv"))
    parser.add_argument("--data-home", default=str(Path(__file__).parents[2] / "shared/data"))
    parser.add_argument("--merge", nargs="+", metavar="CSV", default=None,
                        help="fit nothing: write softclt.{csv,md} from these CSVs")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.merge:
        rows = read(args.merge)
        out = Path(args.out)
        with open(out / "softclt.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, FIELDS, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        (out / "softclt.md").write_text(render(rows) + "\n")
        return 0
    run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
