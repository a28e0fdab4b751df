"""sslts against the official TS2Vec, TimeDRL and SelfTime code: one run, same data and budget.

For every (method, dataset, seed) the official code (imported from
``../shared/peers``, see ``benchmarks/official.py``) and the sslts estimator train on
the same normalised training split with the same budget and batch size, one after
the other (the order alternates with the seed), each in a fresh process so that
memory, allocator and kernel-cache state start equal.  Measured per run:

- ``fit_s`` / ``fit_cpu_s``: wall-clock and CPU seconds of training (CPU time is not
  inflated by other processes sharing the cores; with several threads it also
  counts their spin-waiting), after torch's one-time import of ``torch._dynamo``
  (triggered by the first optimiser a process builds, ~2 s);
- ``transform_s``: seconds to embed the training and test splits;
- ``peak_mb``: growth of the process's peak resident memory (``VmHWM``, reset just
  before ``fit``) over its resident memory at that moment, during fit + transform;
- ``score``: the paper's protocol on the embeddings, the same code for both:
  TS2Vec -- RBF SVM (``sslts.evaluation.fit_svm``) accuracy; TimeDRL and SelfTime --
  linear probe (standardised features, logistic regression) accuracy; ETTh1
  (TimeDRL) -- test MSE of a ridge forecaster of the next 24 steps from the [CLS]
  embedding of the 96-step window (lower is better).

Usage (2 shared cores: take the lock; the full run takes hours, ``--quick`` a minute)::

    python -m benchmarks.vs_official --quick
    python -m benchmarks.vs_official --seeds 3
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sslts import SelfTimeTransformer, TimeDRLTransformer, TS2VecTransformer, load_dataset
from sslts.evaluation import fit_svm, ts2vec_normalise

from .official import PEERS, selftime_run, timedrl_run, ts2vec_run
from .provenance import git_commit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = {
    "ts2vec": ["GunPoint", "ECG200", "Car", "Mallat", "NATOPS"],
    "timedrl": ["GunPoint", "ECG200", "Car", "Mallat", "NATOPS", "ETTh1"],
    "selftime": ["GunPoint", "ECG200", "Car", "Mallat"],  # its official backbone is 1-channel
}
# Budgets: the papers' defaults where a CPU run allows them (stated in the output).
BUDGET = {"ts2vec": dict(n_iters=200, batch_size=8),
          "timedrl": dict(n_epochs=10, batch_size=32),
          "selftime": dict(n_epochs=100, batch_size=128, n_views=16)}
QUICK_BUDGET = {"ts2vec": dict(n_iters=10, batch_size=8),
                "timedrl": dict(n_epochs=1, batch_size=32),
                "selftime": dict(n_epochs=2, batch_size=128, n_views=4)}
ETT_LOOKBACK, ETT_HORIZON, ETT_STRIDE = 96, 24, 24


# ------------------------------------------------------------------ data
def load(name: str) -> tuple[np.ndarray, ...]:
    """(X_train, y_train, X_test, y_test), float32, TS2Vec's normalisation.

    ETTh1: windows of 96 steps (stride 24) of the standardised 7 channels; ``y`` holds
    the next 24 steps of every channel, flattened (train = first 12 months, test =
    the last 4, TS2Vec's split).
    """
    if name == "ETTh1":
        return _ett_windows()
    X_train, y_train, X_test, y_test = load_dataset(name, data_home=DATA)
    X_train, X_test = ts2vec_normalise(name, X_train, X_test)
    return X_train.astype(np.float32), y_train, X_test.astype(np.float32), y_test


def _ett_windows():
    values = pd.read_csv(DATA / "forecast" / "ETTh1.csv").drop(columns="date").to_numpy()
    values = values[:14400]
    train = values[:8640]
    values = ((values - train.mean(0)) / train.std(0)).astype(np.float32)

    def windows(lo, hi):
        starts = np.arange(lo, hi - ETT_LOOKBACK - ETT_HORIZON + 1, ETT_STRIDE)
        X = np.stack([values[s : s + ETT_LOOKBACK] for s in starts])
        Y = np.stack([values[s + ETT_LOOKBACK : s + ETT_LOOKBACK + ETT_HORIZON] for s in starts])
        return X, Y.reshape(len(starts), -1)

    (X_tr, Y_tr), (X_te, Y_te) = windows(0, 8640), windows(11520 - ETT_LOOKBACK, 14400)
    return X_tr, Y_tr, X_te, Y_te


def timedrl_patches(T: int) -> tuple[int, int]:
    """``patch_len = min(16, max(2, T // 8))`` and half of it as stride."""
    patch_len = min(16, max(2, T // 8))
    return patch_len, max(1, patch_len // 2)


# ------------------------------------------------------------------ the two codes
def make_run(method: str, code: str, X: np.ndarray, seed: int, budget: dict, workdir: str):
    """``(fit, encode)`` closures for one code of one method on training data ``X``."""
    if method == "ts2vec":
        if code == "official":
            return ts2vec_run(X, seed=seed, device="cpu", **budget)
        enc = TS2VecTransformer(random_state=seed, device="cpu", **budget)
        return (lambda: enc.fit(X)), enc.transform
    if method == "timedrl":
        patch_len, stride = timedrl_patches(X.shape[1])
        arch = dict(n_heads=4, n_layers=2, patch_len=patch_len, stride=stride, dropout=0.1,
                    lr=1e-3, weight_decay=1e-3, lambda_=0.1)
        if code == "official":
            return timedrl_run(X, seed=seed, device="cpu", d_model=64, **arch, **budget)
        # The official run's token embedding and epochs of one pass each, where this
        # sslts version names them.
        same_embedding = {k: v for k, v in dict(token_embedding="conv", token_kernel_size=3,
                                                positional_encoding="fixed",
                                                min_epoch_steps=1).items()
                          if k in TimeDRLTransformer().get_params()}
        enc = TimeDRLTransformer(output_dims=64, channel_independent=False,
                                 lr_schedule="type1", drop_last=False, random_state=seed,
                                 device="cpu",
                                 **same_embedding, **arch, **budget)
        return (lambda: enc.fit(X)), enc.transform
    if code == "official":
        return selftime_run(X, seed=seed, piece_size=0.2, lr=0.01, workdir=workdir, **budget)
    enc = SelfTimeTransformer(piece_size=0.2, n_temporal_classes=3, lr=0.01, random_state=seed,
                              device="cpu", **budget)
    return (lambda: enc.fit(X)), enc.transform


def score(method: str, dataset: str, F_train, y_train, F_test, y_test) -> float:
    """The paper's protocol on the embeddings (same for both codes)."""
    if dataset == "ETTh1":
        ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13)))
        return float(np.mean((ridge.fit(F_train, y_train).predict(F_test) - y_test) ** 2))
    if method == "ts2vec":
        return float(np.mean(fit_svm(F_train, y_train).predict(F_test) == y_test))
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(np.mean(probe.fit(F_train, y_train).predict(F_test) == y_test))


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) / 1024
    return float("nan")


def run_child(method: str, code: str, dataset: str, seed: int, budget: dict) -> dict:
    """One measurement, in this (fresh) process."""
    X_train, y_train, X_test, y_test = load(dataset)
    # torch imports torch._dynamo when a process builds its first optimiser (~2 s here),
    # a one-time cost of the process that either code would otherwise pay inside fit.
    torch.optim.AdamW(torch.nn.Linear(1, 1).parameters())
    with tempfile.TemporaryDirectory() as workdir:
        fit, encode = make_run(method, code, X_train, seed, budget, workdir)
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
        before = _rss_mb("VmRSS")
        wall, cpu = time.perf_counter(), time.process_time()
        fit()
        fit_s, fit_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        start = time.perf_counter()
        F_train, F_test = encode(X_train), encode(X_test)
        transform_s = time.perf_counter() - start
        peak_mb = _rss_mb("VmHWM") - before
    return dict(method=method, dataset=dataset, seed=seed, code=code, fit_s=fit_s,
                fit_cpu_s=fit_cpu_s, transform_s=transform_s, peak_mb=peak_mb,
                score=score(method, dataset, F_train, y_train, F_test, y_test),
                n_train=len(X_train), T=X_train.shape[1], C=X_train.shape[2])


def run_in_child(method, code, dataset, seed, budget) -> dict:
    spec = json.dumps(dict(method=method, code=code, dataset=dataset, seed=seed, budget=budget))
    out = subprocess.run([sys.executable, "-m", "benchmarks.vs_official", "--child", spec],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or ["?"]
        return dict(method=method, dataset=dataset, seed=seed, code=code, error=tail[0])
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ report
def summary(rows: list[dict]) -> pd.DataFrame:
    """Mean over seeds per (method, dataset, code), with the official/sslts ratios."""
    df = pd.DataFrame([r for r in rows if "error" not in r])
    if df.empty:
        return df
    cols = ["fit_s", "fit_cpu_s", "transform_s", "peak_mb", "score"]
    mean = df.groupby(["method", "dataset", "code"])[cols].mean().unstack("code")
    out = pd.DataFrame(index=mean.index)
    for col in cols:
        for code in ("official", "sslts"):
            if (col, code) in mean:
                out[f"{col} {code}"] = mean[(col, code)]
    for col in ("fit_s", "fit_cpu_s", "transform_s"):
        if f"{col} official" in out and f"{col} sslts" in out:
            out[f"{col} speed-up"] = out[f"{col} official"] / out[f"{col} sslts"]
    out["seeds"] = df.groupby(["method", "dataset"])["seed"].nunique()
    return out


def paired_differences(rows: list[dict]) -> list[str]:
    """Report lines: per method, the mean paired score difference sslts - official.

    Pairs are (dataset, seed) runs where both codes finished; the standard error is
    that of the mean of the paired differences.
    """
    df = pd.DataFrame([r for r in rows if "error" not in r])
    if df.empty:
        return []
    lines = ["", "Paired score difference sslts - official over (dataset, seed) pairs "
             "(mean, standard error of the mean, pairs; for MSE lower is better):", ""]
    for method, part in df.groupby("method"):
        wide = part.pivot_table(index=["dataset", "seed"], columns="code", values="score")
        if not {"official", "sslts"} <= set(wide.columns):
            continue
        diff = (wide["sslts"] - wide["official"]).dropna()
        for dataset, d in [("all but ETTh1", diff.drop("ETTh1", level=0, errors="ignore"))] + [
                (name, diff.xs(name, level=0)) for name in diff.index.unique(0)]:
            if len(d):
                se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
                lines.append(f"- {method} {dataset}: {d.mean():+.4f} (SE {se:.4f}, {len(d)})")
    return lines


def write_results(rows: list[dict], out: Path, args) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "vs_official.csv", index=False)
    commit = git_commit()
    budgets = QUICK_BUDGET if args.quick else BUDGET
    run = (f"merged from {len(args.merge)} runs by commit {commit}" if args.merge else
           f"commit {commit}, {torch.get_num_threads()} threads")
    lines = [
        "# sslts vs the official implementations (`benchmarks/vs_official.py`)", "",
        f"{run}, torch {torch.__version__}, cpu ({platform.machine()}), seeds "
        f"{sorted({int(r['seed']) for r in rows})}{' (--quick)' if args.quick else ''}. "
        "Budgets: " + "; ".join(f"{m} {b}" for m, b in budgets.items()) + ".", "",
        *([args.note, ""] if args.note else []),
        "Each run in a fresh process, the two codes one after the other (alternating order). "
        "`speed-up` = official / sslts (mean over seeds). `peak_mb`: peak resident memory "
        "(VmHWM) growth during fit + transform. `score`: SVM accuracy (TS2Vec), "
        "linear-probe accuracy (TimeDRL, SelfTime), test MSE of a 24-step ridge forecast "
        "(ETTh1, lower is better).", "",
    ]
    table = summary(rows)
    if not table.empty:
        head = ["method", "dataset"] + list(table.columns)
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for (method, dataset), r in table.iterrows():
            cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in r]
            lines.append(f"| {method} | {dataset} | " + " | ".join(cells) + " |")
    lines += paired_differences(rows)
    errors = [r for r in rows if "error" in r]
    if errors:
        lines += ["", "Failed runs:"] + [f"- {r['method']} {r['dataset']} seed {r['seed']} "
                                         f"{r['code']}: {r['error']}" for r in errors]
    (out / "vs_official.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds are first-seed, first-seed + 1, ... (to split a run)")
    parser.add_argument("--methods", nargs="+", default=list(DATASETS))
    parser.add_argument("--datasets", nargs="+", default=None,
                        help="datasets instead of the method's list (any shared UCR/UEA name)")
    parser.add_argument("--quick", action="store_true",
                        help="GunPoint, one seed, tiny budgets: an end-to-end smoke run")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--merge", nargs="+", metavar="CSV",
                        help="write the report from the vs_official.csv files of runs split "
                             "over cores (e.g. one per method, each with its own --out)")
    parser.add_argument("--note", help="a paragraph for the report (how the runs were made)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.merge:
        rows = pd.concat([pd.read_csv(f) for f in args.merge]).to_dict("records")
        write_results([{k: v for k, v in r.items() if not pd.isna(v)} for r in rows],
                      Path(args.out), args)
        return
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(run_child(spec["method"], spec["code"], spec["dataset"], spec["seed"],
                                   spec["budget"])))
        return
    if not PEERS.is_dir():
        print(f"{PEERS} is absent: no official code to compare against; nothing to do.")
        return
    budgets = QUICK_BUDGET if args.quick else BUDGET
    seeds = range(args.first_seed, args.first_seed + (1 if args.quick else args.seeds))
    rows = []
    for method in args.methods:
        if not (PEERS / method).is_dir():
            print(f"skipping {method}: {PEERS / method} is absent")
            continue
        names = ["GunPoint"] if args.quick else args.datasets or DATASETS[method]
        for dataset in names:
            for seed in seeds:
                order = ("official", "sslts") if seed % 2 == 0 else ("sslts", "official")
                for code in order:
                    rows.append(run_in_child(method, code, dataset, seed, budgets[method]))
                    print(rows[-1], flush=True)
                    write_results(rows, Path(args.out), args)


if __name__ == "__main__":
    main()
