"""FID, IS, CAS and the supervised FCN (sslts.evaluation.fcn, sslts.evaluation.generative)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator

from sslts import load_dataset
from sslts.evaluation.fcn import FCNClassifier, FCNNetwork, draw_seed
from sslts.evaluation.generative import (
    accuracy_ema,
    cas,
    evaluate_generation,
    fid,
    frechet_distance,
    inception_score,
    stft_round_trip,
    synthetic_class_counts,
)

TINY_FCN = dict(n_filters=(4, 8, 4), n_epochs=3, batch_size=16)


def two_class_series(n_per_class, length=32, seed=0):
    """Noisy sines (class "sine") and noisy square waves (class "square")."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 4 * np.pi, length)
    phase = rng.uniform(0, 0.5, size=(2 * n_per_class, 1))
    X = np.r_[np.sin(t + phase[:n_per_class]), np.sign(np.sin(t + phase[n_per_class:]))]
    X = X + 0.1 * rng.normal(size=X.shape)
    return X, np.repeat(["sine", "square"], n_per_class)


# -- Fréchet distance -----------------------------------------------------------------


def random_spd(d, rng):
    A = rng.normal(size=(d, d))
    return A @ A.T + 0.1 * np.eye(d)


def slow_frechet(mu1, s1, mu2, s2):
    """Tr((S1 S2)^(1/2)) = Tr((S1^(1/2) S2 S1^(1/2))^(1/2)), via eigendecompositions."""

    def psd_sqrt(S):
        w, V = np.linalg.eigh(S)
        return (V * np.sqrt(np.clip(w, 0, None))) @ V.T

    r1 = psd_sqrt(s1)
    cross = np.trace(psd_sqrt(r1 @ s2 @ r1))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross)


@pytest.mark.parametrize("m1, s1, m2, s2", [(0.0, 1.0, 0.0, 1.0), (0.0, 1.0, 3.0, 2.0),
                                            (-1.5, 0.3, 2.0, 4.0), (5.0, 2.0, 5.0, 0.5)])
def test_frechet_distance_1d_closed_form(m1, s1, m2, s2):
    expected = (m1 - m2) ** 2 + (s1 - s2) ** 2
    assert frechet_distance(m1, s1**2, m2, s2**2) == pytest.approx(expected, abs=1e-10)
    assert frechet_distance([m1], [[s1**2]], [m2], [[s2**2]]) == pytest.approx(expected)


def test_frechet_distance_matches_slow_reference_and_is_symmetric():
    rng = np.random.default_rng(0)
    for d in (2, 5, 16):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = random_spd(d, rng), random_spd(d, rng)
        got = frechet_distance(mu1, s1, mu2, s2)
        assert got == pytest.approx(slow_frechet(mu1, s1, mu2, s2), rel=1e-6)
        assert got == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-6)
        assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)
    # commuting (diagonal) covariances: sum of per-dimension 1-D distances
    v1, v2 = rng.uniform(0.5, 2, size=4), rng.uniform(0.5, 2, size=4)
    expected = np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(np.zeros(4), np.diag(v1), np.zeros(4), np.diag(v2)) == \
        pytest.approx(expected)


def test_frechet_distance_singular_and_bad_shapes():
    s = np.diag([1.0, 0.0])  # singular: the eps offset gives the exact value
    assert frechet_distance(np.zeros(2), s, np.ones(2), s) == pytest.approx(2.0, abs=1e-5)
    F = np.random.default_rng(0).normal(size=(5, 8))  # fewer rows than features
    assert abs(fid(F, F)) < 1e-4
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


