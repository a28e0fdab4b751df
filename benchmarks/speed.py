"""Speed and memory of sslts against a path with the official TS2Vec's costs.

Everything is measured in one run on one machine, side by side:

1. ``loss``: TS2Vec's hierarchical loss, forward + backward, B=8, D=320, at crop
   lengths 1000 and 3000 -- sslts (one chunk or row chunks of 256) vs the official
   tril/triu construction (``_reference_ts2vec.reference_hierarchical_loss``).
2. ``fit``: a whole TS2Vec fit, fast vs reference path, and the test accuracy of
   both with the SVM protocol: GunPoint and ECG200 (short series, default 200
   iterations, 2 seeds) and Mallat (1,024 steps, 100 iterations); the other sslts
   methods with a short budget (fast path only, no reference exists).
3. ``transform``: series per second, fast (automatic batch) vs reference (batch 8).
4. ``length`` / ``n_series``: fit time as the series length (100 -> 3000, windows of
   ETTh1, 6 steps) and the number of series (ECG5000, one epoch) grow.
5. ``stream``: peak resident memory of ``transform`` on 10,000 and 100,000 series of
   1,000 steps (tiny model, fresh process each), input and output excluded.

Usage (nothing else may run on the machine)::

    python -m benchmarks.speed --data-home DATA_HOME
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sslts import TS2VecTransformer, all_estimators, load_dataset
from sslts.evaluation import fit_svm, ts2vec_normalise
from sslts.losses import hierarchical_contrastive_loss

from ._reference_ts2vec import (
    ReferenceTS2Vec,
    _check_reference_matches_formula,
    reference_hierarchical_loss,
)
from .provenance import git_commit

SEED = 0


def peak_rss_reset() -> None:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process."""
    Path("/proc/self/clear_refs").write_text("5")


def rss_mb(field: str = "VmHWM") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def measure(fn, repeats: int = 1) -> tuple[float, float]:
    """(best seconds of ``repeats`` calls, peak RSS above the start in MB)."""
    base = rss_mb("VmRSS")
    peak_rss_reset()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), rss_mb() - base


def bench_loss(rows: list, lengths=(1000, 3000)) -> None:
    gen = torch.Generator().manual_seed(SEED)
    for T in lengths:
        z1, z2 = (0.1 * torch.randn(8, T, 320, generator=gen) for _ in range(2))
        z1.requires_grad_(), z2.requires_grad_()
        paths = {
            "sslts": partial(hierarchical_contrastive_loss, z1, z2),
            "sslts chunk=256": partial(hierarchical_contrastive_loss, z1, z2, chunk_size=256),
            "reference": partial(reference_hierarchical_loss, z1, z2),
        }
        for name, loss_fn in paths.items():
            if T <= 1000:
                loss_fn().backward()  # warm-up; the long case is timed once
            seconds, mem = measure(lambda f=loss_fn: f().backward(), repeats=3 if T <= 1000 else 1)
            rows.append(dict(section="loss", case=f"T={T}", path=name, seconds=seconds,
                             peak_mb=mem))
            print(rows[-1], flush=True)


def _svm_accuracy(enc, X_train, y_train, X_test, y_test) -> float:
    clf = fit_svm(enc.transform(X_train), y_train)
    return float(np.mean(clf.predict(enc.transform(X_test)) == y_test))


# (dataset, iteration budget or None for TS2Vec's default rule, seeds)
FIT_CASES = (("GunPoint", None, (0, 1)), ("ECG200", None, (0, 1)), ("Mallat", 100, (0,)))


def bench_fit(rows: list, data: Path, cases=FIT_CASES) -> None:
    for name, n_iters, seeds in cases:
        X_train, y_train, X_test, y_test = load_dataset(name, data_home=data)
        X_train, X_test = ts2vec_normalise(name, X_train, X_test)
        budget = "" if n_iters is None else f" n_iters={n_iters}"
        for seed in seeds:
            for path, cls in (("sslts", TS2VecTransformer), ("reference", ReferenceTS2Vec)):
                enc = cls(random_state=seed, device="cpu", n_iters=n_iters)
                seconds, mem = measure(partial(enc.fit, X_train))
                acc = _svm_accuracy(enc, X_train, y_train, X_test, y_test)
                rows.append(dict(section="fit", case=f"{name} seed={seed}{budget}", path=path,
                                 seconds=seconds, peak_mb=mem, accuracy=acc))
                print(rows[-1], flush=True)


