"""The one command that regenerates every published sslts number.

Trains each requested method on each dataset, evaluates it with the papers'
protocols (:mod:`sslts.evaluation`), runs the 1-NN baselines, and writes
``benchmark_suite.csv`` (one row per number), ``benchmark_suite.md`` (tables with the
papers' numbers side by side) and ``benchmark_suite.json`` (environment) into
``--out``.  ``python benchmarks/make_results_page.py`` turns them into
``docs/results.md``.

Usage::

    python -m benchmarks.run --methods ts2vec iars --datasets GunPoint ECG200 \
        --forecast ETTh1 --out benchmarks/results/
    python -m benchmarks.run --quick            # smoke run, a minute on a laptop
    python -m benchmarks.run --set selftime.n_epochs=50 ts2vec.n_iters=200

Methods are every estimator of ``sslts._registry.all_estimators()``, named by their
class name without ``Transformer`` in lower case.  On a CPU the per-method budgets of
``CPU_BUDGETS`` replace the papers' (``--budget paper`` keeps the defaults).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import sklearn
import torch

import sslts
from sslts import load_dataset
from sslts.evaluation import (
    CLASSIFICATION_PROTOCOLS,
    NearestNeighborBaseline,
    evaluate_anomaly_detection,
    evaluate_forecasting,
    load_ett,
    load_ucr_anomaly,
    ts2vec_normalise,
)
from sslts.utils.devices import resolve_device

from ._report import merge_previous, write_outputs
from .provenance import git_commit, shareable_command

# 13 UCR + 3 UEA sets of shared/data that every method trains on in minutes on a CPU.
DEFAULT_DATASETS = (
    "GunPoint ECG200 CBF Coffee ArrowHead ItalyPowerDemand SyntheticControl TwoLeadECG "
    "SonyAIBORobotSurface1 SonyAIBORobotSurface2 Chinatown ToeSegmentation1 UMD "
    "BasicMotions RacketSports FingerMovements"
).split()
QUICK_DATASETS = ["GunPoint", "BasicMotions"]
ANOMALY_SERIES = "UCR_Anomaly_135_InternalBleeding16"

# Reduced budgets so that the whole default run takes about 15-20 minutes on one CPU
# thread (the papers' budgets: TS2Vec 200 iterations, IARS 100 epochs, TimeDRL 10+
# epochs, SelfTime 400 epochs).
CPU_BUDGETS = {
    "ts2vec": {"n_iters": 50},
    "iars": {"n_iters": 50},
    "timedrl": {"n_epochs": 5},
    "selftime": {"n_epochs": 10, "n_views": 8},
}
# On top of CPU_BUDGETS for the long ETT/anomaly series (TS2Vec's temporal loss on
# 3000-step crops costs ~2 s per iteration on one CPU thread).
CPU_BUDGETS_LONG = {"ts2vec": {"n_iters": 20}, "iars": {"n_iters": 20}}
# Forecasting and anomaly detection fit on one long training series; these methods
# instead get it cut into windows as long as the causal inference windows (TS2Vec and
# IARS section long series themselves).
FIT_WINDOW = {"timedrl": 201, "selftime": 201}
QUICK_PARAMS = {
    "ts2vec": {"output_dims": 8, "hidden_dims": 8, "depth": 2, "n_iters": 5},
    "iars": {"output_dims": 8, "hidden_dims": 8, "depth": 2, "n_iters": 5},
    "timedrl": {"output_dims": 8, "n_heads": 2, "n_layers": 1, "n_iters": 5},
    "selftime": {"output_dims": 8, "n_views": 2, "n_iters": 5},
}
PROTOCOLS = ("svm", "knn", "logistic", "linear_svm")


def sslts_methods() -> dict[str, type]:
    """Every sslts estimator by its short name (``TS2VecTransformer`` -> ``"ts2vec"``)."""
    return {name.removesuffix("Transformer").lower(): getattr(sslts, name)
            for name in sslts.__all__
            if name.endswith("Transformer") and name != "BaseSSLTransformer"}


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    methods = sorted(sslts_methods())
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=methods, choices=methods)
    parser.add_argument("--datasets", nargs="*", default=None,
                        help="UCR/UEA names (default: 16 small shared sets)")
    parser.add_argument("--forecast", nargs="*", default=["ETTh1"], help="ETT datasets")
    parser.add_argument("--multivariate", action="store_true",
                        help="forecast all 7 ETT channels (default: OT only, univariate)")
    parser.add_argument("--horizons", nargs="*", type=int, default=None)
    parser.add_argument("--anomaly", action="store_true", help="also run the anomaly protocol")
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument("--baselines", nargs="*", default=["euclidean", "dtw_d", "dtw_i"],
                        choices=["euclidean", "dtw_d", "dtw_i"])
    parser.add_argument("--set", nargs="*", default=[], metavar="METHOD.PARAM=VALUE",
                        help="per-method parameter overrides, e.g. ts2vec.n_iters=200")
    parser.add_argument("--budget", choices=["auto", "cpu", "paper"], default="auto",
                        help="auto: CPU_BUDGETS on a CPU, the papers' budgets on a GPU")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--data-home", default=os.environ.get("SSLTS_DATA", "../shared/data"))
    parser.add_argument("--out", default="benchmarks/results/")
    parser.add_argument("--quick", action="store_true", help="tiny models, 2 datasets, H=24")
    parser.add_argument("--append", action="store_true",
                        help="merge into the results in --out, replacing the same jobs")
    args = parser.parse_args(argv)
    if args.datasets is None:
        args.datasets = QUICK_DATASETS if args.quick else DEFAULT_DATASETS
    if args.quick and args.horizons is None:
        args.horizons = [24]
    return args


def parse_overrides(items) -> dict[str, dict]:
    """``["ts2vec.n_iters=200"]`` -> ``{"ts2vec": {"n_iters": 200}}``."""
    out: dict[str, dict] = {}
    for item in items:
        key, _, raw = item.partition("=")
        method, _, param = key.partition(".")
        if not (method and param and raw):
            raise SystemExit(f"--set expects METHOD.PARAM=VALUE, got {item!r}")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw  # plain strings need no quotes
        out.setdefault(method, {})[param] = value
    return out


def method_params(name: str, args, overrides, *, long_series: bool = False) -> dict:
    """Constructor parameters of one method for this run.

    ``long_series`` selects the budgets of the forecasting and anomaly tasks.
    """
    params = {"device": args.device, "random_state": args.seed}
    if args.quick:
        params.update(QUICK_PARAMS.get(name, {"n_iters": 5}))
    elif _use_cpu_budget(args):
        params.update(CPU_BUDGETS.get(name, {}))
        if long_series:
            params.update(CPU_BUDGETS_LONG.get(name, {}))
    params.update(overrides.get(name, {}))
    return params


def _use_cpu_budget(args) -> bool:
    if args.budget != "auto":
        return args.budget == "cpu"
    return resolve_device(args.device).type == "cpu"


class PeakMemory:
    """Peak host RSS and CUDA memory of the code inside the ``with`` block.

    On Linux the kernel's RSS high-water mark is reset on entry (``clear_refs``), so
    the peak is that of the block (the RSS includes the interpreter and libraries);
    elsewhere it is the process's peak so far (``getrusage``).
    """

    def __enter__(self):
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc):
        self.rss_mb = _peak_rss_mb()
        self.cuda_mb = (
            torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
        )
        return False


def _peak_rss_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(task, method, dataset, setting, metric, value, **extra) -> dict:
    return {"task": task, "method": method, "dataset": dataset, "setting": setting,
            "metric": metric, "value": value, **extra}


def run_classification(name, cls, params, dataset, args) -> list[dict]:
    """Fit one method on one dataset and evaluate every probe (each timed)."""
    X_train, y_train, X_test, y_test = load_dataset(dataset, data_home=args.data_home)
    X_train, X_test = ts2vec_normalise(dataset, X_train, X_test)
    encoder = cls(**params)
    with PeakMemory() as mem:
        start = time.perf_counter()
        encoder.fit(X_train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        train_features = encoder.encode(X_train, level="instance")
        test_features = encoder.encode(X_test, level="instance")
        transform_seconds = time.perf_counter() - start
        scores = {}
        for protocol in args.protocols:
            start = time.perf_counter()
            clf = CLASSIFICATION_PROTOCOLS[protocol](train_features, y_train)
            accuracy = float(np.mean(clf.predict(test_features) == y_test))
            scores[protocol] = (accuracy, time.perf_counter() - start)
    cost = _cost(encoder, fit_seconds, transform_seconds, mem)
    return [
        _row("classification", name, dataset, protocol, "accuracy", acc,
             eval_seconds=seconds, **cost)
        for protocol, (acc, seconds) in scores.items()
    ]


def _cost(encoder, fit_seconds, transform_seconds, mem) -> dict:
    return {
        "fit_seconds": fit_seconds,
        "transform_seconds": transform_seconds,
        "peak_rss_mb": mem.rss_mb,
        "peak_cuda_mb": mem.cuda_mb,
        "device": str(encoder.device_),
        "n_iter": encoder.n_iter_,
        "params": json.dumps(_public_params(encoder), sort_keys=True),
    }


def _public_params(encoder) -> dict:
    return {k: v if isinstance(v, (int, float, str, bool, type(None))) else str(v)
            for k, v in encoder.get_params().items()}


def run_baselines(dataset, args) -> list[dict]:
    """1-NN baselines on the raw (TS2Vec-normalised) series."""
    X_train, y_train, X_test, y_test = load_dataset(dataset, data_home=args.data_home)
    X_train, X_test = ts2vec_normalise(dataset, X_train, X_test)
    rows = []
    for metric in args.baselines:
        if metric == "dtw_i" and X_train.shape[2] == 1:
            continue  # identical to DTW-D on one channel
        with PeakMemory() as mem:
            start = time.perf_counter()
            acc = NearestNeighborBaseline(metric=metric).fit(X_train, y_train).score(
                X_test, y_test)
            seconds = time.perf_counter() - start
        rows.append(_row("classification", f"1nn_{metric}", dataset, "1-NN", "accuracy",
                         float(acc), fit_seconds=0.0, transform_seconds=0.0,
                         eval_seconds=seconds, peak_rss_mb=mem.rss_mb, device="cpu"))
    return rows


def run_forecasting(name, cls, params, dataset, args) -> list[dict]:
    """TS2Vec's ETT protocol for one method."""
    data = load_ett(dataset, args.data_home, univariate=not args.multivariate)
    padding = 50 if args.quick else 200
    encoder = cls(**params)
    with PeakMemory() as mem:
        result = evaluate_forecasting(encoder, data, horizons=args.horizons, padding=padding,
                                      fit_window=FIT_WINDOW.get(name))
    setting = "multivariate" if args.multivariate else "univariate"
    cost = _cost(encoder, result["fit_seconds"], result["encode_seconds"], mem)
    return [
        _row("forecasting", name, dataset, f"{setting} H={h}", metric, res[metric],
             eval_seconds=res["ridge_seconds"], alpha=res["alpha"], **cost)
        for h, res in result["horizons"].items()
        for metric in ("mse", "mae")
    ]


