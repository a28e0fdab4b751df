"""Tests of TimeDRL: patching, normalisation, views, losses, levels, persistence."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sslts import TimeDRLTransformer, load, load_dataset
from sslts.callbacks import History
from sslts.encoders.transformer import (
    CircularConvEmbedding,
    PatchTransformerEncoder,
    instance_normalise,
    n_patches,
    patchify,
    timestamp_to_patch,
)
from sslts.losses.simsiam import masked_mse, negative_cosine, simsiam_loss
from sslts.schedules import SCHEDULES, lr_factor

TINY = dict(output_dims=8, n_heads=2, n_layers=1, patch_len=4, stride=2, random_state=0)


def _series(n=6, T=20, C=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, T, C)).astype(np.float32)


# ---------------------------------------------------------------- patching
def _reference_patches(x, P, S):
    """Literal loops: pad the end by repeating the last value, then slice."""
    B, T, C = x.shape
    padded = list(range(T)) + [T - 1] * max(S, P - T)
    out = []
    for b in range(B):
        per_channel = []
        for c in range(C):
            starts = range(0, len(padded) - P + 1, S)
            per_channel.append([[x[b, padded[k + j], c] for j in range(P)] for k in starts])
        out.append(per_channel)
    return np.asarray(out)


@pytest.mark.parametrize("T, P, S", [(20, 4, 2), (21, 4, 2), (16, 16, 8), (9, 4, 4), (3, 4, 2),
                                     (8, 2, 1), (5, 16, 8)])
def test_patchify_matches_reference(T, P, S):
    x = _series(2, T, 3)
    got = patchify(torch.from_numpy(x), P, S).numpy()
    np.testing.assert_array_equal(got, _reference_patches(x, P, S))
    assert got.shape[2] == n_patches(T, P, S)
    if T >= P:  # the official count
        assert n_patches(T, P, S) == (T - P) // S + 2


@pytest.mark.parametrize("T, P, S", [(20, 4, 2), (21, 4, 3), (16, 16, 8), (3, 4, 2), (10, 5, 5)])
def test_timestamp_maps_to_last_patch_starting_before_it(T, P, S):
    index = timestamp_to_patch(T, P, S).numpy()
    N = n_patches(T, P, S)
    for t, k in enumerate(index):
        covering = [j for j in range(N) if j * S <= t < j * S + P]
        assert k == max(covering)


def test_instance_normalise_matches_numpy_and_ignores_nan():
    x = _series(3, 15, 2, seed=1).astype(np.float64) * 5 + 3
    x[0, 10:, 1] = np.nan
    x[2, [1, 4], 0] = np.nan
    x_norm, observed, mean, std = instance_normalise(torch.from_numpy(x))
    ref_mean = np.nanmean(x, axis=1, keepdims=True)
    ref_std = np.sqrt(np.nanvar(x, axis=1, keepdims=True) + 1e-5)  # biased variance
    np.testing.assert_allclose(mean.numpy(), ref_mean)
    np.testing.assert_allclose(std.numpy(), ref_std)
    expected = np.nan_to_num((x - ref_mean) / ref_std, nan=0.0)
    np.testing.assert_allclose(x_norm.numpy(), expected, atol=1e-12)
    np.testing.assert_array_equal(observed.numpy(), ~np.isnan(x))


# ------------------------------------------------------------------ losses
def test_simsiam_loss_value_and_stop_gradient():
    g = torch.Generator().manual_seed(0)
    p1, p2, z1, z2 = (torch.randn(5, 4, generator=g, requires_grad=True) for _ in range(4))
    loss = simsiam_loss(p1, p2, z1, z2)

    def cos(a, b):
        return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))

    expected = -0.5 * (cos(p1, z2).mean() + cos(p2, z1).mean())
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert z1.grad is None and z2.grad is None
    assert p1.grad.abs().sum() > 0 and p2.grad.abs().sum() > 0


def test_stop_gradient_blocks_the_target_branch_of_the_network():
    est = TimeDRLTransformer(**TINY, dropout=0.1)
    est.n_features_in_ = 12
    module = est.build_module(2)
    module.train()
    z = module.encoder(instance_normalise(torch.from_numpy(_series(4, 12)))[0])[:, :, 0]
    z = z.reshape(-1, z.shape[-1])
    # Only the target branch depends on the encoder; the prediction is a free leaf.
    p = torch.randn_like(z, requires_grad=True)
    negative_cosine(p, z).backward()
    assert all(w.grad is None for w in module.encoder.parameters())
    assert p.grad.abs().sum() > 0


def test_masked_mse_counts_only_observed_entries():
    pred = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([[1.0, 0.0, 100.0]])
    observed = torch.tensor([[True, True, False]])
    torch.testing.assert_close(masked_mse(pred, target, observed), torch.tensor(2.0))
    torch.testing.assert_close(masked_mse(pred, target), torch.tensor((0 + 4 + 97**2) / 3))


# ------------------------------------------------------------- the network
def test_one_batched_forward_gives_two_different_dropout_views():
    est = TimeDRLTransformer(**TINY, dropout=0.2).fit(_series(), None)
    module = est.module_
    calls = []
    hook = module.encoder.register_forward_hook(lambda m, inp, out: calls.append(inp[0].shape))
    batch = torch.from_numpy(_series(4, 20))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        module.train()
        est.training_step(module, batch, None)
        both = module.encoder(torch.cat([batch, batch]))
    hook.remove()
    assert calls[0][0] == 2 * len(batch)  # one forward of the doubled batch
    assert not torch.allclose(both[:4], both[4:])
    module.eval()
    with torch.no_grad():
        both = module.encoder(torch.cat([batch, batch]))
    torch.testing.assert_close(both[:4], both[4:])


def test_reconstruction_head_maps_tokens_back_to_patches_and_can_overfit():
    X = load_dataset("GunPoint")[0][:4]
    est = TimeDRLTransformer(output_dims=16, n_heads=2, n_layers=1, patch_len=10, stride=10,
                             dropout=0.01, lambda_=0.0, lr=3e-3, n_iters=1, random_state=0)
    est.fit(X)
    module = est.module_
    x_norm = instance_normalise(torch.from_numpy(X.astype(np.float32)))[0]
    target = patchify(x_norm, 10, 10)  # (4, 1, 16, 10)

    def predictive_loss():
        recon = module.reconstruct(module.encoder(x_norm)[:, :, 1:])
        assert recon.shape == target.shape
        return masked_mse(recon, target)

    module.eval()
    with torch.no_grad():
        before = predictive_loss()
    est.set_params(warm_start=True, n_iters=150, lr_schedule="constant").fit(X)
    with torch.no_grad():
        after = predictive_loss()
    assert after < 0.1 * before


@pytest.mark.parametrize("channel_independent", [True, False])
def test_shapes_of_all_levels(channel_independent):
    X = _series(5, 21, 3)
    est = TimeDRLTransformer(**TINY, channel_independent=channel_independent, n_iters=2).fit(X)
    D = 8 * (3 if channel_independent else 1)
    N = n_patches(21, 4, 2)
    instance = est.transform(X)
    patch = est.encode(X, level="patch")
    stamp = est.encode(X, level="timestamp")
    assert instance.shape == (5, D) and patch.shape == (5, N, D) and stamp.shape == (5, 21, D)
    np.testing.assert_array_equal(stamp, patch[:, timestamp_to_patch(21, 4, 2).numpy()])
    est.module_.eval()
    with torch.no_grad():
        tokens = est.module_.encoder(instance_normalise(torch.from_numpy(X))[0]).numpy()
    np.testing.assert_allclose(instance, tokens[:, :, 0].reshape(5, -1), rtol=1e-5, atol=1e-6)
    assert est.embedding_dims("instance") == D


def test_cls_token_is_prepended_in_patch_space():
    enc = PatchTransformerEncoder(2, 4, 2, 8, 2, 0, 0.0, max_patches=10, channel_independent=True)
    enc.eval()
    x = torch.from_numpy(_series(1, 10, 2))
    # With no layers the output is LayerNorm(embed(token) + position).
    out = enc(x)
    cls = enc.norm(enc.embed(enc.cls) + enc.position[0])
    torch.testing.assert_close(out[0, :, 0], cls)


# ------------------------------------------------------- inputs and errors
def test_short_and_variable_length_series_with_nan():
    series = [np.sin(np.arange(n) / 3.0) for n in (3, 7, 12)]
    est = TimeDRLTransformer(**{**TINY, "patch_len": 5, "stride": 5, "n_iters": 3}).fit(series)
    out = est.encode(series, level="timestamp")
    assert out.shape == (3, 12, 8)
    for row, s in zip(out, series):  # finite over each series, NaN over its padding
        assert np.isfinite(row[: len(s)]).all() and np.isnan(row[len(s):]).all()
    assert np.isfinite(est.transform([[1.0, np.nan, 2.0]])).all()
    # A whole training set shorter than one patch.
    short = TimeDRLTransformer(**TINY, n_iters=2).fit(_series(4, 3))
    assert short.encode(_series(4, 3), level="patch").shape == (4, 1, 16)


def test_clear_errors():
    X = _series(4, 12)
    est = TimeDRLTransformer(**TINY, n_iters=1, positional_encoding="learnable").fit(X)
    with pytest.raises(ValueError, match="learnable positional encoding covers"):
        est.transform(_series(4, 40))
    with pytest.raises(ValueError, match="token_kernel_size=4 must be odd"):
        TimeDRLTransformer(**TINY, token_kernel_size=4).fit(X)
    with pytest.raises(ValueError, match="lr_schedule"):
        TimeDRLTransformer(**TINY, lr_schedule="type2").fit(X)
    with pytest.raises(ValueError, match="stride"):
        TimeDRLTransformer(patch_len=2, stride=3).fit(X)
    with pytest.raises(ValueError, match="divisible"):
        TimeDRLTransformer(output_dims=10, n_heads=4).fit(X)
    with pytest.raises(ValueError, match="at least 2"):
        TimeDRLTransformer(**TINY).fit(X[:1, :, :1])
    with pytest.raises(ValueError, match="level"):
        est.encode(X, level="segment")


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_epoch_runs_at_the_scheduled_rate(schedule):
    history = History()
    est = TimeDRLTransformer(**TINY, lr=2e-3, n_epochs=7, batch_size=4, lr_schedule=schedule,
                             callbacks=[history]).fit(_series(8, 12))
    rates = [row["lr"] for row in est.callbacks_[0].history_]
    np.testing.assert_allclose(rates, [2e-3 * lr_factor(schedule, k) for k in range(7)])
    optimizer = est.configure_optimizer([torch.nn.Parameter(torch.zeros(1))])
    assert optimizer.param_groups[0]["weight_decay"] == 1e-3


def test_defaults_follow_the_official_code():
    est = TimeDRLTransformer()
    assert (est.lr_schedule, est.drop_last, est.min_epoch_steps) == ("type1", False, 10)
    # main.py's defaults; the tuned configurations' "conv" is one option away
    assert (est.token_embedding, est.positional_encoding) == ("linear", "fixed")
    # type1 keeps the first two epochs at the base rate (the earlier off-by-one halved
    # after the first).
    assert [lr_factor(est.lr_schedule, k) for k in range(3)] == [1.0, 1.0, 0.5]


@pytest.mark.parametrize("n, batch_size", [(30, 32), (300, 32), (7, 4)])
def test_default_budget_is_the_official_30_epochs(n, batch_size):
    est = TimeDRLTransformer(batch_size=batch_size)
    assert est._budget(_series(n, 8)) == (30, None)
    assert TimeDRLTransformer(n_iters=5)._budget(_series(n, 8)) == (None, 5)


@pytest.mark.parametrize(
    "n, drop_last, steps",
    # 30 series: 11 copies (330) = 10 batches of 32 + 10; 316 series (FingerMovements)
    # are already 10 batches; 33 = 32 + a batch of one, skipped: 10 copies, 11 steps;
    # drop_last: 40 = one batch, 8 copies = 10 batches.
    [(30, False, 11), (316, False, 10), (33, False, 11), (40, True, 10)],
)
def test_an_epoch_takes_at_least_min_epoch_steps(n, drop_last, steps):
    est = TimeDRLTransformer(**TINY, n_epochs=1, drop_last=drop_last).fit(_series(n, 8))
    assert est.n_iter_ == steps and est.n_epochs_ == 1
    X = _series(n, 8)
    tiled = est.prepare_training_data(X)
    assert len(tiled) % n == 0  # whole copies: every series equally often
    np.testing.assert_array_equal(tiled[:n], X)
    one_pass = TimeDRLTransformer(**TINY, n_epochs=1, drop_last=drop_last, min_epoch_steps=1)
    assert one_pass.fit(X).n_iter_ == (
        n // 32 + (0 if drop_last or n % 32 < 2 else 1) if n >= 32 else 1)


def test_min_epoch_steps_keeps_the_schedule_per_epoch():
    history = History()
    est = TimeDRLTransformer(**TINY, n_epochs=3, callbacks=[history]).fit(_series(30, 8))
    assert est.n_iter_ == 33  # 3 epochs of 11 steps
    rates = [row["lr"] for row in est.callbacks_[0].history_]
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 5e-4])  # type1 per (longer) epoch
    with pytest.raises(ValueError, match="min_epoch_steps"):
        TimeDRLTransformer(min_epoch_steps=0).fit(_series(30, 8))


@pytest.mark.parametrize("n, drop_last, steps", [(40, False, 2), (33, False, 1), (40, True, 1)])
def test_last_partial_batch_is_kept_by_default(n, drop_last, steps):
    # Batch 32: 40 series give 32 + 8; 33 give 32 + 1 and the batch of one is skipped.
    params = {**TINY, "n_epochs": 1, "drop_last": drop_last, "min_epoch_steps": 1}
    assert TimeDRLTransformer(**params).fit(_series(n, 8)).n_iter_ == steps


@pytest.mark.parametrize("token_embedding", ["linear", "conv"])
@pytest.mark.parametrize("positional_encoding", ["none", "fixed", "learnable"])
def test_encoder_options_reach_the_network(token_embedding, positional_encoding):
    X = _series(6, 12)
    est = TimeDRLTransformer(**TINY, n_iters=2, token_embedding=token_embedding,
                             token_kernel_size=5, positional_encoding=positional_encoding)
    encoder = est.fit(X).module_.encoder
    if token_embedding == "conv":
        assert isinstance(encoder.embed, CircularConvEmbedding)
        assert encoder.embed.weight.shape[-1] == 5
    else:
        assert isinstance(encoder.embed, torch.nn.Linear)
    assert (encoder.position is not None) == (positional_encoding == "learnable")
    if positional_encoding != "learnable":  # longer series than in fit encode too
        assert est.encode(_series(3, 40), level="patch").shape == (3, n_patches(40, 4, 2), 16)


def test_append_stats_adds_the_revin_location_and_scale():
    X = _series(5, 15, 3) * np.array([1.0, 5.0, 0.2], dtype=np.float32) + 2.0
    X[0, 10:, 1] = np.nan
    plain = TimeDRLTransformer(**TINY, n_iters=2).fit(X)
    est = clone(plain).set_params(append_stats=True).fit(X)
    Z = est.transform(X)
    D = plain.embedding_dims("instance")
    assert Z.shape == (5, D + 6) == (5, est.embedding_dims("instance"))
    np.testing.assert_array_equal(Z[:, :D], plain.transform(X))  # same weights, same [CLS]
    mean = np.nanmean(X.astype(np.float64), axis=1)
    std = np.sqrt(np.nanvar(X.astype(np.float64), axis=1) + 1e-5)
    np.testing.assert_allclose(Z[:, D:], np.concatenate([mean, std], axis=1), rtol=1e-5)
    # Other levels are unchanged, and the feature names follow the width.
    assert est.encode(X, level="patch").shape[-1] == D == est.embedding_dims("patch")
    assert len(est.get_feature_names_out()) == D + 6


# --------------------------------------------------------- sklearn contract
def test_seeded_fits_are_identical_and_persistence_round_trips(tmp_path):
    X = _series(8, 16)
    est = TimeDRLTransformer(**TINY, n_iters=3).fit(X)
    np.testing.assert_array_equal(est.transform(X), clone(est).fit(X).transform(X))
    est.save(tmp_path / "m.pt")
    for copy in (load(tmp_path / "m.pt"), pickle.loads(pickle.dumps(est))):
        np.testing.assert_array_equal(copy.encode(X, level="patch"), est.encode(X, level="patch"))


def test_pipeline_on_real_data_beats_chance():
    X_train, y_train, X_test, y_test = load_dataset("GunPoint")
    pipe = make_pipeline(
        TimeDRLTransformer(output_dims=16, n_heads=2, n_layers=1, patch_len=10, stride=5,
                           n_epochs=5, batch_size=16, random_state=0),
        StandardScaler(),
        LogisticRegression(max_iter=2000),
    )
    assert pipe.fit(X_train, y_train).score(X_test, y_test) > 0.7


def test_forecasting_probe_on_etth1(shared_data):
    """The windowed ridge probe on TimeDRL timestamp embeddings forecasts ETTh1.

    A tiny encoder, few windows: the probe must beat predicting each window's own
    mean (the zero forecast in the window's normalisation), which needs the
    embedding to carry the window's shape.
    """
    from sslts.evaluation import evaluate_window_forecasting, load_ett

    data = load_ett("ETTh1", data_home=shared_data)
    enc = TimeDRLTransformer(output_dims=16, n_heads=2, n_layers=1, patch_len=8, stride=4,
                             n_iters=30, device="cpu", random_state=0)
    res = evaluate_window_forecasting(enc, data, lookback=96, horizons=(24,), fit_stride=48,
                                      probe_stride=24, test_stride=24)
    h24 = res["horizons"][24]
    values = data.data[0, :, data.n_covariates:]
    starts = np.arange(data.test.start - 96, data.test.stop - 96 - 24 + 1, 24)
    naive = np.mean([
        (values[s + 96 : s + 120] - values[s : s + 96].mean(0)) ** 2 for s in starts
    ])
    assert h24["n_test"] == len(starts)
    assert 0 < h24["mse"] < naive


def test_forecasting_probe_rejects_impossible_windows(shared_data):
    from sslts.evaluation import evaluate_window_forecasting, load_ett

    data = load_ett("ETTh1", data_home=shared_data)
    enc = TimeDRLTransformer(n_iters=1, device="cpu")
    with pytest.raises(ValueError, match="lookback must be a positive integer"):
        evaluate_window_forecasting(enc, data, lookback=0)
    with pytest.raises(ValueError, match="No window of lookback=20000"):
        evaluate_window_forecasting(enc, data, lookback=20000, horizons=(24,))
