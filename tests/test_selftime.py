"""Tests of SelfTime: relation labels, pair building, losses, backbone and estimator."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslts import SelfTimeTransformer, load_dataset
from sslts.encoders import SimConv4
from sslts.losses import (
    RelationHead,
    inter_sample_pair_indices,
    inter_sample_relation_loss,
    intra_temporal_relation_loss,
    temporal_distance_class,
)
from sslts.utils.torch_utils import seeded_torch

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


def test_simconv4_shapes_and_parameters():
    net = SimConv4(1)
    assert sum(p.numel() for p in net.parameters()) == 11_024  # the official count
    x = torch.randn(5, 300, 1)
    assert net.feature_map(x).shape == (5, 64, 300 // 16)
    z = net(x)
    assert z.shape == (5, 64) and torch.allclose(z.norm(dim=1), torch.ones(5))
    assert SimConv4(3, 32)(torch.randn(2, 16, 3)).shape == (2, 32)
    with pytest.raises(ValueError, match="at least 16"):
        net(torch.randn(2, 15, 1))


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


def test_too_short_series_and_pieces():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="minimum of 16 is required"):
        SelfTimeTransformer(**{**TINY, "mode": "inter"}).fit(rng.normal(size=(6, 15)))
    # piece_size 0.4: floor(0.4 * 40) = 16 is the first piece length that fits.
    SelfTimeTransformer(**TINY).fit(rng.normal(size=(6, 40)))
    with pytest.raises(ValueError, match="minimum of 40 is required"):
        SelfTimeTransformer(**TINY).fit(rng.normal(size=(6, 39)))
    est = SelfTimeTransformer(**{**TINY, "mode": "inter"}).fit(rng.normal(size=(6, 16)))
    with pytest.raises(ValueError, match="minimum of 16 is required"):
        est.transform(rng.normal(size=(2, 15)))
    with pytest.raises(ValueError, match="at least 2 training series"):
        SelfTimeTransformer(**TINY).fit(rng.normal(size=(1, 40)))


def test_invalid_mode():
    with pytest.raises(ValueError, match="mode"):
        SelfTimeTransformer(mode="both", **TINY).fit(np.zeros((4, 32)))