def test_fid_identical_shifted_and_1d_sets():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(200, 6))
    assert abs(fid(F, F)) < 1e-8
    shift = rng.normal(size=6)
    assert fid(F, F + shift) == pytest.approx(np.sum(shift**2), rel=1e-6)
    a, b = rng.normal(1.0, 2.0, size=(300, 1)), rng.normal(-1.0, 0.5, size=(400, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert fid(a, b) == pytest.approx(expected, rel=1e-9)


def test_fid_bad_input():
    with pytest.raises(ValueError, match="at least 2 rows"):
        fid(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="widths differ"):
        fid(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="finite"):
        fid(np.full((4, 3), np.nan), np.zeros((4, 3)))


# -- inception score -----------------------------------------------------------------


def slow_inception_score(P, n_splits):
    size = len(P) // n_splits
    scores = []
    for k in range(n_splits):
        part = P[k * size : (k + 1) * size]
        p_y = part.mean(axis=0)
        kl = [sum(p[c] * (np.log(p[c] + 1e-16) - np.log(p_y[c] + 1e-16))
                  for c in range(P.shape[1])) for p in part]
        scores.append(np.exp(np.mean(kl)))
    return np.mean(scores), np.std(scores)


def test_inception_score_closed_forms():
    row = np.array([0.2, 0.5, 0.3])
    mean, std = inception_score(np.tile(row, (50, 1)), n_splits=5, random_state=0)
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0, abs=1e-12)
    for C in (2, 5, 10):
        one_hot = np.tile(np.eye(C), (7, 1))  # balanced and confident
        assert inception_score(one_hot, n_splits=1, random_state=0)[0] == pytest.approx(C)
        assert inception_score(one_hot, n_splits=7, shuffle=False)[0] == pytest.approx(C)


def test_inception_score_matches_loop_and_bounds():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.full(4, 0.3), size=103)
    got = inception_score(P, n_splits=10, shuffle=False)
    assert np.allclose(got, slow_inception_score(P, 10))
    copy = P.copy()
    a = inception_score(P, random_state=3)
    assert np.array_equal(P, copy)  # the shuffle works on a copy
    assert a == inception_score(P, random_state=3)
    assert 1.0 <= a[0] <= 4.0


def test_inception_score_bad_input():
    with pytest.raises(ValueError, match="probabilities"):
        inception_score(np.ones((10, 3)))
    with pytest.raises(ValueError, match="n_splits"):
        inception_score(np.eye(3), n_splits=10)


# -- CAS helpers ---------------------------------------------------------------------


def test_synthetic_class_counts():
    y = np.r_[np.zeros(6), np.ones(14)]  # SonyAIBORobotSurface1-like: 20 series
    classes, counts = synthetic_class_counts(y)
    assert classes.tolist() == [0, 1] and counts.tolist() == [300, 700]
    _, counts = synthetic_class_counts(np.repeat([0, 1, 2], 7))
    assert counts.tolist() == [333, 333, 333]  # the reference's rounding
    _, counts = synthetic_class_counts(np.repeat([0, 1], [1500, 10]))
    assert counts.tolist() == [1500, 10]  # large enough: unchanged
    _, counts = synthetic_class_counts(["a", "a", "b"], min_samples=5)
    assert counts.tolist() == [3, 2]  # 3.33 -> 3, 1.67 -> 2


def test_accuracy_ema_matches_loop():
    acc = np.random.default_rng(0).uniform(size=(7, 3))
    ema = 0.0
    for a in acc.ravel():
        ema = 0.99 * ema + 0.01 * a
    assert accuracy_ema(acc) == pytest.approx(ema)


def test_stft_round_trip_is_identity_and_keeps_nan():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 37, 2))
    assert np.allclose(stft_round_trip(X), X, atol=1e-5)
    X2 = rng.normal(size=(4, 37))
    assert stft_round_trip(X2).shape == (4, 37)
    X[0, 30:] = np.nan
    out = stft_round_trip(X)
    assert np.isnan(out[0, 30:]).all() and not np.isnan(out[1:]).any()
    with pytest.raises(ValueError, match="shape"):
        stft_round_trip(np.zeros(5))


# -- the FCN ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 5, 8])
def test_fcn_same_padding_matches_tensorflow(k):
    """TF "same": total padding k - 1, the odd one on the right."""
    torch.manual_seed(0)
    net = FCNNetwork(1, 2, n_filters=(1,), kernel_sizes=(k,)).eval()
    block = net.blocks[0]
    w = np.arange(1.0, k + 1)
    with torch.no_grad():
        block.conv.weight.copy_(torch.tensor(w).view(1, 1, k))
        block.conv.bias.zero_()
    x = np.abs(np.random.default_rng(0).normal(size=11)) + 0.1
    left = (k - 1) // 2
    padded = np.r_[np.zeros(left), x, np.zeros(k - 1 - left)]
    expected = np.array([padded[i : i + k] @ w for i in range(len(x))])
    expected /= np.sqrt(1 + block.norm.eps)  # eval-mode batch norm with fresh statistics
    out = block(torch.tensor(x, dtype=torch.float32).view(1, 1, -1)).detach().numpy().ravel()
    assert np.allclose(out, expected, rtol=1e-5)


