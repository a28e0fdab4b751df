"""Estimators x datasets x seeds with ``benchmarks/run.py``'s protocols, mean ± std.

``benchmarks/run.py`` is one seed of everything; this runs the arms you name on the
datasets you name over several seeds, and writes ``seeds_<tag>.{csv,md}``: test
accuracy (%) per probe, mean ± std over seeds, the 1-NN-ED baseline, the mean over
the datasets, and fit times.  An arm is a method of ``benchmarks/run.py`` with its
defaults, optionally with parameters set, as ``LABEL=METHOD:PARAM=VALUE,...``::

    python -m benchmarks.seeds --arms timedrl "timedrl+stats=timedrl:append_stats=True" \\
        --seeds 0 1 2 --tag timedrl_suite
    python -m benchmarks.seeds --arms selftime ts2vec --datasets Chinatown \\
        SyntheticControl --tag selftime_short

The method ``timedrl_official`` is the official TimeDRL code from ``../shared/peers``
(:class:`benchmarks.official.OfficialTimeDRL`: its network and pretraining step, with
sslts's TimeDRL defaults where it has the option), so that the official code meets
the same probes, data and seeds::

    python -m benchmarks.seeds --arms timedrl official=timedrl_official --tag timedrl_official

Every arm trains with the estimator's own defaults (no CPU budget cut) unless its
parameters say otherwise.  Several parts of one run can run side by side, one per
core (``taskset``), and be combined with ``--merge``.
"""

from __future__ import annotations

import argparse
import ast
import csv
import platform
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from .official import OfficialTimeDRL
from .provenance import git_commit
from .run import DEFAULT_DATASETS, run_baselines, run_classification, sslts_methods

PROTOCOLS = ("svm", "knn", "linear_svm", "logistic")
FIELDS = ["part", "dataset", "method", "seed", "protocol", "accuracy", "fit_seconds",
          "transform_seconds", "n_iter", "n_train", "n_test", "length", "params"]
BASELINE = "1nn_euclidean"


def methods() -> dict[str, type]:
    """Arm methods: every sslts estimator by its short name, and the official TimeDRL."""
    return {**sslts_methods(), "timedrl_official": OfficialTimeDRL}


def parse_arm(text: str) -> tuple[str, str, dict]:
    """``"label=method:a=1,b=x"`` -> ``("label", "method", {"a": 1, "b": "x"})``."""
    head, _, settings = text.partition(":")
    label, named, method = head.partition("=")
    if not named:
        label, method = (head if not settings else text), head
    params = {}
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    if method not in methods():
        raise SystemExit(f"unknown method {method!r} in arm {text!r}; "
                         f"known: {sorted(methods())}")
    return label, method, params


def fit_rows(dataset: str, arm: tuple[str, str, dict], seed: int, data_home: str,
             part: str = "suite") -> list[dict]:
    """One fit evaluated with every probe of ``benchmarks/run.py``, as table rows."""
    label, method, params = arm
    run_args = SimpleNamespace(data_home=data_home, protocols=PROTOCOLS)
    params = {"device": "cpu", "random_state": seed, **params}
    out = run_classification(method, methods()[method], params, dataset, run_args)
    return [{"part": part, "dataset": dataset, "method": label, "seed": seed,
             "protocol": r["setting"], "accuracy": r["value"], "fit_seconds": r["fit_seconds"],
             "transform_seconds": r["transform_seconds"], "n_iter": r["n_iter"],
             "params": r["params"]} for r in out]


def baseline_rows(dataset: str, data_home: str, part: str = "suite") -> list[dict]:
    """1-NN with the Euclidean distance on the normalised series (deterministic)."""
    run_args = SimpleNamespace(data_home=data_home, baselines=["euclidean"])
    return [{"part": part, "dataset": dataset, "method": r["method"], "seed": 0,
             "protocol": "1-NN", "accuracy": r["value"]}
            for r in run_baselines(dataset, run_args)]


def cell(rows: list[dict], key: str = "accuracy", scale: float = 100, digits: int = 1) -> str:
    """``"mean ± std"`` of ``key`` over ``rows`` (one value: itself; none: "–")."""
    values = scale * np.array([r[key] for r in rows], dtype=float)
    if not len(values):
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def select(rows, **where) -> list[dict]:
    """The rows whose fields equal ``where``."""
    return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


def accuracy_table(rows, part, protocol, methods, datasets, labels=None,
                   extra=None) -> list[str]:
    """Markdown rows: a dataset per row, a method (then ``extra`` columns) per column.

    ``extra`` maps a column name to a function of the dataset giving its cell; the
    last row is the mean over the datasets of every column.
    """
    labels, extra = labels or {}, extra or {}
    header = ["dataset"] + [labels.get(m, m) for m in methods] + list(extra)
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    means = {m: [] for m in methods}
    for d in datasets:
        cells = [d]
        for m in methods:
            sub = select(rows, part=part, dataset=d, method=m, protocol=protocol)
            cells.append(cell(sub))
            if sub:
                means[m].append(100 * np.mean([r["accuracy"] for r in sub]))
        extras = [f(d) for f in extra.values()]
        for name, value in zip(extra, extras):
            if value != "–":  # a reference column's mean over the datasets it covers
                means.setdefault(name, []).append(float(value.split(" ")[0]))
        lines.append("| " + " | ".join(cells + extras) + " |")
    mean_cells = [f"**{np.mean(v):.1f}**" if v else "–" for v in means.values()]
    lines.append("| **mean** | " + " | ".join(mean_cells) + " |")
    return lines + [""]


