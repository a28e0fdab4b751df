"""sslts against what practitioners already run, in one command per task.

Tasks (protocols in the docstrings of ``benchmarks/practice/``):

- ``classification``: sslts encoders (linear and RBF probes) against MiniRocket,
  MultiRocket, 1-NN-ED, 1-NN-DTW, catch22 + random forest and sslts + MiniRocket, at
  1, 5, 10, 20 and 100 % of the training labels, on the 16-dataset suite plus the
  other local UCR/UEA sets that fit ``--extra-hours``;
- ``forecasting``: ``EmbeddingForecaster`` against the last value, the seasonal naive
  forecast and a ridge on raw lags, on ETTh1/ETTh2/ETTm1/ETTm2;
- ``anomaly``: ``EmbeddingAnomalyDetector`` against the matrix profile and a moving
  z-score on the UCR anomaly series.

Every measured row is appended at once to ``<out>/vs_practice_<task>.csv`` with the
git commit; a rerun skips the rows already there (so a long run can be stopped and
resumed, or split into several commands), then ``vs_practice_<task>.md`` and its plots
are rewritten.  Usage::

    python -m benchmarks.vs_practice --task classification --plan
    python -m benchmarks.vs_practice --task classification --extra-hours 10
    python -m benchmarks.vs_practice --task forecasting --datasets ETTh1 --settings univariate
    python -m benchmarks.vs_practice --task forecasting \\
        --forecaster "forecaster" "short:encoder__n_iters=50,lags=24"
    python -m benchmarks.vs_practice --task anomaly --detector detector "raw:n_diffs=0"
    python -m benchmarks.vs_practice --task classification --quick --out /tmp/vsp  # smoke
    python -m benchmarks.vs_practice --task classification --report-only

``--n-iters N`` caps every encoder's training steps (smoke runs); it is recorded in
the ``params`` column of every row.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
from pathlib import Path

from benchmarks.practice import anomaly, classification, forecasting, report, suite
from benchmarks.practice.common import ResultStore, parse_params
from benchmarks.provenance import shareable_command
from benchmarks.run import QUICK_PARAMS
from benchmarks.seeds import methods, parse_arm

TASKS = ("classification", "forecasting", "anomaly")
DEFAULT_ENCODERS = ("ts2vec", "vibcreg", "iars")
QUICK_ENCODER = {"encoder__output_dims": 8, "encoder__hidden_dims": 8, "encoder__depth": 2,
                 "encoder__n_iters": 5}
QUICK_DATASETS = ["GunPoint", "BasicMotions"]
FORECASTER_ARMS = (
    "ts2vec_heads:baseline=None,lags=0,use_embedding=True",
    "validated_lags200:baseline=auto,lags=200,use_embedding=auto",
    "validated_lags336:baseline=auto,lags=336,use_embedding=auto",
    "lags_only:baseline=auto,lags=200,use_embedding=False",
)
"""The forecaster's head options side by side (one encoder per seed serves the first
three): TS2Vec's ridge on the embedding; the validated choice among the last value and
heads on the embedding and/or recent values, with the encoder's window (the default
padding, 200 steps) or DLinear's 336 steps of lags; and heads on the recent values
alone (the default), which fit no encoder and read no covariates."""


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.vs_practice", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=TASKS, required=True)
    p.add_argument("--data-home", default=os.environ.get("SSLTS_DATA", "../shared/data"))
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    p.add_argument("--tag", default=None, help="file suffix: vs_practice_<task>_<tag>.*")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--datasets", nargs="+", default=None,
                   help="classification: the 16-set suite; forecasting: the four ETT sets")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--n-iters", type=int, default=None, help="cap every encoder's steps")
    p.add_argument("--quick", action="store_true",
                   help="tiny encoders and data for a smoke run (tag 'quick')")
    p.add_argument("--report-only", action="store_true", help="render the CSV, fit nothing")
    c = p.add_argument_group("classification")
    c.add_argument("--extra-hours", type=float, default=0.0,
                   help="add other local datasets, cheapest first, within this CPU budget")
    c.add_argument("--plan", action="store_true", help="print datasets and estimates only")
    c.add_argument("--fractions", nargs="+", type=float, default=list(classification.FRACTIONS))
    c.add_argument("--encoders", nargs="+", default=list(DEFAULT_ENCODERS),
                   help="METHOD or LABEL=METHOD:PARAM=VALUE,... (sslts estimators)")
    c.add_argument("--concat-with", default="ts2vec",
                   help="encoder label whose embeddings join MiniRocket's ('' for none)")
    c.add_argument("--arms", nargs="+", default=None,
                   help="run only the arms matching these patterns (fnmatch)")
    f = p.add_argument_group("forecasting")
    f.add_argument("--settings", nargs="+", default=["univariate", "multivariate"],
                   choices=["univariate", "multivariate"])
    f.add_argument("--forecaster", nargs="*", default=list(FORECASTER_ARMS),
                   help="LABEL or LABEL:PARAM=VALUE,... EmbeddingForecaster arms "
                   "(none: the baselines only)")
    f.add_argument("--lags", type=int, default=336, help="look-back of the lag ridge")
    f.add_argument("--no-covariates", action="store_true",
                   help="do not give the forecaster the calendar covariates")
    a = p.add_argument_group("anomaly")
    a.add_argument("--detector", nargs="*",
                   default=["detector", "detector_diff1:n_diffs=1", "detector_raw:n_diffs=0"],
                   help="LABEL or LABEL:PARAM=VALUE,... EmbeddingAnomalyDetector arms "
                   "(none: the baselines only)")
    a.add_argument("--series", nargs="+", default=None, help="anomaly series folder names")
    args = p.parse_args(argv)
    if args.quick and args.tag is None:
        args.tag = "quick"
    return args


def labelled_params(items, extra: dict) -> dict:
    """``["a", "b:x=1"]`` -> ``{"a": {**extra}, "b": {**extra, "x": 1}}``."""
    out = {}
    for item in items:
        label, _, settings = item.partition(":")
        out[label] = {**extra, **parse_params(settings)}
    return out


def paths(args) -> tuple[Path, Path]:
    stem = f"vs_practice_{args.task}" + (f"_{args.tag}" if args.tag else "")
    return Path(args.out) / f"{stem}.csv", Path(args.out)


def classification_main(args, store, command) -> Path:
    specs = [parse_arm(e) for e in args.encoders]
    encoders = {}
    for label, method, params in specs:
        quick = QUICK_PARAMS.get(method, {"n_iters": 5}) if args.quick else {}
        cap = {"n_iters": args.n_iters, "n_epochs": None} if args.n_iters else {}
        encoders[label] = (methods()[method], {**quick, **cap, **params})
    arms = classification.build_arms(list(encoders), args.concat_with or None)
    if args.arms:
        arms = [a for a in arms if any(fnmatch.fnmatch(a.name, p) for p in args.arms)]
    datasets = args.datasets or (QUICK_DATASETS if args.quick else None)
    if datasets is None:
        plan = suite.choose_datasets(args.data_home, args.extra_hours, n_seeds=len(args.seeds),
                                     methods=[m for _, m, _ in specs],
                                     n_fractions=len(args.fractions))
    else:
        plan = [(d, None) for d in datasets]
    if args.plan:
        for name, seconds in plan:
            seconds = seconds if seconds is not None else suite.estimate_seconds(
                suite.dataset_shape(name, args.data_home), len(args.seeds),
                [m for _, m, _ in specs], len(args.fractions))
            print(f"{name:30s} {seconds / 3600:6.2f} h")
        print(f"{'total':30s} {sum(s or 0 for _, s in plan) / 3600:6.2f} h (estimate)")
        return None
    if not args.report_only:
        rocket = {"minirocket": {"n_kernels": 84}, "multirocket": {"n_kernels": 84}} \
            if args.quick else None
        classification.run_classification(store, [d for d, _ in plan], args.seeds,
                                          args.fractions, arms, encoders, args.data_home,
                                          rocket_params=rocket)
    return report.render_classification(store.rows, paths(args)[1], command, suite.SUITE,
                                        stem=paths(args)[0].stem)


def forecasting_main(args, store, command) -> Path:
    extra = dict(QUICK_ENCODER, padding=24) if args.quick else {}
    if args.n_iters:
        extra["encoder__n_iters"] = args.n_iters
    arms = labelled_params(args.forecaster, extra)
    prepare = (lambda ds: forecasting.shrink(ds, 600, 400, 400, (24, 48))) if args.quick \
        else None
    if not args.report_only:
        datasets = args.datasets or (["ETTh1"] if args.quick else
                                     ["ETTh1", "ETTh2", "ETTm1", "ETTm2"])
        forecasting.run_forecasting(store, datasets, args.settings, args.seeds, arms,
                                    args.data_home, lags=min(args.lags, 96) if args.quick
                                    else args.lags, covariates=not args.no_covariates,
                                    prepare=prepare)
    return report.render_forecasting(store.rows, paths(args)[1], command,
                                     stem=paths(args)[0].stem)


def anomaly_main(args, store, command) -> Path:
    extra = dict(QUICK_ENCODER, padding=50) if args.quick else {}
    if args.n_iters:
        extra["encoder__n_iters"] = args.n_iters
    if not args.report_only:
        anomaly.run_anomaly(store, args.data_home, args.seeds,
                            labelled_params(args.detector, extra), series=args.series)
    return report.render_anomaly(store.rows, paths(args)[1], command,
                                 stem=paths(args)[0].stem)


def main(argv=None) -> int:
    """Run one task; returns the exit code."""
    args = parse_args(argv)
    if args.quick:
        args.seeds = args.seeds[:1]
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    command = shareable_command("benchmarks.vs_practice",
                                sys.argv[1:] if argv is None else argv)
    module = {"classification": classification, "forecasting": forecasting,
              "anomaly": anomaly}[args.task]
    csv_path, _ = paths(args)
    store = ResultStore(csv_path, module.FIELDS, module.KEY)
    run = {"classification": classification_main, "forecasting": forecasting_main,
           "anomaly": anomaly_main}[args.task]
    written = run(args, store, command)
    if written is not None:
        print(f"wrote {written} ({len(store.rows)} rows in {csv_path})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