def run_anomaly(name, cls, params, args) -> list[dict]:
    """TS2Vec's anomaly protocol on the shared UCR anomaly series."""
    series = load_ucr_anomaly(Path(args.data_home) / "anomaly" / ANOMALY_SERIES)
    encoder = cls(**params)
    with PeakMemory() as mem:
        res = evaluate_anomaly_detection(encoder, series, padding=50 if args.quick else 200,
                                         fit_window=FIT_WINDOW.get(name))
    cost = _cost(encoder, res["fit_seconds"], res["encode_seconds"], mem)
    return [_row("anomaly", name, ANOMALY_SERIES, "point-adjusted, delay 7", metric,
                 res[metric], **cost) for metric in ("f1", "precision", "recall")]


def environment(args, budgets) -> dict:
    """Versions, hardware, commit and settings recorded with the results."""
    device = resolve_device(args.device)
    return {
        "commit": git_commit(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": shareable_command("benchmarks.run", sys.argv[1:]),
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})"
                                 if device.type == "cuda" else ""),
        "cpu_threads": torch.get_num_threads(),
        "versions": {"sslts": sslts.__version__, "torch": torch.__version__,
                     "numpy": np.__version__, "scikit-learn": sklearn.__version__,
                     "python": platform.python_version()},
        "seed": args.seed,
        "budgets": budgets,
        "quick": args.quick,
    }