def fit_time_table(rows, part, methods, datasets, labels=None) -> list[str]:
    """Markdown rows of fit seconds (mean ± std over seeds) and optimiser steps."""
    labels = labels or {}
    header = ["dataset"] + [labels.get(m, m) for m in methods]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for d in datasets:
        cells = [d]
        for m in methods:
            sub = select(rows, part=part, dataset=d, method=m)
            sub = list({r["seed"]: r for r in sub}.values())  # one row per fit
            steps = f" ({sub[0]['n_iter']} steps)" if sub else ""
            cells.append(cell(sub, "fit_seconds", 1, 1) + steps)
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def read_rows(paths: list[str]) -> list[dict]:
    """The rows of earlier runs' CSVs, typed; rows repeated across parts kept once."""
    typed = {"seed": int, "n_iter": int, "n_train": int, "n_test": int, "length": int,
             "accuracy": float, "fit_seconds": float, "transform_seconds": float}
    rows, seen = [], set()
    for path in paths:
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                # Every part records the 1-NN baselines of its datasets: keep them once.
                key = tuple(row.get(k) for k in ("part", "dataset", "method", "seed",
                                                 "protocol"))
                if key not in seen:
                    seen.add(key)
                    rows.append({k: typed.get(k, str)(v) for k, v in row.items() if v != ""})
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def recorder(rows: list[dict], csv_path: Path, md_path: Path, render_md):
    """``record(new_rows, label)``: add rows, print progress, rewrite both result files.

    The files are rewritten after every fit, so that an interrupted run keeps what
    it measured; ``render_md(rows, elapsed_seconds)`` gives the markdown.
    """
    started = time.perf_counter()

    def record(new_rows: list[dict], label: str) -> None:
        rows.extend(new_rows)
        elapsed = time.perf_counter() - started
        print(f"{label:60s} {elapsed:8.1f} s", flush=True)
        write_csv(rows, csv_path)
        md_path.write_text(render_md(rows, elapsed) + "\n")

    return record


def append_rows(path: Path, rows: list[dict], fields: list[str]) -> None:
    """Append ``rows`` to the CSV at ``path`` (columns ``fields``), writing the header
    when the file is new: benchmarks resume by skipping the rows already there."""
    new = not Path(path).exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fields, extrasaction="ignore", lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerows(rows)


def render(rows: list[dict], args, elapsed: float) -> str:
    arms = [a[0] for a in args.arm_specs if select(rows, method=a[0])]
    datasets = [d for d in args.datasets if select(rows, dataset=d)]
    settings = "; ".join(f"`{label}` = {method} "
                         + (", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults")
                         for label, method, params in args.arm_specs)
    lines = [f"# {args.title}", "",
             f"commit {git_commit()}, torch {torch.__version__}, cpu, "
             f"{torch.get_num_threads()} thread(s), {platform.machine()}; seeds {args.seeds}; "
             + (f"merged from {len(args.merge)} parts run side by side, each pinned to its "
                "own core (`taskset`)" if args.merge else f"wall time {elapsed / 60:.1f} min")
             + ". Generated by `python -m benchmarks.seeds`.", "",
             f"Arms: {settings}. Data normalised as TS2Vec's protocol; probes of "
             "`sslts.evaluation`. Test accuracy (%), mean ± std over seeds; 1-NN-ED is "
             "deterministic.", ""]
    lines += ["## RBF SVM (TS2Vec's protocol)", ""]
    lines += accuracy_table(rows, "suite", "svm", arms, datasets, extra={
        "1-NN-ED": lambda d: cell(select(rows, dataset=d, method=BASELINE))})
    for protocol in PROTOCOLS[1:]:
        lines += [f"## {protocol} probe", ""]
        lines += accuracy_table(rows, "suite", protocol, arms, datasets)
    lines += ["## Fit seconds (mean ± std over seeds; optimiser steps)", ""]
    lines += fit_time_table(rows, "suite", arms, datasets)
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.seeds",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="+", required=True,
                        help="METHOD or LABEL=METHOD:PARAM=VALUE,... (see the docstring)")
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tag", required=True, help="results go to seeds_<tag>.{csv,md}")
    parser.add_argument("--title", default="Estimators over seeds")
    parser.add_argument("--data-home", default=str(Path(__file__).parents[2] / "shared/data"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--merge", nargs="+", metavar="CSV", default=None,
                        help="fit nothing: render the rows of these CSVs into --out")
    args = parser.parse_args(argv)
    args.arm_specs = [parse_arm(a) for a in args.arms]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = read_rows(args.merge) if args.merge else []
    record = recorder(rows, out / f"seeds_{args.tag}.csv", out / f"seeds_{args.tag}.md",
                      lambda rows, elapsed: render(rows, args, elapsed))

    if args.merge:
        record([], "merged " + ", ".join(args.merge))
        return 0
    for dataset in args.datasets:
        record(baseline_rows(dataset, args.data_home), f"{dataset} 1-NN-ED")
        for arm in args.arm_specs:
            for seed in args.seeds:
                record(fit_rows(dataset, arm, seed, args.data_home),
                       f"{dataset} {arm[0]} seed {seed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
