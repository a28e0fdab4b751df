"""NC-VQVAE stage 1 and 2 (NCVQVAETransformer + NCVQVAEGenerator) against the thesis.

For each dataset, configuration (VQVAE = ``ssl=None``; BT-/VIb-slice and -gauss =
Barlow Twins / VIbCReg with that view) and seed:

1. stage 1: ``NCVQVAETransformer`` fitted on TRAIN; the thesis's probes (linear SVM
   C=1 and 5-NN on MinMax(-1, 1)-scaled pooled tokens, as ``benchmarks/ncvqvae.py``),
   also on features computed as the reference code does (batch norm in training mode,
   so normalised with each batch's statistics);
2. stage 2: ``NCVQVAEGenerator`` on the frozen tokenizer with TRAIN's labels (the
   thesis's pairing: the index prior for VQVAE, the full-embedding prior otherwise);
3. ``sslts.evaluation.evaluate_generation``: FID and IS of ``max(n_test, 256)``
   unconditional samples against TEST after the STFT round trip, with one FCN per
   dataset trained on TRAIN (cached in ``--out``, its TEST accuracy reported beside
   every FID/IS), and CAS: a fresh FCN trained on class-conditional samples (TRAIN's
   class proportions, about 1000 series) and scored on TEST.

Rows are appended to ``ncvqvae_generation.csv`` as they finish (a rerun skips the
rows already there, so a long run can be split and resumed); every row records the
commit, the budgets and the times; the markdown report is rewritten from the CSV.

Usage::

    python -m benchmarks.ncvqvae_generation --datasets SonyAIBORobotSurface1 \\
        --seeds 0 1 2 --stage1-epochs 1000 --prior-epochs 1000 --fcn-epochs 1000
    python -m benchmarks.ncvqvae_generation --report        # rewrite the markdown only
"""

from __future__ import annotations

import argparse
import copy
import csv
import pickle
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from benchmarks.ncvqvae import load, probes
from benchmarks.ncvqvae_generation_report import LABELS, THESIS, write_report
from benchmarks.provenance import git_commit
from sslts import NCVQVAEGenerator, NCVQVAETransformer
from sslts.evaluation import FCNClassifier, evaluate_generation

# config -> (ssl, augmentation)
CONFIGS = {"none": (None, "slice"), "bt-slice": ("barlow_twins", "slice"),
           "vib-slice": ("vibcreg", "slice"), "bt-gauss": ("barlow_twins", "gauss"),
           "vib-gauss": ("vibcreg", "gauss")}
FIELDS = ["dataset", "config", "seed", "svm", "knn", "svm_train_mode", "knn_train_mode", "fid",
          "is_mean", "is_std", "real_is_mean", "cas", "fcn_test_accuracy", "stage1_s", "prior_s",
          "eval_s", "sampled",
          "sample_s", "series_per_s", "stage1_epochs", "stage1_steps", "prior_epochs",
          "prior_steps", "prior_hidden", "prior_layers", "fcn_epochs", "cas_epochs",
          "codes_used", "dead_codes", "n_train", "n_test", "length", "n_classes",
          "threads", "commit"]


class TimedGenerator:
    """A generator whose ``sample`` calls are timed (for series per second)."""

    def __init__(self, generator):
        self.generator, self.seconds, self.count = generator, 0.0, 0

    def sample(self, n_samples, y=None, random_state=None):
        start = time.perf_counter()
        X = self.generator.sample(n_samples, y=y, random_state=random_state)
        self.seconds += time.perf_counter() - start
        self.count += n_samples
        return X


