"""One-command GPU check of every sslts method; a CPU smoke test where there is no GPU.

On a CUDA machine (``python benchmarks/gpu_check.py``), for every registered
estimator on GunPoint:

1. ``variants``: fit + transform on the GPU in float32, TF32, bf16 and float32 with
   ``compile=True``, against a float32 fit on the CPU: seconds, linear-probe
   accuracy, and the relative error of the float32-trained model's embeddings when
   it is re-run at that precision (numeric error alone, without the noise of a
   different training run);
2. ``pickle``: a model fitted on the GPU, pickled, unpickled in a process that sees
   no GPU (``CUDA_VISIBLE_DEVICES=""``) and used there: largest difference from the
   GPU embeddings;
3. ``distributed``: a fit inside a 1-process NCCL group (``sslts.distributed``)
   against the same fit without a group: largest embedding difference.

Without CUDA, or with ``--smoke``, the same code runs on the CPU with tiny models
and budgets (float32 and bf16 only; the pickle and distributed checks use the CPU
and gloo) in well under 30 s: ``tests/test_gpu_check.py`` runs it in CI.

Results: ``benchmarks/results/gpu_check.{json,md}`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sslts import all_estimators, distributed, load_dataset
from sslts.evaluation import ts2vec_normalise

# Per-method settings of the GPU run (paper-sized networks, short budgets) and of the
# smoke run (the smallest networks that exercise every layer).  Methods missing
# here run with their defaults and the budget below.
FULL = {
    "TS2VecTransformer": dict(n_iters=200),
    "IARSTransformer": dict(n_iters=200),
    "TimeDRLTransformer": dict(n_epochs=10),
    "SelfTimeTransformer": dict(n_epochs=20),
}
SMOKE = {
    "TS2VecTransformer": dict(output_dims=8, hidden_dims=8, depth=2),
    "IARSTransformer": dict(output_dims=8, hidden_dims=8, depth=2),
    "TimeDRLTransformer": dict(output_dims=8, n_heads=2, n_layers=1, patch_len=8, stride=4),
    "SelfTimeTransformer": dict(output_dims=8, n_views=2, piece_size=0.7),
}
SMOKE_BUDGET = dict(n_iters=2, batch_size=8)
DDP_ITERS = 5  # the 1-process group check compares two short fits
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def gunpoint(smoke: bool):
    """GunPoint train/test (TS2Vec's normalisation); 16 series x 64 steps of each when smoke."""
    X, y, X_test, y_test = load_dataset("GunPoint", data_home=DATA if DATA.is_dir() else None)
    X, X_test = ts2vec_normalise("GunPoint", X, X_test)
    if smoke:
        X, y, X_test, y_test = X[:16, :64], y[:16], X_test[:16, :64], y_test[:16]
    return X.astype(np.float32), y, X_test.astype(np.float32), y_test


def make(cls, smoke: bool, device: str, **params):
    """An instance of ``cls`` for this check (``params`` win); unknown parameters skipped."""
    settings = dict(SMOKE_BUDGET, **SMOKE.get(cls.__name__, {})) if smoke else FULL.get(
        cls.__name__, dict(n_iters=200))
    wanted = {**settings, "device": device, "random_state": 0, **params}
    known = cls().get_params()
    return cls(**{k: v for k, v in wanted.items() if k in known})


def child_env(**overrides) -> dict:
    """Environment of a child process that imports the same sslts as this one."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), **overrides)


def probe_accuracy(F_train, y_train, F_test, y_test) -> float:
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(np.mean(clf.fit(F_train, y_train).predict(F_test) == y_test))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


# ------------------------------------------------------------------ 1. variants
def check_variants(cls, data, device: str, smoke: bool) -> list[dict]:
    """Fit + transform per precision variant; baseline float32 on the CPU."""
    X, y, X_test, y_test = data
    variants = {"cpu float32": ("cpu", {}), f"{device} float32": (device, {})}
    if device == "cuda":
        variants.update({"cuda tf32": ("cuda", dict(precision="tf32")),
                         "cuda compiled": ("cuda", dict(compile=True))})
    variants[f"{device} bf16"] = (device, dict(precision="bf16"))
    rows, reference = [], None
    for name, (dev, params) in variants.items():
        enc = make(cls, smoke, dev, **params)
        if any(k not in cls().get_params() for k in params):
            rows.append(dict(method=cls.__name__, variant=name, skipped="parameter missing"))
            continue
        start = time.perf_counter()
        enc.fit(X)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        F, F_test = enc.transform(X), enc.transform(X_test)
        transform_s = time.perf_counter() - start
        row = dict(method=cls.__name__, variant=name, fit_s=fit_s, transform_s=transform_s,
                   accuracy=probe_accuracy(F, y, F_test, y_test))
        if name == f"{device} float32":
            reference = enc
        elif reference is not None and "precision" in params:
            # Numeric error alone: the float32-trained weights run at this precision.
            ref = reference.transform(X_test)
            row["rel_error_same_weights"] = relative_error(
                reference.set_params(**params).transform(X_test), ref)
            reference.set_params(precision="float32")
        rows.append(row)
    return rows


# ------------------------------------------------------------------ 2. pickle
def check_pickle(classes, data, device: str, smoke: bool, workdir: Path) -> list[dict]:
    """Fit on ``device``, unpickle in one process that sees no GPU, compare embeddings."""
    X, _, X_test, _ = data
    np.save(workdir / "X_test.npy", X_test)
    expected = {}
    for cls in classes:
        enc = make(cls, smoke, device).fit(X)
        (workdir / f"{cls.__name__}.pkl").write_bytes(pickle.dumps(enc))
        expected[cls.__name__] = enc.transform(X_test)
    env = child_env(CUDA_VISIBLE_DEVICES="")
    out = subprocess.run([sys.executable, __file__, "--load-child", str(workdir)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return [dict(check="pickle", ok=False, error=out.stderr[-300:])]
    rows = []
    for name, Z in expected.items():
        loaded = np.load(workdir / f"{name}.out.npy")
        # Same weights; CPU and GPU kernels round differently, hence a relative bound.
        rel = relative_error(loaded, Z)
        rows.append(dict(method=name, check="pickle", fitted_on=device, loaded_on="cpu",
                         max_abs_diff=float(np.abs(loaded - Z).max()), rel_error=rel,
                         ok=rel < 1e-4))
    return rows


def load_child(workdir: str) -> None:
    """In a process without GPU: unpickle every model in ``workdir``, transform, save."""
    X_test = np.load(Path(workdir) / "X_test.npy")
    for path in Path(workdir).glob("*.pkl"):
        np.save(path.with_suffix(".out.npy"), pickle.loads(path.read_bytes()).transform(X_test))


# ------------------------------------------------------------------ 2b. generators
def check_generators(classes, data, device: str, smoke: bool) -> list[dict]:
    """Fit each generator on ``device`` (its tokenizer too), sample per class, time it.

    A seeded ``sample`` must repeat exactly on the device, and the samples must be
    finite series of the training length.
    """
    X, y, _, _ = data
    transformers = {c.__name__: c for c in all_estimators(type_filter="transformer")}
    prior = (dict(hidden_dims=16, n_layers=1, n_heads=1, head_dims=8, **SMOKE_BUDGET)
             if smoke else dict(n_iters=200))
    rows = []
    for cls in classes:
        tokenizer = make(transformers["NCVQVAETransformer"], smoke, device)
        gen = cls(tokenizer=tokenizer, device=device, random_state=0, **prior)
        start = time.perf_counter()
        gen.fit(X, y)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        first = gen.sample(64, y=y[0], random_state=0)
        sample_s = time.perf_counter() - start
        again = gen.sample(64, y=y[0], random_state=0)
        rows.append(dict(method=cls.__name__, check="generator", device=device, fit_s=fit_s,
                         series_per_s=64 / sample_s, shape=list(first.shape),
                         ok=bool(first.shape == (64, *X.shape[1:]) and np.isfinite(first).all()
                                 and np.array_equal(first, again))))
    return rows


# ------------------------------------------------------------------ 3. distributed
def check_distributed(data, device: str, smoke: bool, workdir: Path) -> dict:
    """TS2Vec in a 1-process group (NCCL on CUDA, gloo on the CPU) vs no group."""
    cls = next(c for c in all_estimators() if c.__name__ == "TS2VecTransformer")
    X, _, X_test, _ = data
    np.save(workdir / "X.npy", X)
    np.save(workdir / "X_test.npy", X_test)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = child_env(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                    MASTER_PORT=str(port))
    args = [sys.executable, __file__, "--ddp-child", str(workdir), device]
    out = subprocess.run(args + (["--smoke"] if smoke else []), capture_output=True,
                         text=True, env=env)
    backend = "nccl" if device == "cuda" else "gloo"
    if out.returncode != 0:
        return dict(check="distributed", backend=backend, ok=False, error=out.stderr[-300:])
    grouped = np.load(out.stdout.strip().splitlines()[-1])
    alone = make(cls, smoke, device, n_iters=DDP_ITERS).fit(X).transform(X_test)
    # One rank averages its gradients with itself: the same updates, up to the GPU's
    # non-deterministic kernels over a few steps.
    rel = relative_error(grouped, alone)
    return dict(check="distributed", backend=backend, world_size=1, n_iters=DDP_ITERS,
                max_abs_diff=float(np.abs(grouped - alone).max()), rel_error=rel,
                ok=rel < 1e-3)


def ddp_child(workdir: str, device: str, smoke: bool) -> None:
    distributed.init_from_env()
    try:
        cls = next(c for c in all_estimators() if c.__name__ == "TS2VecTransformer")
        enc = make(cls, smoke, device, n_iters=DDP_ITERS).fit(np.load(Path(workdir) / "X.npy"))
        out = Path(workdir) / "ddp.out.npy"
        np.save(out, enc.transform(np.load(Path(workdir) / "X_test.npy")))
        print(out)
    finally:
        torch.distributed.destroy_process_group()


# ------------------------------------------------------------------ report
def write_results(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1))
    lines = ["# GPU check (`benchmarks/gpu_check.py`)", "", result["environment"], ""]
    if result["smoke"]:
        lines += ["**CPU smoke run** (no CUDA device, or `--smoke`): tiny models and budgets; "
                  "the numbers check that the code runs, not how fast.", ""]
    cols = ["method", "variant", "fit_s", "transform_s", "accuracy", "rel_error_same_weights",
            "skipped"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in result["variants"]:
        cells = [r.get(c, "") for c in cols]
        lines.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v)
                                       for v in cells) + " |")
    lines += [""] + [f"- {c}" for c in result["checks"]]
    (out / "gpu_check.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run even with a GPU")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--load-child", help=argparse.SUPPRESS)
    parser.add_argument("--ddp-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_child:
        return load_child(args.load_child)
    if args.ddp_child:
        return ddp_child(*args.ddp_child, smoke=args.smoke)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    smoke = args.smoke or device == "cpu"
    gpu = torch.cuda.get_device_name() if device == "cuda" else "no CUDA device"
    result = dict(smoke=smoke, device=device, variants=[], checks=[], environment=(
        f"torch {torch.__version__}, {gpu}, {platform.machine()} host, "
        f"{torch.get_num_threads()} CPU threads"))
    data = gunpoint(smoke)
    workdir = Path(args.out) / "gpu_check_work"
    workdir.mkdir(parents=True, exist_ok=True)
    transformers = all_estimators(type_filter="transformer")
    for cls in transformers:
        result["variants"] += check_variants(cls, data, device, smoke)
        print(result["variants"][-1], flush=True)
    result["checks"] += check_pickle(transformers, data, device, smoke, workdir)
    result["checks"] += check_generators(all_estimators(type_filter="generator"), data,
                                         device, smoke)
    result["checks"].append(check_distributed(data, device, smoke, workdir))
    for f in workdir.iterdir():
        f.unlink()
    workdir.rmdir()
    write_results(result, Path(args.out))
    return result


if __name__ == "__main__":
    main()
