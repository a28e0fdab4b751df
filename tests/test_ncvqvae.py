"""NC-VQVAE: the STFT path, the EMA vector quantiser, the losses and the estimator.

The references are written out by hand: the STFT layout is compared with
``torch.stft`` channel by channel, the quantiser with the EMA formulas applied code
by code in plain Python on a 3-code example, and the estimator's loss terms with a
re-statement of the thesis's loss on a constructed batch.
"""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sslts
from sslts.augment import jitter, slice_and_shuffle
from sslts.callbacks import Callback
from sslts.encoders.quantize import VectorQuantizer, code_usage, perplexity
from sslts.encoders.vqvae import (
    STFT,
    InverseSTFT,
    VQVAEDecoder,
    VQVAEEncoder,
    grid_mean_max,
    n_downsampling_blocks,
    observed_columns,
    observed_frames,
    timestamp_to_latent,
)
from sslts.methods.ncvqvae import NCVQVAETransformer
from sslts.utils.torch_utils import RandomStreams


# ------------------------------------------------------------------ STFT path
@pytest.mark.parametrize("length", [1, 3, 5, 24, 101])  # <= n_fft // 2: replicate padding
@pytest.mark.parametrize("n_fft", [8, 16])
def test_stft_then_inverse_reconstructs_the_series(length, n_fft):
    x = torch.randn(3, length, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    u = STFT(n_fft)(x.float())
    back = InverseSTFT(n_fft)(u, length)
    assert back.shape == x.shape
    torch.testing.assert_close(back.double(), x, atol=2e-6, rtol=0)


def test_stft_layout_is_real_and_imaginary_parts_of_each_channel():
    x = torch.randn(2, 30, 3, generator=torch.Generator().manual_seed(1))
    u = STFT(8)(x)  # (B, 2C, F, W)
    assert u.shape == (2, 6, 5, 16)
    for c in range(3):
        spec = torch.stft(x[:, :, c], 8, 2, window=torch.hann_window(8), center=True,
                          pad_mode="reflect", return_complex=True)
        torch.testing.assert_close(u[:, 2 * c], spec.real)
        torch.testing.assert_close(u[:, 2 * c + 1], spec.imag)


def test_stft_rejects_a_too_small_window():
    with pytest.raises(ValueError, match="n_fft=2 must be at least 4"):
        STFT(2)


# ------------------------------------------------------- encoder / decoder shapes
# Latent widths W' of the thesis datasets with the code's downsampled_width 8, as
# listed in the reference (ElecDev 12, FordA 15, Wafer 9, UWave 14, Symbols 12, ...).
LATENT_WIDTH = {96: 12, 500: 15, 152: 9, 945: 14, 398: 12, 140: 8, 512: 8, 1024: 8, 70: 9,
                65: 8}


@pytest.mark.parametrize("length", list(LATENT_WIDTH))
def test_downsampling_gives_the_reference_latent_widths(length):
    n_down = n_downsampling_blocks(length, 8, 8)
    width = (length // 2 + 1) // 2**n_down
    assert width == LATENT_WIDTH[length]
    enc = VQVAEEncoder(2, dim=4, n_down=n_down, n_res_blocks=1)
    assert enc(torch.zeros(1, 2, 5, length // 2 + 1)).shape == (1, 4, 5, width)


def test_downsampling_of_short_series_uses_one_block():
    assert n_downsampling_blocks(5, 8, 8) == 1
    assert n_downsampling_blocks(20, 8, 8) == 1  # r = round(1.25) = 1


@pytest.mark.parametrize("n_down", [1, 2, 4])
def test_decoder_restores_the_spectrogram_shape(n_down):
    enc = VQVAEEncoder(4, dim=8, n_down=n_down, n_res_blocks=2)
    dec = VQVAEDecoder(4, dim=8, n_down=n_down, n_res_blocks=2)
    u = torch.randn(2, 4, 5, 37)
    assert dec(enc(u), size=(5, 37)).shape == u.shape


def test_encoder_layers_follow_the_official_shapes():
    enc = VQVAEEncoder(2, dim=8, n_down=3, n_res_blocks=4)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    down, res = convs[:3], convs[3:]
    assert all(c.kernel_size == (3, 4) and c.stride == (1, 2) for c in down)
    assert all(c.padding_mode == "replicate" for c in down)
    assert [c.kernel_size for c in res] == [(3, 3), (1, 1)] * 4
    dec = VQVAEDecoder(2, dim=8, n_down=3, n_res_blocks=4)
    ups = [m for m in dec.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(ups) == 3 + 1  # n_down - 1 blocks, then to 2C, then one extra upsampling
    # The decoder's residual blocks have no inner batch norm, the encoder's have one.
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in dec.modules())
    assert n_bn == 4 + 2  # one after each residual block and in each up block


@pytest.mark.parametrize(("length", "n_down"), [(12, 1), (24, 1), (101, 3), (7, 2)])
def test_timestamp_to_latent_matches_a_loop_over_frames(length, n_down):
    index = timestamp_to_latent(length, 8, n_down).tolist()
    width = max(1, (length // 2 + 1) // 2**n_down)
    expected = []
    for t in range(length):
        # the frame whose centre (2k) is nearest to t, ties to the later frame
        frame = min(range(length // 2 + 1), key=lambda k: (abs(2 * k - t), -k))
        expected.append(min(frame // 2**n_down, width - 1))
    assert index == expected
    assert set(index) == set(range(width))  # every latent column is used


def test_masks_and_pooling_match_loops():
    g = torch.Generator().manual_seed(3)
    observed = torch.rand(3, 23, 2, generator=g) > 0.3
    observed[0, 9:] = False  # right padding
    observed[1] = False
    observed[1, 0, 1] = True  # a single observed value
    n_down, width = 1, (23 // 2 + 1) // 2
    index = timestamp_to_latent(23, 8, n_down).tolist()
    columns = observed_columns(observed, 8, n_down, width)
    for b in range(3):
        expected = [any(observed[b, t].any() for t in range(23) if index[t] == j)
                    for j in range(width)]
        assert columns[b].tolist() == expected
    frames = observed_frames(observed, 8, 23 // 2 + 1)
    for b in range(3):
        for c in range(2):
            for k in range(12):
                expected = bool(observed[b, min(2 * k, 22), c])
                assert frames[b, 2 * c, 0, k] == frames[b, 2 * c + 1, 0, k] == expected
    z = torch.randn(3, 4, 5, width, generator=g)
    pooled = grid_mean_max(z, columns)
    for b in range(3):
        live = [j for j in range(width) if columns[b, j]]
        values = z[b][:, :, live].reshape(4, -1)
        torch.testing.assert_close(pooled[b], torch.cat([values.mean(1), values.amax(1)]))


# --------------------------------------------------------------- quantiser
CODES = [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]  # the 3-code example
Z = [[0.5, 0.1], [1.8, 0.4], [1.5, -0.2], [0.1, 0.3]]  # four latents, D = 2


def _three_code_quantizer(decay=0.9, commitment=1.0):
    vq = VectorQuantizer(n_codes=3, dim=2, decay=decay, commitment=commitment)
    vq.codebook.copy_(torch.tensor(CODES))
    vq.code_sum.copy_(torch.tensor(CODES))  # m starts at the initial codebook
    return vq


def _as_map(rows):
    """(N, D) rows -> a (1, D, 1, N) latent map, the layout the quantiser takes."""
    return torch.tensor(rows).T[None, :, None, :].clone()


def _nearest(z, codes):
    return min(range(len(codes)), key=lambda k: sum((a - b) ** 2 for a, b in zip(z, codes[k])))


def test_quantizer_picks_nearest_codes_with_a_straight_through_gradient():
    vq = _three_code_quantizer(commitment=0.5).train()
    z = _as_map(Z).requires_grad_()
    z_q, codes, loss = vq(z)
    expected = [_nearest(row, CODES) for row in Z]
    assert expected == [0, 1, 1, 0]
    assert codes.flatten().tolist() == expected
    torch.testing.assert_close(z_q[0, :, 0].T, torch.tensor([CODES[k] for k in expected]))
    # commitment = beta * mean over all N * D entries of (z - e)^2
    sq = sum((a - b) ** 2 for row, k in zip(Z, expected) for a, b in zip(row, CODES[k]))
    assert float(loss.detach()) == pytest.approx(0.5 * sq / 8, rel=1e-6)
    # Straight through: the gradient of w . z_q with respect to z is w.
    weights = torch.randn_like(z_q)
    (grad,) = torch.autograd.grad((weights * z_q).sum(), z, retain_graph=True)
    torch.testing.assert_close(grad, weights)
    # The commitment gradient is 2 beta (z - e) / (N D); nothing flows into the codes.
    (grad,) = torch.autograd.grad(loss, z)
    e = torch.tensor([CODES[k] for k in expected]).T[None, :, None, :]
    torch.testing.assert_close(grad, 2 * 0.5 * (z.detach() - e) / 8)


def test_ema_update_matches_the_formulas_code_by_code():
    decay, eps = 0.9, 1e-5
    vq = _three_code_quantizer(decay).train()
    n = [0.0, 0.0, 0.0]
    m = [list(c) for c in CODES]
    batches = [Z, [[0.2, 1.9], [1.7, 0.1], [0.0, 2.2]]]
    for batch in batches:
        codebook = vq.codebook.tolist()
        assigned = [_nearest(row, codebook) for row in batch]
        for k in range(3):
            members = [row for row, a in zip(batch, assigned) if a == k]
            n[k] = decay * n[k] + (1 - decay) * len(members)
            for d in range(2):
                m[k][d] = decay * m[k][d] + (1 - decay) * sum(row[d] for row in members)
        total = sum(n)
        smoothed = [(n[k] + eps) / (total + 3 * eps) * total for k in range(3)]
        expected = [[m[k][d] / smoothed[k] for d in range(2)] for k in range(3)]
        vq(_as_map(batch))
        torch.testing.assert_close(vq.cluster_size, torch.tensor(n))
        torch.testing.assert_close(vq.code_sum, torch.tensor(m))
        torch.testing.assert_close(vq.codebook, torch.tensor(expected))
    # Code 2 got nothing in the first batch: it was pushed out by ~decay / eps.
    assert vq.codebook[2].norm() > 1e4


def test_eval_mode_freezes_the_codebook_and_returns_exact_codes():
    vq = _three_code_quantizer().eval()
    before = {k: v.clone() for k, v in vq.state_dict().items()}
    z_q, codes, _ = vq(_as_map(Z))
    for k, v in vq.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert torch.equal(z_q[0, :, 0].T, vq.codebook[codes.flatten()])


def test_quantizer_rejects_a_bad_width_and_decay():
    with pytest.raises(ValueError, match="z has 3 channels"):
        _three_code_quantizer()(torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="decay=1"):
        VectorQuantizer(decay=1)


def test_code_usage_and_perplexity():
    counts = code_usage(torch.tensor([[3, 3], [0, 3]]), 5)
    assert counts.tolist() == [1, 0, 0, 3, 0]
    p = np.array([0.25, 0.75])
    assert perplexity(counts) == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert perplexity(torch.tensor([2, 2, 2, 2])) == pytest.approx(4.0)
    assert perplexity(torch.tensor([0, 7, 0])) == pytest.approx(1.0)


def test_a_validation_pass_leaves_the_codebook_alone():
    vq = _three_code_quantizer().train()
    before = {k: v.clone() for k, v in vq.state_dict().items()}
    vq(_as_map(Z), update=False)
    for k, v in vq.state_dict().items():
        assert torch.equal(v, before[k]), k


# ------------------------------------------------------------------ estimator

TINY = {"output_dims": 8, "n_codes": 4, "n_res_blocks": 1, "projector_dims": 16,
        "batch_size": 8, "device": "cpu", "random_state": 0}


def _tiny(**params):
    return NCVQVAETransformer(**{**TINY, "n_iters": 2, **params})


def _sines(n=16, length=40, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 6 * np.pi, length)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1, channels))
    return (3 + 2 * np.sin(t + phase) + 0.1 * rng.normal(size=(n, length, channels)))


def _step_context():
    """What training_step reads from the loop's context."""
    return SimpleNamespace(rng=RandomStreams(0, torch.device("cpu")), training=True)


def _reference_loss(est, module, batch, generator):
    """The thesis's loss, restated term by term (complete batch, no NaN)."""
    x = (batch - module.loc) / module.scale
    T = x.shape[1]
    u = module.stft(x)
    z = module.encoder(u)
    D = z.shape[1]
    flat = z.permute(0, 2, 3, 1).reshape(-1, D)
    nearest = torch.cdist(flat, module.quantizer.codebook).argmin(dim=1)
    e = module.quantizer.codebook[nearest].reshape(z.shape[0], z.shape[2], z.shape[3], D)
    e = e.permute(0, 3, 1, 2)
    z_q = z + (e - z).detach()
    u_hat = module.decoder(z_q, u.shape[-2:])
    loss = (F.mse_loss(module.istft(u_hat, T), x) + F.mse_loss(u_hat, u)
            + est.commitment * F.mse_loss(z, e))
    if est.ssl is None:
        return loss
    if est.augmentation == "slice":  # the augmented view
        view = slice_and_shuffle(x, 4, generator=generator)
    else:
        view = jitter(x, 0.05, generator=generator)
    u_aug = module.stft(view)
    z_aug = module.encoder(u_aug)
    u_aug_hat = module.decoder(z_aug, u_aug.shape[-2:])
    loss = loss + est.aug_recon_weight * (
        F.mse_loss(module.istft(u_aug_hat, T), view) + F.mse_loss(u_aug_hat, u_aug))

    def project(latent):
        return module.projector(torch.cat([latent.mean(dim=(2, 3)), latent.amax(dim=(2, 3))], 1))

    p1, p2 = project(z_q), project(z_aug)
    if est.ssl == "barlow_twins":
        s1 = (p1 - p1.mean(0)) / p1.std(0, unbiased=False)
        s2 = (p2 - p2.mean(0)) / p2.std(0, unbiased=False)
        c = s1.T @ s2 / len(p1)
        off = c - torch.diag(c.diagonal())
        ssl = ((1 - c.diagonal()) ** 2).sum() + 0.005 * (off**2).sum()
        return loss + ssl / p1.shape[1]
    P = p1.shape[1]

    def variance(p):
        return F.relu(1 - torch.sqrt(p.var(0) + 1e-4)).mean()

    def covariance(p):
        n = F.normalize(p - p.mean(0), dim=0)
        r = n.T @ n
        return ((r - torch.diag(r.diagonal())) ** 2).sum() / P**2

    ssl = (25 * F.mse_loss(p1, p2) + 25 * (variance(p1) + variance(p2))
           + 100 * (covariance(p1) + covariance(p2)))
    return loss + 0.01 * ssl


@pytest.mark.parametrize(("ssl", "augmentation"),
                         [(None, "slice"), ("barlow_twins", "slice"), ("vibcreg", "gauss")])
def test_training_step_is_the_thesis_loss(ssl, augmentation):
    est = _tiny(ssl=ssl, augmentation=augmentation).fit(_sines())
    module = est.module_.train()
    batch = torch.from_numpy(_sines(8, seed=1).astype(np.float32))
    reference = copy.deepcopy(module)  # the step moves the codebook and BN statistics
    ctx = _step_context()
    generator = torch.Generator()
    generator.set_state(ctx.rng.torch.get_state())  # the same view
    loss = est.training_step(module, batch, ctx)
    expected = _reference_loss(est, reference, batch, generator)
    torch.testing.assert_close(loss, expected, rtol=1e-4, atol=1e-5)


def test_missing_values_are_left_out_of_losses_and_pooling():
    X = _sines()
    est = _tiny(ssl="barlow_twins").fit(X)
    padded = torch.from_numpy(_sines(8, seed=2).astype(np.float32))
    padded[:4, 30:] = float("nan")  # right padding
    padded[5, 10:13] = float("nan")  # a gap
    module = est.module_.train()
    loss = est.training_step(module, padded, _step_context())
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in module.parameters() if p.grad is not None)
    # The representation averages the codes of the columns that cover an observed step.
    Z = est.transform(padded.numpy())
    vectors = est.module_.quantizer.codebook.numpy()[est.tokenize(padded.numpy())]
    index = timestamp_to_latent(40, 8, est.n_down_).numpy()
    for i in range(8):
        observed = ~np.isnan(padded[i].numpy()).all(axis=1)
        live = sorted(set(index[observed]))
        assert len(live) < 10 if i < 4 else len(live) == 10
        np.testing.assert_allclose(Z[i], vectors[i][:, live].mean(axis=(0, 1)), rtol=1e-5,
                                   atol=1e-6)


def test_reconstruction_error_falls_during_a_short_fit_on_gunpoint():
    X_train, _, X_test, _ = sslts.load_dataset("GunPoint")
    X_train, X_test = X_train[:, ::3], X_test[:40, ::3]  # 50 series of 50 steps
    est = _tiny(output_dims=16, n_codes=16, batch_size=16, n_iters=1).fit(X_train)

    def error():
        return float(np.mean((est.reconstruct(X_test) - X_test) ** 2))

    before = error()
    est.set_params(warm_start=True, n_iters=60).fit(X_train)
    after = error()
    assert after < 0.5 * before, (before, after)
    assert est.loss_history_[-1] < est.loss_history_[0]


def test_representations_are_pooled_codes():
    X = _sines()
    est = _tiny(ssl=None).fit(X)
    codes = est.tokenize(X)
    assert codes.shape == (16, 5, 10) and codes.dtype == np.int64
    codebook = est.module_.quantizer.codebook.numpy()
    vectors = codebook[codes]  # (n, F, W', D)
    np.testing.assert_allclose(est.transform(X), vectors.mean(axis=(1, 2)), rtol=1e-5,
                               atol=1e-6)
    # Time step t gets its latent column (see timestamp_to_latent), averaged over F.
    index = timestamp_to_latent(40, 8, est.n_down_).numpy()
    np.testing.assert_allclose(est.encode(X, level="timestamp"),
                               vectors.mean(axis=1)[:, index], rtol=1e-5, atol=1e-6)


def test_codebook_usage_counts_the_training_tokens():
    X = _sines()
    est = _tiny(ssl=None, n_codes=3).fit(X)
    counts = np.bincount(est.tokenize(X).ravel(), minlength=3)
    np.testing.assert_allclose(est.codebook_usage_, counts / counts.sum())
    assert est.perplexity_ == pytest.approx(perplexity(torch.from_numpy(counts)))


def test_fit_warns_when_most_codes_are_dead():
    with pytest.warns(UserWarning, match=r"only \d+ of the 64 codes are used"):
        _tiny(ssl=None, n_codes=64).fit(_sines())


def test_encoding_never_moves_the_model():
    X = _sines()
    est = _tiny().fit(X)
    before = {k: v.clone() for k, v in est.module_.state_dict().items()}
    est.transform(X), est.tokenize(X), est.reconstruct(X)
    est.encode(X, level="timestamp")
    for k, v in est.module_.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_reconstruct_keeps_units_layout_and_padding():
    X = _sines(channels=2)
    X[:3, 30:] = np.nan
    est = _tiny(ssl=None).fit(X)
    X_hat = est.reconstruct(X)
    assert X_hat.shape == X.shape and X_hat.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(X_hat), np.isnan(X))
    # In the units of X (mean 3), not standardised.
    assert abs(np.nanmean(X_hat) - 3) < 1.0
    first = _tiny(ssl=None, input_layout="channels_first").fit(X.transpose(0, 2, 1))
    np.testing.assert_array_equal(first.reconstruct(X.transpose(0, 2, 1)),
                                  X_hat.transpose(0, 2, 1))


def test_standardisation_comes_from_the_first_fit():
    X = _sines(channels=2)
    est = _tiny(ssl=None).fit(X)
    flat = X.reshape(-1, 2)
    np.testing.assert_allclose(est.module_.loc.numpy(), flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(est.module_.scale.numpy(), flat.std(0), rtol=1e-5)
    est.set_params(warm_start=True).fit(10 * X)  # a warm start keeps them
    np.testing.assert_allclose(est.module_.loc.numpy(), flat.mean(0), rtol=1e-5)


class _LearningRates(Callback):
    def on_epoch_start(self, est, ctx):  # callbacks' on_fit_start runs before the method's
        if ctx.epoch == 0:
            self.rates = [ctx.optimizer.param_groups[0]["lr"]]

    def on_step_end(self, est, ctx):  # after the method's hook: the next step's rate
        self.rates.append(ctx.optimizer.param_groups[0]["lr"])


def test_cosine_schedule_spans_the_fit():
    est = _tiny(ssl=None, lr=0.01, n_iters=None, n_epochs=3, callbacks=[_LearningRates()])
    est.fit(_sines())  # 16 series in batches of 8: 6 steps
    total = 6
    expected = [0.01 * (1 + math.cos(math.pi * t / total)) / 2 for t in range(total + 1)]
    np.testing.assert_allclose(est.callbacks_[0].rates, expected, atol=1e-12)
    est.set_params(warm_start=True).fit(_sines())  # each fit restarts the schedule
    assert est.callbacks_[0].rates[0] == 0.01
    est = _tiny(ssl=None, lr=0.01, lr_schedule="constant", callbacks=[_LearningRates()])
    assert est.fit(_sines()).callbacks_[0].rates == [0.01] * 3


def test_one_series_needs_ssl_none():
    X = _sines(1)
    with pytest.raises(ValueError, match="at least 2 training series"):
        _tiny().fit(X)
    assert _tiny(ssl=None).fit(X).transform(X).shape == (1, 8)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="ssl"):
        _tiny(ssl="simclr").fit(_sines())
    with pytest.raises(ValueError, match="augmentation"):
        _tiny(augmentation="crop").fit(_sines())


def test_short_and_multichannel_series():
    X = _sines(length=140, channels=3)
    est = _tiny().fit(X)
    assert est.n_down_ == 3
    # 5 steps give 3 frames: fewer than 2**3, so the last one is repeated.
    for length in (1, 3, 5):
        assert est.transform(X[:, :length]).shape == (16, 8)
        assert est.tokenize(X[:, :length]).shape == (16, 5, 1)
        assert est.encode(X[:, :length], level="timestamp").shape == (16, length, 8)
    # Training series shorter than the slice view (4 steps) are their own view.
    short = _tiny().fit(X[:, :3])
    assert np.isfinite(short.transform(X[:, :3])).all()