def train_mode_features(tokenizer, X: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Pooled tokens with batch norm on the batch's statistics, as the reference's probes.

    The reference code computes its probe features with the network in training
    mode, so each batch norm normalises with the statistics of the (test) batch it
    sees; the codebook is kept frozen here (the reference's also moved by EMA).
    """
    module = copy.deepcopy(tokenizer.module_).train()
    module.quantizer.eval()
    with torch.no_grad():
        parts = [tokenizer.embed(module, torch.as_tensor(X[i : i + batch_size],
                                                          dtype=torch.float32), "instance")
                 for i in range(0, len(X), batch_size)]
    return torch.cat(parts).numpy()


def dataset_fcn(name: str, data, args, out: Path) -> FCNClassifier:
    """The scoring FCN of a dataset, trained once on TRAIN and cached."""
    path = out / f"fcn_{name}_{args.fcn_epochs}.pkl"
    if path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    X_train, y_train, _, _ = data
    fcn = FCNClassifier(n_epochs=args.fcn_epochs, random_state=0, device="cpu")
    fcn.fit(X_train, y_train)
    with open(path, "wb") as fh:
        pickle.dump(fcn, fh)
    return fcn


def run_one(name: str, config: str, seed: int, data, fcn, args) -> dict:
    X_train, y_train, X_test, y_test = data
    ssl, augmentation = CONFIGS[config]
    tokenizer = NCVQVAETransformer(ssl=ssl, augmentation=augmentation,
                                   n_epochs=args.stage1_epochs, n_iters=args.stage1_iters,
                                   random_state=seed, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dead codes: counted in the table
        start = time.perf_counter()
        tokenizer.fit(X_train)
        stage1_s = time.perf_counter() - start
    svm, knn = probes(tokenizer.transform(X_train), y_train, tokenizer.transform(X_test), y_test)
    svm_train_mode, knn_train_mode = probes(train_mode_features(tokenizer, X_train), y_train,
                                            train_mode_features(tokenizer, X_test), y_test)
    generator = NCVQVAEGenerator(
        tokenizer=FrozenEstimator(tokenizer), hidden_dims=args.prior_hidden,
        n_layers=args.prior_layers, n_epochs=args.prior_epochs, n_iters=args.prior_iters,
        random_state=seed, device="cpu")
    start = time.perf_counter()
    generator.fit(X_train, y_train)
    prior_s = time.perf_counter() - start
    timed = TimedGenerator(generator)
    cas_fcn = FCNClassifier(n_epochs=args.cas_epochs, device="cpu")
    start = time.perf_counter()
    scores = evaluate_generation(timed, X_train, y_train, X_test, y_test,
                                 classifier=FrozenEstimator(fcn), cas_classifier=cas_fcn,
                                 random_state=seed)
    return {
        "dataset": name, "config": config, "seed": seed, "svm": svm, "knn": knn,
        "svm_train_mode": svm_train_mode, "knn_train_mode": knn_train_mode,
        "fid": scores["fid"], "is_mean": scores["is_mean"], "is_std": scores["is_std"],
        "real_is_mean": scores["real_is_mean"], "cas": scores["cas"],
        "fcn_test_accuracy": scores["fcn_test_accuracy"], "stage1_s": round(stage1_s, 1),
        "prior_s": round(prior_s, 1), "eval_s": round(time.perf_counter() - start, 1),
        "sampled": timed.count, "sample_s": round(timed.seconds, 2),
        "series_per_s": round(timed.count / timed.seconds, 1),
        "stage1_epochs": tokenizer.n_epochs_, "stage1_steps": tokenizer.n_iter_,
        "prior_epochs": generator.n_epochs_, "prior_steps": generator.n_iter_,
        "prior_hidden": args.prior_hidden, "prior_layers": args.prior_layers,
        "fcn_epochs": fcn.n_epochs, "cas_epochs": args.cas_epochs,
        "codes_used": int((tokenizer.codebook_usage_ > 0).sum()),
        "dead_codes": int(generator.dead_codes_.sum()), "n_train": len(X_train),
        "n_test": len(X_test), "length": X_train.shape[1], "n_classes": len(np.unique(y_train)),
        "threads": torch.get_num_threads(), "commit": git_commit(),
    }


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def append_row(row: dict, path: Path) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=str(Path(__file__).parents[2] / "shared/data"))
    parser.add_argument("--datasets", nargs="+", default=list(THESIS))
    parser.add_argument("--configs", nargs="+", default=["none", "bt-slice", "vib-slice"],
                        choices=list(CONFIGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--stage1-epochs", type=int, default=1000)
    parser.add_argument("--stage1-iters", type=int, default=None)
    parser.add_argument("--prior-epochs", type=int, default=1000)
    parser.add_argument("--prior-iters", type=int, default=None)
    parser.add_argument("--prior-hidden", type=int, default=256)
    parser.add_argument("--prior-layers", type=int, default=4)
    parser.add_argument("--fcn-epochs", type=int, default=300)
    parser.add_argument("--cas-epochs", type=int, default=100)
    parser.add_argument("--max-train", type=int, default=384)
    parser.add_argument("--max-test", type=int, default=600)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--report", action="store_true", help="only rewrite the markdown")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "ncvqvae_generation.csv"
    if not args.report:
        for name in args.datasets:
            data = load(name, args)
            done = {(r["config"], int(r["seed"])) for r in read_rows(csv_path)
                    if r["dataset"] == name}
            jobs = [(c, s) for c in args.configs for s in args.seeds if (c, s) not in done]
            if not jobs:
                continue
            fcn = dataset_fcn(name, data, args, out)
            for config, seed in jobs:
                row = run_one(name, config, seed, data, fcn, args)
                append_row(row, csv_path)
                print(f"{name:22s} {LABELS[config]:10s} seed {seed}  svm {row['svm']:.3f}  "
                      f"fid {row['fid']:.2f}  is {row['is_mean']:.2f}  cas {row['cas']:.3f}  "
                      f"stage1 {row['stage1_s']}s prior {row['prior_s']}s", flush=True)
    write_report(read_rows(csv_path), out / "ncvqvae_generation.md")


if __name__ == "__main__":
    main()