def test_fcn_reference_architecture():
    net = FCNNetwork(1, 5)
    widths = [(b.conv.in_channels, b.conv.out_channels, b.conv.kernel_size[0])
              for b in net.blocks]
    assert widths == [(1, 128, 8), (128, 256, 5), (256, 128, 3)]
    assert 260_000 < sum(p.numel() for p in net.parameters()) < 270_000


def test_fcn_classifier_contract():
    X, y = two_class_series(12)
    clf = FCNClassifier(**TINY_FCN, random_state=0)
    params = clf.get_params()
    assert clone(clf).get_params() == params
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()  # noqa: NPY002 (checking that fit leaves it alone)
    clf.fit(X, y)
    assert torch.equal(torch_state, torch.random.get_rng_state())  # no global RNG
    assert np.array_equal(np_state[1], np.random.get_state()[1])  # noqa: NPY002
    assert clf.get_params() == params  # fit does not touch the parameters
    assert clf.classes_.tolist() == ["sine", "square"] and clf.n_channels_ == 1
    assert clf.predict(X).shape == (24,) and set(clf.predict(X)) <= {"sine", "square"}
    proba = clf.predict_proba(X)
    assert proba.shape == (24, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert clf.transform(X).shape == (24, 4)
    assert 0.0 <= clf.score(X, y) <= 1.0
    assert len(clf.loss_history_) == 3 and clf.n_iter_ == 3 * 2
    again = clone(clf).fit(X, y)
    assert np.array_equal(again.predict_proba(X), proba)  # reproducible
    other = FCNClassifier(**TINY_FCN, random_state=1).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), proba)
    assert clf.transform(X[:, :20]).shape == (24, 4)  # any length


def test_fcn_classifier_channels_last_nan_and_eval_set():
    X, y = two_class_series(8)
    X3 = np.stack([X, -X], axis=2)  # (n, T, 2)
    X3[0, 25:, :] = np.nan
    clf = FCNClassifier(**TINY_FCN, random_state=0).fit(X3, y, eval_set=(X3[:10], y[:10]))
    assert clf.n_channels_ == 2 and np.isfinite(clf.predict_proba(X3)).all()
    assert clf.eval_batch_accuracy_.shape == (3, 1)
    assert clf.loc_.shape == (2,) and clf.scale_.shape == (2,)


def test_fcn_classifier_errors():
    X, y = two_class_series(4)
    with pytest.raises(NotFittedError):
        FCNClassifier().predict(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        FCNClassifier(**TINY_FCN).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="one label per series"):
        FCNClassifier(**TINY_FCN).fit(X, y[:-1])
    with pytest.raises(ValueError, match="equal length"):
        FCNClassifier(n_filters=(4, 4), kernel_sizes=(3,)).fit(X, y)
    with pytest.raises(ValueError, match="n_epochs"):
        FCNClassifier(n_epochs=0).fit(X, y)
    with pytest.raises(ValueError):
        FCNClassifier(**TINY_FCN).fit(X, np.full(len(X), 0.5) + np.arange(len(X)))
    clf = FCNClassifier(**TINY_FCN, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="channel"):
        clf.predict(np.zeros((2, 32, 3)))
    with pytest.raises(ValueError, match="random_state"):
        draw_seed("zero")


