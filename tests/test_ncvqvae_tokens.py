"""NC-VQVAE's token API: tokens at a temperature, code distances, decoding tokens to series.

References: distances against ``torch.cdist`` on the latents read from the network
directly; decoding against ``reconstruct`` (the same path from the quantiser's
output); sampled tokens against the softmax frequencies they are drawn from.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslts.methods.ncvqvae import NCVQVAETransformer

TINY = dict(output_dims=8, n_codes=6, n_res_blocks=1, projector_dims=16, n_iters=3,
            batch_size=8, device="cpu", random_state=0)


def _series(n=12, length=40, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 4 * np.pi, length)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1, channels))
    return (3 * np.sin(t + phase) + 5 + 0.1 * rng.normal(size=(n, length, channels)))


pytestmark = pytest.mark.filterwarnings("ignore:NCVQVAETransformer. only:UserWarning")


@pytest.fixture(scope="module")
def fitted():
    X = _series()
    return NCVQVAETransformer(**TINY).fit(X), X


@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_decoding_the_tokens_is_the_reconstruction(layout):
    X = _series(channels=2)
    if layout == "channels_first":
        X = X.transpose(0, 2, 1)
    enc = NCVQVAETransformer(**TINY, input_layout=layout).fit(X)
    decoded = enc.decode_tokens(enc.tokenize(X))
    np.testing.assert_array_equal(decoded, enc.reconstruct(X))
    assert decoded.shape == X.shape
    # in the data's units: far from the standardised scale (mean 5, amplitude 3)
    assert abs(float(decoded.mean()) - 5.0) < 1.5


def test_decoded_series_have_the_training_length_and_no_padding(fitted):
    enc, X = fitted
    ragged = [X[0, :25], X[1]]  # a shorter series: its reconstruction keeps NaN padding
    assert np.isnan(enc.reconstruct(ragged)[0, 25:]).all()
    decoded = enc.decode_tokens(enc.tokenize(ragged))
    assert decoded.shape == (2, 40, 1) and np.isfinite(decoded).all()


@pytest.mark.parametrize("length", [24, 65, 70, 140])
def test_token_shape_is_the_grid_of_tokenize(length):
    X = _series(n=6, length=length)
    enc = NCVQVAETransformer(**TINY).fit(X)
    assert enc.tokenize(X).shape == (6, *enc.token_shape_)
    assert enc.token_shape_[0] == 5


def test_code_distances_match_cdist_on_the_latents(fitted):
    enc, X = fitted
    module = enc.module_
    with torch.no_grad():
        x = module.standardise(torch.as_tensor(X[:, :, None] if X.ndim == 2 else X,
                                               dtype=torch.float32))
        z = module.encoder(module.stft(x)).movedim(1, -1)  # (n, F, W', D)
        book = module.quantizer.codebook
        expected = torch.cdist(z.reshape(-1, z.shape[-1]).double(), book.double()) ** 2
    got = enc.code_distances(X)
    assert got.shape == (*z.shape[:-1], enc.n_codes)
    np.testing.assert_allclose(got.reshape(-1, enc.n_codes), expected.numpy(), rtol=1e-4,
                               atol=1e-3)
    np.testing.assert_array_equal(got.argmin(-1), enc.tokenize(X))


def test_codebook_is_a_copy_of_the_quantiser_codes(fitted):
    enc, _ = fitted
    book = enc.codebook_
    np.testing.assert_array_equal(book, enc.module_.quantizer.codebook.numpy())
    book[:] = 0
    assert not np.array_equal(enc.codebook_, book)  # a copy: the model is untouched


def test_tokens_at_a_temperature_follow_the_softmax_of_the_distances(fitted):
    enc, X = fitted
    many = np.repeat(X[:1], 3000, axis=0)
    draws = enc.tokenize(many, temperature=1.0, random_state=0)  # (3000, F, W')
    logits = -torch.from_numpy(enc.code_distances(X[:1])[0]).double()  # (F, W', K)
    probs = logits.softmax(-1).numpy()
    freq = np.stack([(draws == k).mean(0) for k in range(enc.n_codes)], axis=-1)
    np.testing.assert_allclose(freq, probs, atol=0.035)


def test_sampled_tokens_repeat_with_a_seed_and_vary_without(fitted):
    enc, X = fitted
    a = enc.tokenize(X, temperature=2.0, random_state=3)
    np.testing.assert_array_equal(a, enc.tokenize(X, temperature=2.0, random_state=3))
    assert not np.array_equal(a, enc.tokenize(X, temperature=2.0, random_state=4))
    assert a.dtype == np.int64 and a.min() >= 0 and a.max() < enc.n_codes
    # a vanishing temperature is the nearest code
    np.testing.assert_array_equal(enc.tokenize(X, temperature=1e-6, random_state=0),
                                  enc.tokenize(X))


@pytest.mark.parametrize("bad", [-1.0, float("nan"), True, "1"])
def test_bad_temperatures_are_refused(fitted, bad):
    enc, X = fitted
    with pytest.raises(ValueError, match="temperature"):
        enc.tokenize(X, temperature=bad)


def test_bad_codes_are_refused_with_the_expected_grid(fitted):
    enc, X = fitted
    codes = enc.tokenize(X)
    with pytest.raises(ValueError, match=r"shape \(n_series, 5, 10\)"):
        enc.decode_tokens(codes[:, :, :4])
    with pytest.raises(ValueError, match=r"in \[0, 6\)"):
        enc.decode_tokens(np.full_like(codes, 6))
    with pytest.raises(ValueError, match=r"in \[0, 6\)"):
        enc.decode_tokens(np.full_like(codes, -1))
    with pytest.raises(TypeError, match="integer"):
        enc.decode_tokens(codes.astype(float))
    with pytest.raises(TypeError, match="integer"):
        enc.decode_tokens(codes > 0)


def test_token_methods_need_a_fitted_model():
    from sklearn.exceptions import NotFittedError

    enc = NCVQVAETransformer(**TINY)
    for call in (lambda: enc.codebook_, lambda: enc.decode_tokens(np.zeros((1, 5, 10), int)),
                 lambda: enc.code_distances(_series())):
        with pytest.raises(NotFittedError):
            call()