def bench_other_methods(rows: list, data: Path, n_iters: int = 20) -> None:
    X_train, y_train, X_test, y_test = load_dataset("GunPoint", data_home=data)
    for cls in all_estimators(type_filter="transformer"):  # the ones with embeddings to probe
        if cls in (TS2VecTransformer, ReferenceTS2Vec):
            continue
        enc = cls(n_iters=n_iters, random_state=SEED, device="cpu")
        try:
            seconds, mem = measure(lambda e=enc: e.fit(X_train))
        except Exception as exc:  # a method under development must not stop the run
            print(f"{cls.__name__} failed: {exc!r}", flush=True)
            continue
        rows.append(dict(section="fit", case=f"GunPoint n_iters={n_iters}",
                         path=f"{cls.__name__} (sslts)", seconds=seconds, peak_mb=mem,
                         accuracy=_svm_accuracy(enc, X_train, y_train, X_test, y_test)))
        print(rows[-1], flush=True)


def bench_transform(rows: list, data: Path) -> None:
    X_train, _, X_test, _ = load_dataset("GunPoint", data_home=data)
    X = np.tile(X_test, (10, 1, 1))  # 1500 series of 150 steps
    for path, cls in (("sslts", TS2VecTransformer), ("reference", ReferenceTS2Vec)):
        enc = cls(n_iters=1, random_state=SEED, device="cpu").fit(X_train)
        enc.transform(X[:64])  # warm-up
        seconds, mem = measure(lambda e=enc: e.transform(X), repeats=2)
        rows.append(dict(section="transform", case=f"GunPoint test x10 {X.shape}", path=path,
                         seconds=seconds, peak_mb=mem, series_per_s=len(X) / seconds))
        print(rows[-1], flush=True)


def _ett_windows(data: Path, length: int, n: int) -> np.ndarray:
    """``n`` consecutive univariate windows of ETTh1 (its 7 channels laid end to end)."""
    values = pd.read_csv(data / "forecast" / "ETTh1.csv").iloc[:, 1:].to_numpy(np.float32)
    flat = (values - values.mean(0)) / values.std(0)
    flat = flat.T.reshape(-1)
    return flat[: n * length].reshape(n, length)


def bench_scaling(rows: list, data: Path, lengths=(100, 300, 1000, 3000),
                  sizes=(250, 1000, 2000)) -> None:
    paths = (("sslts", TS2VecTransformer), ("reference", ReferenceTS2Vec))
    for T in lengths:
        X = _ett_windows(data, T, 16)
        for path, cls in paths:
            enc = cls(n_iters=6, random_state=SEED, device="cpu")
            seconds, mem = measure(lambda e=enc, X=X: e.fit(X))
            rows.append(dict(section="length", case=f"T={T} n=16 6 iters", path=path,
                             seconds=seconds, peak_mb=mem))
            print(rows[-1], flush=True)
    X_a, _, X_b, _ = load_dataset("ECG5000", data_home=data)
    X_all = np.concatenate([X_a, X_b])
    for n in sizes:
        for path, cls in paths:
            enc = cls(n_epochs=1, random_state=SEED, device="cpu")
            seconds, mem = measure(lambda e=enc, n=n: e.fit(X_all[:n]))
            rows.append(dict(section="n_series", case=f"ECG5000 n={n} T=140 1 epoch",
                             path=path, seconds=seconds, peak_mb=mem))
            print(rows[-1], flush=True)