def test_fcn_classifier_learns_gunpoint():
    X_train, y_train, X_test, y_test = load_dataset("GunPoint")
    clf = FCNClassifier(n_filters=(16, 32, 16), n_epochs=40, batch_size=10, lr=1e-2,
                        random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.9


# -- CAS and the whole protocol -------------------------------------------------------


def test_cas_final_and_ema():
    X_syn, y_syn = two_class_series(40, seed=1)
    X_test, y_test = two_class_series(20, seed=2)
    template = FCNClassifier(n_filters=(8, 8, 8), n_epochs=15, batch_size=16, lr=1e-2,
                             random_state=0)
    final = cas(X_syn, y_syn, X_test, y_test, classifier=template)
    assert final == clone(template).fit(X_syn, y_syn).score(X_test, y_test)
    assert final >= 0.9
    ema = cas(X_syn, y_syn, X_test, y_test, classifier=template, score="ema", ema_rate=0.1)
    fitted = clone(template).fit(X_syn, y_syn, eval_set=(X_test, y_test))
    assert ema == pytest.approx(accuracy_ema(fitted.eval_batch_accuracy_, 0.1))
    with pytest.raises(ValueError, match="score"):
        cas(X_syn, y_syn, X_test, y_test, classifier=template, score="best")


class ReplayGenerator:
    """Returns given series: unconditionally the first n rows, per class a row of it."""

    def __init__(self, X, y):
        self.X, self.y, self.calls = np.asarray(X), np.asarray(y), []

    def sample(self, n_samples, y=None, random_state=None):
        self.calls.append((n_samples, None if y is None else np.asarray(y), random_state))
        if y is None:
            return np.resize(self.X, (n_samples, *self.X.shape[1:]))
        rng = np.random.default_rng(random_state)
        rows = [rng.choice(np.flatnonzero(self.y == label)) for label in y]
        return self.X[rows]


def test_evaluate_generation_protocol():
    X_train, y_train = two_class_series(10, seed=0)  # 20 TRAIN series
    X_test, y_test = two_class_series(150, seed=1)  # 300 TEST series (>= 256)
    generator = ReplayGenerator(X_test, y_test)
    classifier = FCNClassifier(n_filters=(8, 8, 8), n_epochs=20, batch_size=8, lr=1e-2,
                               random_state=0)
    cas_template = FCNClassifier(n_filters=(4, 4, 4), n_epochs=5, batch_size=64, lr=1e-2)
    seen = []

    def round_trip(X):
        seen.append(X.shape)
        return X

    result = evaluate_generation(generator, X_train, y_train, X_test, y_test,
                                 classifier=classifier, cas_classifier=cas_template,
                                 round_trip=round_trip, random_state=0)
    assert set(result) == {"fid", "is_mean", "is_std", "real_is_mean", "real_is_std", "cas",
                           "fcn_test_accuracy", "n_generated", "n_synthetic"}
    assert seen == [X_test.shape]
    (n_uncond, y_uncond, _), (n_cond, y_cond, _) = generator.calls
    assert n_uncond == 300 and y_uncond is None  # max(n_test, 256)
    assert n_cond == 1000 and sorted(np.unique(y_cond, return_counts=True)[1]) == [500, 500]
    assert result["n_generated"] == 300 and result["n_synthetic"] == 1000
    assert abs(result["fid"]) < 1e-6  # the generator replays the real set exactly
    assert result["is_mean"] == pytest.approx(result["real_is_mean"], rel=0.05)
    assert 1.0 <= result["is_mean"] <= 2.0
    assert result["fcn_test_accuracy"] >= 0.9 and result["cas"] >= 0.9
    again = evaluate_generation(generator, X_train, y_train, X_test, y_test,
                                classifier=classifier, cas_classifier=cas_template,
                                round_trip=round_trip, random_state=0)
    assert again == result


def test_evaluate_generation_frozen_classifier_small_test_set_and_errors():
    X_train, y_train = two_class_series(10, seed=0)
    X_test, y_test = two_class_series(15, seed=1)  # 30 TEST series: 256 generated
    fcn = FCNClassifier(**TINY_FCN, random_state=0).fit(X_train, y_train)
    weights = {k: v.clone() for k, v in fcn.module_.state_dict().items()}
    generator = ReplayGenerator(X_test, y_test)
    result = evaluate_generation(generator, X_train, y_train, X_test, y_test,
                                 classifier=FrozenEstimator(fcn), cas_classifier=clone(fcn),
                                 min_synthetic=40, random_state=0)
    assert all(torch.equal(v, fcn.module_.state_dict()[k]) for k, v in weights.items())
    assert result["fcn_test_accuracy"] == fcn.score(X_test, y_test)
    assert result["n_generated"] == 256 and result["n_synthetic"] == 40
    with pytest.raises(TypeError, match="sample"):
        evaluate_generation(object(), X_train, y_train, X_test, y_test,
                            classifier=FrozenEstimator(fcn))

    class Broken(ReplayGenerator):
        def sample(self, n_samples, y=None, random_state=None):
            return np.zeros((n_samples - 1, 32))

    with pytest.raises(ValueError, match="returned shape"):
        evaluate_generation(Broken(X_test, y_test), X_train, y_train, X_test, y_test,
                            classifier=FrozenEstimator(fcn))
    with pytest.raises(ValueError, match="round_trip"):
        evaluate_generation(generator, X_train, y_train, X_test, y_test,
                            classifier=FrozenEstimator(fcn), round_trip="istft")
