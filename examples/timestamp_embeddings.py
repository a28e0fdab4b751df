"""Timestamp-level embeddings of variable-length, multivariate series.

Run: ``python examples/timestamp_embeddings.py --data-home ../shared/data``
"""

import argparse

import numpy as np

from sslts import TS2VecTransformer, load_dataset

parser = argparse.ArgumentParser()
parser.add_argument("--data-home", default=None)
args = parser.parse_args()

# JapaneseVowels: 12 channels, series of 7 to 29 steps, NaN-padded.
X_train, y_train, X_test, y_test = load_dataset("JapaneseVowels", data_home=args.data_home)
enc = TS2VecTransformer(output_dims=64, n_iters=100, random_state=0).fit(X_train)
Z = enc.encode(X_test, level="timestamp")            # (370, 29, 64)
lengths = (~np.isnan(X_test).any(axis=2)).sum(axis=1)
print("timestamp embeddings:", Z.shape, "series lengths:", lengths.min(), "-", lengths.max())
print("instance embeddings:", enc.transform(X_test).shape)
