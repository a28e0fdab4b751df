"""Choosing InfoNCETransformer's defaults: candidate settings against 1-NN-ED.

Each candidate is a set of InfoNCETransformer parameters; every candidate is fitted on
every dataset and seed and scored with the probes of ``benchmarks/run.py`` (TS2Vec's
normalisation, RBF-SVM on the instance embeddings, plus kNN / linear SVM / logistic),
next to the 1-NN Euclidean baseline on the same normalised series.  The markdown
report shows, per candidate, the mean accuracy, its margin over 1-NN-ED, the largest
seed standard deviation of any dataset, and the fit times.

Two stages, as the defaults were chosen::

    # screen: one seed, a subset mixing suite and non-suite sets, then combinations
    python -m benchmarks.infonce_defaults --stage screen --tag infonce_screen
    python -m benchmarks.infonce_defaults --stage screen2 --tag infonce_screen2
    python -m benchmarks.infonce_defaults --stage screen3 --tag infonce_screen3
    # confirm: the chosen default and the tutorial's setting, 16-dataset suite, 3 seeds
    python -m benchmarks.infonce_defaults --stage confirm --tag infonce

The output CSV is appended to after every fit and rows already present are skipped,
so a run can be stopped and restarted, or split over cores with ``--candidates`` /
``--datasets`` and rendered together with ``--merge``.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import numpy as np
import torch

from .provenance import git_commit
from .run import DEFAULT_DATASETS
from .seeds import (
    BASELINE,
    FIELDS,
    accuracy_table,
    append_rows,
    baseline_rows,
    cell,
    fit_rows,
    fit_time_table,
    read_rows,
    select,
)

# A window longer than any series: the estimator caps it at half the training length.
HALF = 10**6
TUTORIAL = {"encoder_params": {"hidden_dims": 128, "output_dims": 128, "bidirectional": False},
            "window_length": 30, "max_shift": None, "temperature": 0.5, "pooling": "mean",
            "projector_dims": None, "batch_size": 64, "weight_decay": 0.0,
            "lr_schedule": "constant"}
BI = {"hidden_dims": 128, "output_dims": 128, "bidirectional": True}
CANDIDATES = {
    "tutorial": TUTORIAL,
    "bi": {**TUTORIAL, "encoder_params": BI},
    "h256": {**TUTORIAL, "encoder_params": {**TUTORIAL["encoder_params"], "hidden_dims": 256}},
    "max": {**TUTORIAL, "pooling": "max"},
    "t0.1": {**TUTORIAL, "temperature": 0.1},
    "x3": {**TUTORIAL, "n_iters": 600},
    "half": {**TUTORIAL, "window_length": HALF},
    "apart": {**TUTORIAL, "max_shift": 30},
    "proj": {**TUTORIAL, "projector_dims": 128},
    # second round: combinations with max pooling, the clear gain of the first
    "max_x3": {**TUTORIAL, "pooling": "max", "n_iters": 600},
    "max_t0.1": {**TUTORIAL, "pooling": "max", "temperature": 0.1},
    "max_x3_t0.1": {**TUTORIAL, "pooling": "max", "n_iters": 600, "temperature": 0.1},
    "max_proj": {**TUTORIAL, "pooling": "max", "projector_dims": 128},
    "max_bi": {**TUTORIAL, "pooling": "max", "encoder_params": BI},
    "max_h256": {**TUTORIAL, "pooling": "max",
                 "encoder_params": {**TUTORIAL["encoder_params"], "hidden_dims": 256}},
    "max_half": {**TUTORIAL, "pooling": "max", "window_length": HALF},
    # third round: with the projector, SimCLR's recipe (lower temperature, longer)
    "max_proj_t0.1": {**TUTORIAL, "pooling": "max", "projector_dims": 128, "temperature": 0.1},
    "max_proj_t0.2": {**TUTORIAL, "pooling": "max", "projector_dims": 128, "temperature": 0.2},
    "max_proj_x3": {**TUTORIAL, "pooling": "max", "projector_dims": 128, "n_iters": 600},
    "max_proj_x3_t0.1": {**TUTORIAL, "pooling": "max", "projector_dims": 128, "n_iters": 600,
                         "temperature": 0.1},
    "max_proj_x3_t0.1_cos": {**TUTORIAL, "pooling": "max", "projector_dims": 128,
                             "n_iters": 600, "temperature": 0.1, "lr_schedule": "cosine"},
    "defaults": {},
}
ROUND1 = ["tutorial", "bi", "h256", "max", "t0.1", "x3", "half", "apart", "proj"]
SCREEN_DATASETS = [
    # from the suite
    "GunPoint", "ECG200", "SonyAIBORobotSurface1", "UMD", "RacketSports",
    # not in the suite
    "SwedishLeaf", "MedicalImages", "Epilepsy",
]
STAGES = {
    "screen": {"candidates": ROUND1, "datasets": SCREEN_DATASETS, "seeds": [0]},
    "screen2": {"candidates": ["max"] + [c for c in CANDIDATES if c.startswith("max_")
                                         and not c.startswith("max_proj_")],
                "datasets": SCREEN_DATASETS, "seeds": [0]},
    "screen3": {"candidates": ["max_proj"] + [c for c in CANDIDATES
                                              if c.startswith("max_proj_")],
                "datasets": SCREEN_DATASETS, "seeds": [0]},
    "confirm": {"candidates": ["defaults", "tutorial"], "datasets": list(DEFAULT_DATASETS),
                "seeds": [0, 1, 2]},
}


def summary(rows: list[dict], candidates: list[str], datasets: list[str]) -> list[str]:
    """Per candidate: mean accuracy, margin over 1-NN-ED, largest seed std, fit time."""
    lines = ["| candidate | mean acc. | minus 1-NN-ED | largest seed std (dataset) | "
             "mean fit s |", "|---|---:|---:|---:|---:|"]
    base = {d: 100 * select(rows, dataset=d, method=BASELINE)[0]["accuracy"]
            for d in datasets if select(rows, dataset=d, method=BASELINE)}
    for c in candidates:
        means, stds, times = {}, {}, []
        for d in datasets:
            sub = select(rows, dataset=d, method=c, protocol="svm")
            if sub and d in base:
                acc = 100 * np.array([r["accuracy"] for r in sub])
                means[d], stds[d] = acc.mean(), acc.std()
                times += [r["fit_seconds"] for r in sub]
        if not means:
            continue
        worst = max(stds, key=stds.get)
        margin = np.mean([means[d] - base[d] for d in means])
        lines.append(f"| {c} | {np.mean(list(means.values())):.1f} | {margin:+.1f} | "
                     f"{stds[worst]:.1f} ({worst}) | {np.mean(times):.1f} |")
    return lines + [""]


def render(rows: list[dict], args) -> str:
    candidates = [c for c in args.candidates if select(rows, method=c)]
    datasets = [d for d in args.datasets if select(rows, dataset=d)]
    settings = "\n".join(f"- `{c}`: " + (", ".join(f"{k}={v!r}" for k, v in
                                                   CANDIDATES[c].items()) or "the defaults")
                         for c in candidates)
    lines = [
        f"# InfoNCETransformer: {args.title}", "",
        f"commit {git_commit()}, torch {torch.__version__}, cpu, one thread per fit, "
        f"{platform.machine()}; seeds {args.seeds}. Generated by "
        f"`python -m benchmarks.infonce_defaults --stage {args.stage}`.", "",
        "Test accuracy (%) of TS2Vec's RBF-SVM protocol on the instance embeddings "
        "(mean ± std over seeds), next to 1-NN with the Euclidean distance on the same "
        "normalised series. Every other parameter has its default. Candidates:", "",
        settings, "",
        "## Summary (RBF SVM)", "",
    ]
    lines += summary(rows, candidates, datasets)
    lines += ["## RBF SVM per dataset", ""]
    lines += accuracy_table(rows, "suite", "svm", candidates, datasets, extra={
        "1-NN-ED": lambda d: cell(select(rows, dataset=d, method=BASELINE))})
    for protocol in ("knn", "linear_svm", "logistic"):
        lines += [f"## {protocol} probe", ""]
        lines += accuracy_table(rows, "suite", protocol, candidates, datasets)
    lines += ["## Fit seconds (mean ± std over seeds; optimiser steps)", ""]
    lines += fit_time_table(rows, "suite", candidates, datasets)
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.infonce_defaults",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=list(STAGES), required=True)
    parser.add_argument("--candidates", nargs="+", choices=list(CANDIDATES), default=None)
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    parser.add_argument("--tag", required=True, help="results go to <tag>.{csv,md}")
    parser.add_argument("--data-home", default=str(Path(__file__).parents[2] / "shared/data"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--merge", nargs="+", metavar="CSV", default=None,
                        help="fit nothing: render the rows of these CSVs")
    args = parser.parse_args(argv)
    stage = STAGES[args.stage]
    args.candidates = args.candidates or stage["candidates"]
    args.datasets = args.datasets or stage["datasets"]
    args.seeds = args.seeds if args.seeds is not None else stage["seeds"]
    args.title = {"screen": "screening candidate defaults",
                  "screen2": "screening candidate defaults, second round (max pooling)",
                  "screen3": "screening candidate defaults, third round (max pooling and "
                             "a projector)",
                  "confirm": "the defaults against the tutorial's setting"}[args.stage]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / f"{args.tag}.csv", out / f"{args.tag}.md"
    if args.merge:
        md_path.write_text(render(read_rows(args.merge), args) + "\n")
        return 0
    rows = read_rows([str(csv_path)]) if csv_path.exists() else []
    done = {(r["dataset"], r["method"], r["seed"]) for r in rows}
    for dataset in args.datasets:
        if (dataset, BASELINE, 0) not in done:
            new = baseline_rows(dataset, args.data_home)
            append_rows(csv_path, new, FIELDS)
            rows += new
        for name in args.candidates:
            for seed in args.seeds:
                if (dataset, name, seed) in done:
                    continue
                arm = (name, "infonce", CANDIDATES[name])
                new = fit_rows(dataset, arm, seed, args.data_home)
                append_rows(csv_path, new, FIELDS)
                rows += new
                print(f"{dataset} {name} seed {seed}: "
                      f"{100 * select(new, protocol='svm')[0]['accuracy']:.1f} "
                      f"({new[0]['fit_seconds']:.1f} s)", flush=True)
                md_path.write_text(render(rows, args) + "\n")
    md_path.write_text(render(rows, args) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
