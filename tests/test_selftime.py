"""Tests of SelfTime: relation labels, pair building, losses, backbone and estimator."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslts import SelfTimeTransformer, load_dataset
from sslts.losses import (
    RelationHead,
    inter_sample_pair_indices,
    inter_sample_relation_loss,
    intra_temporal_relation_loss,
    temporal_distance_class,
)
from sslts.utils.devices import seeded_torch

TINY = dict(n_views=3, piece_size=0.4, n_iters=2, batch_size=8, device="cpu")


def reference_pairs(K, B):
    """The official ``aggregate`` written as a double loop (one shift per view pair)."""
    pos, neg, shift = [], [], 1
    for k1 in range(K):
        for k2 in range(k1 + 1, K):
            for i in range(B):
                pos.append((k1 * B + i, k2 * B + i))
                neg.append((k1 * B + i, k2 * B + (i - shift) % B))  # torch.roll(f, shift)
            shift = shift + 1 if shift + 1 < B else 1
    return pos, neg


@pytest.mark.parametrize("K, B", [(2, 2), (3, 3), (4, 5), (16, 7)])
def test_pair_indices_match_the_double_loop(K, B):
    left, right, target = inter_sample_pair_indices(K, B)
    pos, neg = reference_pairs(K, B)
    P = len(pos)
    assert P == K * (K - 1) // 2 * B and len(left) == 2 * P
    assert list(zip(left[:P].tolist(), right[:P].tolist())) == pos
    assert list(zip(left[P:].tolist(), right[P:].tolist())) == neg
    assert target.tolist() == [1.0] * P + [0.0] * P
    # Positives pair copies of one series, negatives never do.
    assert torch.equal(left[:P] % B, right[:P] % B)
    assert torch.all(left[P:] % B != right[P:] % B)


def test_pair_indices_hand_computed():
    left, right, target = inter_sample_pair_indices(2, 3)
    # views 0/1 of 3 series: rows 0-2 and 3-5; negative shift 1 -> partner i - 1.
    assert left.tolist() == [0, 1, 2, 0, 1, 2]
    assert right.tolist() == [3, 4, 5, 5, 3, 4]
    assert target.tolist() == [1, 1, 1, 0, 0, 0]
    with pytest.raises(ValueError, match="at least 2"):
        inter_sample_pair_indices(2, 1)


def test_temporal_distance_class_hand_computed():
    # CricketX: T = 300, 3 classes, bucket width 300 / 6 = 50.
    d = torch.tensor([0, 49, 50, 99, 100, 239])
    labels = temporal_distance_class(torch.zeros_like(d), d, 300, 3)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert temporal_distance_class(d, torch.zeros_like(d), 300, 3).tolist() == labels.tolist()


@pytest.mark.parametrize("T, n", [(288, 5), (256, 6), (301, 4)])
def test_temporal_distance_class_matches_float_buckets(T, n):
    d = torch.arange(T)
    got = temporal_distance_class(d, torch.zeros_like(d), T, n)
    width = T / (2 * n)
    expected = [next((j for j in range(n - 1) if j * width <= v < (j + 1) * width), n - 1)
                for v in d.tolist()]
    assert got.tolist() == expected


def test_relation_head_equals_concatenated_linear():
    with seeded_torch(0, torch.device("cpu")):
        head = RelationHead(5, 3).eval()
        f = torch.randn(7, 5)
    left, right = torch.tensor([0, 2, 6, 1]), torch.tensor([3, 3, 0, 5])
    pairs = torch.cat([f[left], f[right]], dim=1)
    expected = head.out(F.leaky_relu(head.norm(head.hidden(pairs))))
    assert torch.allclose(head(f, left, right), expected, atol=1e-6)


def test_losses_against_explicit_pairs():
    K, B, D = 3, 4, 6
    with seeded_torch(0, torch.device("cpu")):
        f = torch.randn(K * B, D)
        head = RelationHead(D, 1).eval()
    pos, neg = reference_pairs(K, B)
    logits = torch.stack([head.out(F.leaky_relu(head.norm(
        head.hidden(torch.cat([f[a], f[b]])[None]))))[0, 0] for a, b in pos + neg])
    target = torch.tensor([1.0] * len(pos) + [0.0] * len(neg))
    expected = F.binary_cross_entropy_with_logits(logits, target)
    assert torch.allclose(inter_sample_relation_loss(head, f, K), expected, atol=1e-6)
    intra = RelationHead(D, 4).eval()
    a, r, y = f[:5], f[5:10], torch.tensor([0, 3, 1, 2, 0])
    ref = F.cross_entropy(intra(torch.cat([a, r]), torch.arange(5), torch.arange(5, 10)), y)
    assert torch.allclose(intra_temporal_relation_loss(intra, a, r, y), ref)


@pytest.fixture(scope="module")
def gunpoint(shared_data):
    X_train, _, _, _ = load_dataset("GunPoint", data_home=shared_data)
    return X_train[:16]


def test_fit_transform_shapes_and_determinism(gunpoint):
    est = SelfTimeTransformer(random_state=0, **TINY).fit(gunpoint)
    Z = est.transform(gunpoint)
    assert Z.shape == (16, 64) and Z.dtype == np.float32
    assert np.allclose(np.linalg.norm(Z, axis=1), 1, atol=1e-5)
    assert est.encode(gunpoint, level="timestamp").shape == (16, 150, 64)
    again = SelfTimeTransformer(random_state=0, **TINY).fit(gunpoint).transform(gunpoint)
    assert np.array_equal(Z, again)
    other = SelfTimeTransformer(random_state=1, **TINY).fit(gunpoint).transform(gunpoint)
    assert not np.allclose(Z, other)


def test_augmented_copies_are_view_major():
    est = SelfTimeTransformer(n_views=3, aug_prob=0.0)
    x = torch.randn(4, 20, 2)
    views = est._augmented_copies(x, torch.Generator().manual_seed(0))
    assert torch.equal(views, torch.cat([x, x, x]))
    warped = est.set_params(aug_prob=1.0)._augmented_copies(x, torch.Generator())
    assert not torch.equal(warped[:4], warped[4:8])  # copies are warped independently


@pytest.mark.parametrize("mode", ["inter", "intra"])
def test_modes_train_only_their_head(gunpoint, mode):
    est = SelfTimeTransformer(mode=mode, random_state=0, **TINY).fit(gunpoint)
    unused = "intra_head" if mode == "inter" else "inter_head"
    assert getattr(est.module_, unused) is None
    assert np.isfinite(est.loss_history_).all()


def test_multivariate_and_nan_input(gunpoint):
    X = np.concatenate([gunpoint, -gunpoint], axis=2)
    X[0, 100:] = np.nan  # variable length / missing values
    est = SelfTimeTransformer(random_state=0, **TINY).fit(X)
    assert est.n_channels_ == 2
    Z = est.transform(X)
    assert np.isfinite(Z).all()
    X0 = np.nan_to_num(X)  # NaN is read as 0, as in the official code
    assert np.allclose(Z, est.transform(X0), atol=1e-6)


@pytest.mark.parametrize("T", [1, 3, 12, 60])
def test_pieces_are_slices_of_their_views(T):
    est = SelfTimeTransformer(piece_size=0.2)
    views = torch.randn(5, T, 2)
    pieces, starts = est._pieces(views, torch.Generator().manual_seed(0))
    length = max(1, int(0.2 * T))
    assert pieces.shape == (10, length, 2)
    assert starts.min() >= 0 and starts.max() <= max(T - length, 1) - 1
    for j in range(2):
        for i in range(5):
            s = int(starts[j, i])
            torch.testing.assert_close(pieces[j * 5 + i], views[i, s : s + length])


@pytest.mark.parametrize("mode", ["selftime", "inter", "intra"])
def test_any_length_trains_and_encodes(mode):
    rng = np.random.default_rng(0)
    for T in (1, 2, 7, 15, 39):
        est = SelfTimeTransformer(**{**TINY, "mode": mode}, random_state=0)
        est.fit(rng.normal(size=(6, T)))
        assert np.isfinite(est.loss_history_).all()
        Z = est.transform(rng.normal(size=(3, T)))
        assert Z.shape == (3, 64) and np.isfinite(Z).all()
        assert est.encode(rng.normal(size=(3, T)), level="timestamp").shape == (3, T, 64)
    # Series shorter than the training ones encode too.
    assert np.isfinite(est.transform(rng.normal(size=(2, 3)))).all()
    with pytest.raises(ValueError, match="at least 2 training series"):
        SelfTimeTransformer(**TINY).fit(rng.normal(size=(1, 40)))


def test_short_input_reaches_the_backbone():
    X = np.random.default_rng(0).normal(size=(6, 10))
    Z = {}
    for short_input in ("resize", "pad"):
        est = SelfTimeTransformer(**TINY, short_input=short_input, random_state=0).fit(X)
        assert est.module_.encoder.short_input == short_input
        Z[short_input] = est.transform(X)
    assert not np.allclose(Z["resize"], Z["pad"])
    with pytest.raises(ValueError, match="short_input"):
        SelfTimeTransformer(**TINY, short_input="crop").fit(X)


@pytest.mark.parametrize("n, drop_last, steps", [(10, False, 3), (9, False, 2), (10, True, 2)])
def test_last_partial_batch_is_kept_by_default(n, drop_last, steps):
    # batch 4: 10 series give 4 + 4 + 2; 9 give 4 + 4 + 1, and a batch of one is skipped.
    X = np.random.default_rng(0).normal(size=(n, 20))
    params = {**TINY, "n_iters": None, "n_epochs": 1, "batch_size": 4}
    if drop_last:
        params["drop_last"] = True
    assert SelfTimeTransformer().drop_last is False
    assert SelfTimeTransformer(**params, random_state=0).fit(X).n_iter_ == steps


def test_invalid_mode():
    with pytest.raises(ValueError, match="mode"):
        SelfTimeTransformer(mode="both", **TINY).fit(np.zeros((4, 32)))