def stream_child(n: int, data: Path) -> None:
    """Run in a fresh process: peak RSS of transform on n x 1000, minus input/output."""
    X_fit = _ett_windows(data, 1000, 16)
    enc = TS2VecTransformer(output_dims=8, hidden_dims=8, depth=1, n_iters=2,
                            random_state=SEED, device="cpu").fit(X_fit)
    rng = np.random.default_rng(SEED)
    X = np.tile(X_fit, (n // 16 + 1, 1))[:n] + rng.normal(scale=0.01, size=(1, 1000))
    X = X.astype(np.float32)
    seconds, above = measure(lambda: enc.transform(X))
    out_mb = n * 8 * 4 / 2**20
    print(json.dumps(dict(section="stream", case=f"n={n} T=1000", path="sslts",
                          seconds=seconds, input_mb=X.nbytes / 2**20, output_mb=out_mb,
                          peak_mb=above - out_mb, series_per_s=n / seconds)))


def bench_stream(rows: list, data: Path, sizes=(10_000, 100_000)) -> None:
    for n in sizes:
        out = subprocess.run([sys.executable, "-m", "benchmarks.speed", "--stream-child", str(n),
                              "--data-home", str(data)],
                             capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[1])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    return "" if pd.isna(value) else f"{value:.3g}"


def header() -> list[str]:
    return [
        f"commit {git_commit()}, torch {torch.__version__}, device cpu "
        f"({platform.processor() or platform.machine()}), {torch.get_num_threads()} threads, "
        f"seed {SEED}; nothing else ran on the machine during the measurements.",
        "",
        "`seconds`: best of 3 calls for `loss` (T=1000) and `transform`, one call otherwise. "
        "`speed-up vs reference`: reference seconds / this row's seconds, same case. "
        "`peak_mb`: growth of the process's peak resident memory (VmHWM, reset before each "
        "measurement) over its resident memory at the start; memory the allocator kept "
        "from an earlier measurement is not counted again, so it is meaningful for the large "
        "loss matrices and for `stream` (a fresh process per size), and near 0 for small "
        "fits. `stream`: input and output arrays excluded (they are n-proportional by "
        "nature); the rest is `transform`'s working memory.",
        "",
    ]


def ratio_table(rows: list, section: str) -> list[str]:
    """One row per (case, path) with a speed-up column: reference / this path."""
    df = pd.DataFrame([r for r in rows if r["section"] == section])
    if df.empty:
        return []
    ref = df[df["path"] == "reference"].set_index("case")["seconds"]
    df["speed-up vs reference"] = df["case"].map(ref) / df["seconds"]
    keep = ["case", "path", "seconds", "speed-up vs reference", "peak_mb", "accuracy",
            "series_per_s", "input_mb", "output_mb"]
    df = df[[c for c in keep if c in df]].dropna(axis=1, how="all")
    if "peak_mb" in df:
        df["peak_mb"] = df["peak_mb"].clip(lower=0)
    return [f"### {section}", ""] + markdown(df.set_index("case")) + [""]


def markdown(df: pd.DataFrame) -> list[str]:
    """A DataFrame as markdown table lines, numbers to 3 significant digits."""
    cells = [[str(i)] + [_fmt(v) for v in row]
             for i, row in zip(df.index, df.to_numpy())]
    head = [df.index.name or ""] + [str(c) for c in df.columns]
    return ["| " + " | ".join(r) + " |" for r in [head, ["---"] * len(head)] + cells]


def write_results(rows: list, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "speed.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# sslts speed benchmark (`benchmarks/speed.py`)", ""] + header()
    for section in ("loss", "fit", "transform", "length", "n_series", "stream"):
        lines += ratio_table(rows, section)
    (out / "speed.md").write_text("\n".join(lines))


def _previous_rows(out: Path) -> list[dict]:
    """Rows of an earlier run, so that re-running some sections keeps the others."""
    if not (out / "speed.csv").exists():
        return []
    df = pd.read_csv(out / "speed.csv")
    return [{k: v for k, v in r.items() if pd.notna(v)} for r in df.to_dict("records")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--data-home", default=str(Path(__file__).resolve().parents[2] / "shared"
                                                   / "data"),
                        help="folder with ucr/, uea/ and forecast/ETTh1.csv")
    parser.add_argument("--sections", nargs="+",
                        default=["loss", "fit", "transform", "scaling", "stream"])
    parser.add_argument("--stream-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_child:
        return stream_child(args.stream_child, Path(args.data_home))
    _check_reference_matches_formula()
    produces = {"scaling": ("length", "n_series")}
    redone = {name for s in args.sections for name in produces.get(s, (s,))}
    rows = [r for r in _previous_rows(Path(args.out)) if r["section"] not in redone]
    data = Path(args.data_home)
    benches = {"loss": [bench_loss],
               "fit": [partial(bench_fit, data=data), partial(bench_other_methods, data=data)],
               "transform": [partial(bench_transform, data=data)],
               "scaling": [partial(bench_scaling, data=data)],
               "stream": [partial(bench_stream, data=data)]}
    for section in args.sections:
        for bench in benches[section]:
            bench(rows)
            write_results(rows, Path(args.out))


if __name__ == "__main__":
    main()
