"""Opt-in accelerators (bf16 autocast, TF32, torch.compile) and streaming transform."""

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

import sslts._inference
import sslts.base
from sslts import TS2VecTransformer, load_dataset
from sslts._accelerate import cpu_supports_bf16

TINY = dict(output_dims=16, hidden_dims=16, depth=3, n_iters=8, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def gunpoint(shared_data):
    X_train, _, X_test, _ = load_dataset("GunPoint", data_home=shared_data)
    return X_train, X_test


@pytest.fixture(scope="module")
def fitted(gunpoint):
    return TS2VecTransformer(**TINY).fit(gunpoint[0])


def relative_error(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_bf16_inference_is_close_to_float32(fitted, gunpoint):
    Z32 = fitted.transform(gunpoint[1])
    if not cpu_supports_bf16():  # e.g. an AVX2-only CPU: the documented float32 fallback
        with pytest.warns(UserWarning, match="bfloat16 kernels that this CPU lacks"):
            Z = fitted.set_params(precision="bf16").transform(gunpoint[1])
        fitted.set_params(precision="float32")
        np.testing.assert_array_equal(Z, Z32)
        return
    Z16 = fitted.set_params(precision="bf16").transform(gunpoint[1])
    fitted.set_params(precision="float32")
    assert Z16.dtype == np.float32
    assert not np.array_equal(Z16, Z32)  # autocast really ran in bfloat16
    assert relative_error(Z16, Z32) < 0.05  # bfloat16 keeps ~3 significant digits


def test_bf16_training_runs_and_stays_close(fitted, gunpoint):
    enc = TS2VecTransformer(**TINY, precision="bf16").fit(gunpoint[0])
    assert np.all(np.isfinite(enc.loss_history_))
    Z16, Z32 = enc.transform(gunpoint[1]), fitted.transform(gunpoint[1])
    assert np.corrcoef(Z16.ravel(), Z32.ravel())[0, 1] > 0.99


def test_tf32_on_cpu_warns_and_equals_float32(fitted, gunpoint):
    Z32 = fitted.transform(gunpoint[1][:20])
    with pytest.warns(UserWarning, match="only affects CUDA"):
        Z = fitted.set_params(precision="tf32").transform(gunpoint[1][:20])
    fitted.set_params(precision="float32")
    np.testing.assert_array_equal(Z, Z32)


def test_unknown_precision_is_rejected(gunpoint):
    with pytest.raises(InvalidParameterError, match="precision"):
        TS2VecTransformer(**TINY, precision="fp8").fit(gunpoint[0])


def test_compile_wraps_the_encoder_for_fit_and_transform(monkeypatch, gunpoint):
    calls = []

    def fake_compile(module, dynamic=None):
        calls.append((type(module).__name__, dynamic))
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    enc = TS2VecTransformer(**TINY, n_epochs=1, compile=True).fit(gunpoint[0])
    n_fit = len(calls)
    enc.transform(gunpoint[1][:5])
    assert n_fit >= 1 and len(calls) == n_fit + 1
    assert set(calls) == {("TS2VecEncoder", True)}  # dynamic: crop lengths vary


def test_compile_false_never_compiles(monkeypatch, fitted, gunpoint):
    monkeypatch.setattr(torch, "compile", lambda *a, **k: pytest.fail("compiled"))
    fitted.transform(gunpoint[1][:5])


def test_transform_validates_and_encodes_in_bounded_blocks(monkeypatch, fitted, gunpoint):
    X = gunpoint[1]  # 150 series of 150 steps
    expected = fitted.transform(X)
    seen = []
    check = sslts._inference.check_time_series

    def spy(X, **kwargs):
        seen.append(len(X))
        return check(X, **kwargs)

    monkeypatch.setattr(sslts._inference, "check_time_series", spy)
    monkeypatch.setattr(sslts._inference, "_ENCODE_BLOCK_VALUES", 150 * 40)
    got = fitted.transform(X)
    assert seen == [40, 40, 40, 30]  # never the whole array at once
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    ts = fitted.encode(X[:50], level="timestamp")
    assert ts.shape == (50, 150, 16)


def test_blockwise_errors_say_which_block(monkeypatch, fitted, gunpoint):
    X = gunpoint[1][:100].copy()
    X[57] = np.nan
    monkeypatch.setattr(sslts._inference, "_ENCODE_BLOCK_VALUES", 150 * 40)
    with pytest.raises(ValueError, match=r"In X\[40:80\]: .*indices \[17\]"):
        fitted.transform(X)