def _guarded(job, label: str, *job_args) -> list[dict]:
    """Run one job; a failure becomes an error row instead of ending the run."""
    start = time.perf_counter()
    try:
        rows = job(*job_args)
    except Exception as exc:  # report every failure, keep benchmarking the rest
        traceback.print_exc()
        task, method, dataset = label.split("|")
        rows = [_row(task, method, dataset, "", "error", None,
                     error=f"{type(exc).__name__}: {exc}"[:300])]
    print(f"{label:60s} {time.perf_counter() - start:7.1f} s", flush=True)
    return rows


def main(argv=None) -> int:
    """Run the suite; returns the exit code."""
    args = parse_args(argv)
    overrides = parse_overrides(args.set)
    table = sslts_methods()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    budgets = {m: method_params(m, args, overrides) for m in args.methods}
    long_budgets = {m: method_params(m, args, overrides, long_series=True)
                    for m in args.methods}
    meta = environment(args, {"classification": budgets, "forecasting/anomaly": long_budgets})
    print(json.dumps(meta, indent=1), flush=True)
    rows: list[dict] = []
    for dataset in args.datasets:
        rows += _guarded(run_baselines, f"classification|1nn|{dataset}", dataset, args)
        for m in args.methods:
            rows += _guarded(run_classification, f"classification|{m}|{dataset}",
                             m, table[m], budgets[m], dataset, args)
    for dataset in args.forecast:
        for m in args.methods:
            rows += _guarded(run_forecasting, f"forecasting|{m}|{dataset}",
                             m, table[m], long_budgets[m], dataset, args)
    if args.anomaly:
        for m in args.methods:
            rows += _guarded(run_anomaly, f"anomaly|{m}|{ANOMALY_SERIES}",
                             m, table[m], long_budgets[m], args)
    if args.append:
        rows, meta = merge_previous(rows, meta, Path(args.out))
    paths = write_outputs(rows, meta, Path(args.out), Path(__file__).parent / "reference")
    print("wrote", *map(str, paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
