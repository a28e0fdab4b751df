"""Loss histories and embeddings of every estimator on GunPoint, to prove a refactor inert.

Fits each configuration below (every public estimator with its defaults, plus the
variants that exercise the schedules, callbacks and optional branches) on GunPoint's
training series with a short budget, one thread, seed 0, on the CPU, and records
every epoch's loss as an exact hexadecimal float, the step count and a SHA-256 of the
instance embeddings of the test series.  ``--check`` runs them again and compares bit
for bit with the committed record::

    python -m benchmarks.loss_histories --record   # before a change
    python -m benchmarks.loss_histories --check    # after it: "identical" for every row

Bitwise equality holds on one machine and torch build; other CPUs round differently,
which is why ``tests/test_loss_histories.py`` compares a tiny version with a tolerance.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .provenance import git_commit

RESULTS = Path(__file__).resolve().parent / "results" / "loss_histories.json"
BUDGET = {"n_epochs": 3, "n_iters": 30}


def _lr_scheduler():
    from sslts.callbacks import LearningRateScheduler

    return LearningRateScheduler(torch.optim.lr_scheduler.StepLR, step_every="step",
                                 step_size=5, gamma=0.7)


def _callbacks(name):
    from sslts.callbacks import EarlyStopping, GradientAccumulation

    return {
        "scheduler": [_lr_scheduler()],
        "accumulate": [GradientAccumulation(4)],
        "validation": [EarlyStopping(patience=5, validation_fraction=0.2)],
    }[name]


# name: (class, parameters beyond the budget, callbacks)
CONFIGS = {
    "ts2vec": ("TS2VecTransformer", {}, None),
    "ts2vec_scheduler": ("TS2VecTransformer", {}, "scheduler"),
    "ts2vec_validation": ("TS2VecTransformer", {}, "validation"),
    "iars": ("IARSTransformer", {}, None),
    "timedrl": ("TimeDRLTransformer", {}, None),
    "timedrl_warmup": ("TimeDRLTransformer",
                       {"lr_schedule": "warmup", "n_epochs": 8, "n_iters": None}, None),
    "timedrl_accumulate": ("TimeDRLTransformer", {}, "accumulate"),
    "selftime": ("SelfTimeTransformer", {}, None),
    "infonce": ("InfoNCETransformer", {}, None),
    "infonce_cosine": ("InfoNCETransformer", {"lr_schedule": "cosine"}, None),
    "barlow_twins": ("BarlowTwinsTransformer", {}, None),
    "vibcreg": ("VIbCRegTransformer", {}, None),
    "vibcreg_constant": ("VIbCRegTransformer", {"lr_schedule": "constant"}, None),
    "ncvqvae": ("NCVQVAETransformer", {}, None),
    "ncvqvae_vibcreg": ("NCVQVAETransformer", {"ssl": "vibcreg"}, None),
    # Small batches: many steps per epoch, so that the per-step schedules show.
    "ncvqvae_batch8": ("NCVQVAETransformer", {"batch_size": 8}, None),
    "barlow_twins_batch8": ("BarlowTwinsTransformer", {"batch_size": 8}, None),
}


def run_config(name: str, X_train, X_test) -> dict:
    import sslts

    cls_name, params, callbacks = CONFIGS[name]
    est = getattr(sslts, cls_name)(
        **{**BUDGET, **params}, random_state=0, device="cpu", n_threads=1,
        callbacks=None if callbacks is None else _callbacks(callbacks),
    )
    start = time.perf_counter()
    est.fit(X_train)
    seconds = time.perf_counter() - start
    Z = np.ascontiguousarray(est.transform(X_test), dtype=np.float32)
    return {
        "loss_history": [float(v).hex() for v in est.loss_history_],
        "n_iter": est.n_iter_,
        "embedding_sha256": hashlib.sha256(Z.tobytes()).hexdigest(),
        "seconds": round(seconds, 2),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", action="store_true", help="write the record")
    mode.add_argument("--check", action="store_true", help="compare with the record")
    parser.add_argument("--data-home", default=None, help="UCR archive folder (GunPoint is "
                        "bundled, so this is optional)")
    parser.add_argument("--only", nargs="*", default=None, help="configuration names")
    args = parser.parse_args(argv)

    import sslts

    X_train, _, X_test, _ = sslts.load_dataset("GunPoint", data_home=args.data_home)
    names = args.only or list(CONFIGS)
    rows = {name: run_config(name, X_train, X_test) for name in names}
    if args.record:
        RESULTS.write_text(json.dumps({"commit": git_commit(), "torch": torch.__version__,
                                       "configs": rows}, indent=1) + "\n")
        print(f"recorded {len(rows)} configurations at {git_commit()} in {RESULTS}")
        return 0
    saved = json.loads(RESULTS.read_text())
    same_all = True
    print(f"record: {saved['commit']}  now: {git_commit()}")
    for name, row in rows.items():
        old = saved["configs"].get(name)
        same = old is not None and all(
            old[k] == row[k] for k in ("loss_history", "n_iter", "embedding_sha256"))
        same_all &= same
        verdict = "identical" if same else "DIFFERENT"
        print(f"{name:22s} {verdict}  epochs={len(row['loss_history'])}"
              f" steps={row['n_iter']}  {row['seconds']:.1f}s (recorded {old and old['seconds']}s)")
    return 0 if same_all else 1


if __name__ == "__main__":
    sys.exit(main())
