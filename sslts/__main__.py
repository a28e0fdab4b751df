"""The main job: train a self-supervised encoder on a dataset and evaluate it.

Run ``python -m sslts --help`` (or the ``sslts`` console script).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from . import _registry
from .datasets import load_dataset
from .evaluation import fit_svm, ts2vec_normalise


def _method_table() -> dict[str, type]:
    return {
        cls.__name__.removesuffix("Transformer").lower(): cls
        for cls in _registry.all_estimators()
    }


def main(argv=None) -> int:
    """Command-line entry point; returns the process exit code."""
    methods = _method_table()
    parser = argparse.ArgumentParser(
        prog="sslts",
        description="Train a self-supervised encoder, then an SVM on its instance embeddings "
        "(TS2Vec's protocol), and print the test accuracy.",
    )
    parser.add_argument("--method", default="ts2vec", choices=sorted(methods))
    parser.add_argument("--dataset", default="GunPoint", help="UCR/UEA dataset name")
    parser.add_argument("--data-home", default=None, help="archive directory ($SSLTS_DATA)")
    parser.add_argument("--n-iters", type=int, default=None, help="override the iterations")
    parser.add_argument("--n-epochs", type=int, default=None, help="override the epochs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--n-threads", type=int, default=None,
                        help="torch CPU threads during fit/transform (1 on a busy machine)")
    args = parser.parse_args(argv)

    try:
        X_train, y_train, X_test, y_test = load_dataset(args.dataset, data_home=args.data_home)
    except (OSError, ValueError) as exc:  # a name, a folder or the network: say which
        parser.exit(2, f"sslts: error: {exc}\n")
    X_train, X_test = ts2vec_normalise(args.dataset, X_train, X_test)
    params = {"device": args.device, "random_state": args.seed, "verbose": args.verbose,
              "n_threads": args.n_threads}
    if args.n_iters is not None:
        params["n_iters"] = args.n_iters
    if args.n_epochs is not None:
        params["n_epochs"] = args.n_epochs
    encoder = methods[args.method](**params)
    print(
        f"sslts: {type(encoder).__name__} on {args.dataset} "
        f"(train {X_train.shape}, test {X_test.shape})",
        flush=True,
    )
    start = time.perf_counter()
    encoder.fit(X_train)
    fit_seconds = time.perf_counter() - start
    clf = fit_svm(encoder.transform(X_train), y_train)
    accuracy = float(np.mean(clf.predict(encoder.transform(X_test)) == y_test))
    print(f"device:   {encoder.device_}")
    print(f"fit time: {fit_seconds:.1f} s ({encoder.n_iter_} iterations)")
    print(f"accuracy: {accuracy:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
