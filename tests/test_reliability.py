"""What a user can do that must end in a clear error, not a hang, a crash inside torch,
a silently ignored setting or a lost file -- on every estimator it applies to."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from conftest import TIMEOUT
from estimator_configs import (
    configured_estimators,
    estimator_id,
    make_tiny,
    model_output,
    small_series,
)
from sklearn.utils._param_validation import Interval

import sslts
from sslts import (
    EmbeddingAnomalyDetector,
    EmbeddingForecaster,
    InfoNCETransformer,
    TS2VecTransformer,
)
from sslts.callbacks import (
    Checkpoint,
    EarlyStopping,
    GradientAccumulation,
    GradientClipping,
    LearningRateScheduler,
)

ESTIMATORS = configured_estimators()
TRANSFORMERS = configured_estimators("transformer")
X = small_series(n_series=12, n_timestamps=24)


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (SIGALRM: POSIX, main thread)."""
    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module", params=TRANSFORMERS, ids=estimator_id)
def fitted(request):
    return make_tiny(request.param).fit(X)


# ----------------------------------------------------------------- sizes and values
@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_encode_refuses_bad_batch_sizes_at_once(fitted, bad):
    with deadline(20), pytest.raises(ValueError, match="'batch_size' parameter"):
        fitted.encode(X, batch_size=bad)


@pytest.mark.parametrize("kwargs", [{"causal": 1}, {"sliding_length": True},
                                    {"sliding_padding": -1}, {"mask_padding": "yes"}])
def test_encode_refuses_bad_modes(fitted, kwargs):
    with pytest.raises(ValueError, match="parameter of"):
        fitted.encode(X, **kwargs)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_batch_size_below_what_the_method_can_take_is_refused(cls):
    least = cls.min_batch_size
    if least == 1:
        make_tiny(cls, batch_size=1).fit(X)
        return
    with pytest.raises(ValueError, match=r"'batch_size' parameter .* range \[2, inf\)"):
        make_tiny(cls, batch_size=1).fit(X)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_micro_batches_below_what_the_method_can_take_are_refused(cls):
    est = make_tiny(cls, batch_size=4, callbacks=[GradientAccumulation(1)])
    if cls.min_batch_size == 1:
        est.fit(X)
        return
    with pytest.raises(ValueError, match="micro_batch_size >= 2"):
        est.fit(X)


def _size_parameters(cls):
    return sorted(
        name for name, constraints in cls._parameter_constraints.items()
        if any(isinstance(c, Interval) for c in constraints)
        and "boolean" not in constraints
    )


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_booleans_are_refused_where_numbers_are_expected(cls):
    names = _size_parameters(cls)
    assert "batch_size" in names and "lr" in names
    for name in names:
        with pytest.raises(ValueError, match=f"'{name}' parameter"):
            make_tiny(cls, **{name: True}).fit(X)


@pytest.mark.parametrize("callback", [
    EarlyStopping(patience=True), EarlyStopping(validation_fraction=1.5),
    GradientAccumulation(0), GradientClipping(float("inf")), GradientClipping(-1),
    LearningRateScheduler("StepLR"), LearningRateScheduler(torch.optim.lr_scheduler.StepLR,
                                                           step_every="batch"),
    Checkpoint("ckpt", every=0), Checkpoint("ckpt", resume="yes"),
], ids=repr)
def test_callbacks_refuse_bad_arguments_before_training(callback):
    est = make_tiny(TS2VecTransformer, callbacks=[callback])
    with pytest.raises(ValueError, match="parameter of"):
        est.fit(X)
    assert not hasattr(est, "module_")


def test_forecaster_refuses_empty_or_bad_penalties():
    y = np.sin(np.arange(200) / 5)
    for alphas in ([], [0.0], [1.0, np.nan]):
        with pytest.raises(ValueError, match="alphas must be a non-empty sequence"):
            EmbeddingForecaster(make_tiny(TS2VecTransformer), alphas=alphas).fit(y)


@pytest.mark.parametrize("threshold", [np.nan, np.inf, -np.inf])
def test_detector_refuses_a_non_finite_threshold(threshold):
    with pytest.raises(ValueError, match="'threshold' parameter"):
        EmbeddingAnomalyDetector(make_tiny(TS2VecTransformer), threshold=threshold).fit(
            np.sin(np.arange(200) / 5))


# ------------------------------------------------------------ no silent settings
def test_set_output_reaches_transform(fitted):
    pd = pytest.importorskip("pandas")
    est = pickle.loads(pickle.dumps(fitted)).set_output(transform="pandas")
    out = est.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.get_feature_names_out())
    np.testing.assert_array_equal(out.to_numpy(), fitted.transform(X))


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=estimator_id)
def test_feature_names_come_from_the_fitted_network(cls):
    est = make_tiny(cls).fit(X)
    width = est.transform(X).shape[1]
    assert est.n_features_out_ == width
    params = est.get_params()
    if "encoder_params" in params:  # the embeddings are the backbone's
        wider = dict(params["encoder_params"])
        key = "output_dims" if "output_dims" in wider else "base_width"
        est.set_params(encoder_params={**wider, key: wider[key] + 2})
    else:
        est.set_params(output_dims=params["output_dims"] + 2)
    assert len(est.get_feature_names_out()) == width
    with pytest.raises(ValueError, match="warm_start=True continues the fitted network"):
        est.set_params(warm_start=True).fit(X)


def test_a_warm_start_with_unchanged_architecture_still_works():
    est = make_tiny(TS2VecTransformer).fit(X)
    est.set_params(warm_start=True, n_iters=1, lr=1e-4).fit(X)
    assert est.n_iter_ == 3


@pytest.mark.parametrize("cls", [c for c in TRANSFORMERS if "timestamp" in c().valid_levels],
                         ids=estimator_id)
def test_padded_steps_have_nan_timestamp_embeddings(cls):
    X_ragged = X.copy()
    X_ragged[3, 17:] = np.nan  # series 3 ends after 17 steps
    est = make_tiny(cls).fit(X_ragged)
    Z = est.encode(X_ragged, level="timestamp")
    assert np.isnan(Z[3, 17:]).all() and np.isfinite(Z[3, :17]).all()
    assert np.isfinite(np.delete(Z, 3, axis=0)).all()
    assert np.isfinite(est.encode(X_ragged, level="timestamp", mask_padding=False)).all()


# ------------------------------------------------------------------ persistence
def test_numpy_integer_seeds_survive_save_and_resume(tmp_path):
    est = make_tiny(TS2VecTransformer, random_state=np.int64(3)).fit(X, checkpoint=tmp_path)
    est.save(tmp_path / "m.pt")
    assert sslts.load(tmp_path / "m.pt").random_state == 3
    again = make_tiny(TS2VecTransformer, random_state=np.int64(3)).fit(X, checkpoint=tmp_path)
    np.testing.assert_array_equal(again.transform(X), est.transform(X))


def lstm_factory(n_channels):
    """A module-level encoder factory: importable, hence savable by name."""
    return sslts.encoders.LSTMEncoder(n_channels, output_dims=4, hidden_dims=4)


def test_an_importable_encoder_factory_is_saved_by_name(tmp_path):
    est = make_tiny(InfoNCETransformer, encoder=lstm_factory, encoder_params=None).fit(
        X, checkpoint=tmp_path)
    est.save(tmp_path / "m.pt")
    loaded = sslts.load(tmp_path / "m.pt")
    assert loaded.encoder is lstm_factory
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_an_unsaveable_parameter_is_refused_before_training(tmp_path):
    est = make_tiny(InfoNCETransformer, encoder_params=None,
                    encoder=lambda c: sslts.encoders.LSTMEncoder(c, 4, 4))
    with pytest.raises(ValueError, match="cannot be saved or checkpointed: encoder=.*lambda"):
        est.fit(X, checkpoint=tmp_path)
    assert not hasattr(est, "module_")
    est.fit(X)  # without a checkpoint it trains
    with pytest.raises(ValueError, match="Pickle it instead"):
        est.save(tmp_path / "m.pt")


def test_a_model_fitted_on_a_missing_device_loads_on_the_cpu(tmp_path):
    est = make_tiny(TS2VecTransformer).fit(X)
    payload = sslts._persistence.estimator_payload(est)
    payload["device"] = "mps"
    sslts._persistence.atomic_save(payload, tmp_path / "m.pt")
    with pytest.warns(RuntimeWarning, match="MPS is not available here"):
        loaded = sslts.load(tmp_path / "m.pt")
    assert loaded.device_.type == "cpu"
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_save_never_replaces_what_is_not_a_regular_file(tmp_path):
    est = make_tiny(TS2VecTransformer).fit(X)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        est.save(fifo)
    assert fifo.exists() and not fifo.is_file()
    with pytest.raises(IsADirectoryError):
        est.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_failed_write_raises_oserror_and_leaves_nothing(tmp_path, monkeypatch):
    est = make_tiny(TS2VecTransformer).fit(X)
    (tmp_path / "m.pt").write_bytes(b"the previous model")

    def full_disk(obj, path):
        with open(path, "wb") as f:
            f.write(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc] unexpected pos 64")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="Could not write .*m.pt"):
        est.save(tmp_path / "m.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
    assert (tmp_path / "m.pt").read_bytes() == b"the previous model"


# ----------------------------------------------------------------- determinism
def _seeded(cls, seed):
    return model_output(make_tiny(cls, random_state=seed, n_iters=3).fit(X), X)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_seeded_fits_in_threads_equal_the_same_fits_alone(cls):
    # "Alone" also runs in a worker thread: libraries built with fast-math (numba's,
    # for one) can switch the main thread's floating-point mode (flush denormals),
    # which new threads do not inherit.
    with ThreadPoolExecutor(1) as pool:
        alone = {seed: pool.submit(_seeded, cls, seed).result() for seed in (0, 1)}
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda s: (s, _seeded(cls, s)), [0, 1, 0, 1]))
    for seed, Z in runs:
        np.testing.assert_array_equal(Z, alone[seed])


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_a_seeded_fit_leaves_the_global_generators_alone(cls):
    torch.manual_seed(123)
    before = torch.random.get_rng_state(), np.random.get_state()[1].copy()  # noqa: NPY002
    est = make_tiny(cls, random_state=0, callbacks=[EarlyStopping(validation_fraction=0.25)],
                    n_iters=None, n_epochs=2).fit(X)
    model_output(est, X)
    assert torch.equal(torch.random.get_rng_state(), before[0])
    np.testing.assert_array_equal(np.random.get_state()[1], before[1])  # noqa: NPY002


# ------------------------------------------------------------------ first contact
def test_a_data_home_keeps_loading_offline_and_suggests_names(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise AssertionError("went to the network although a data home was given")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    home = tmp_path / "archive"
    (home / "ucr" / "ECG200").mkdir(parents=True)
    for split in ("TRAIN", "TEST"):
        (home / "ucr" / "ECG200" / f"ECG200_{split}.tsv").write_text("1\t0.5\t0.25\n")
    with pytest.raises(FileNotFoundError, match=r"not found in .*archive.*Did you mean 'ECG200'"):
        sslts.load_dataset("ecg200", data_home=home)
    monkeypatch.setenv("SSLTS_DATA", str(home))
    with pytest.raises(FileNotFoundError, match="Did you mean 'ECG200'"):
        sslts.load_dataset("ECG20")
    assert sslts.load_dataset("ECG200")[0].shape == (1, 2, 1)


def test_the_command_line_reports_a_missing_dataset_without_a_traceback(tmp_path, capsys):
    from sslts.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["--dataset", "gunpoint", "--data-home", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("sslts: error: Dataset 'gunpoint' was not found")
    assert "Did you mean 'GunPoint'" in err and "Traceback" not in err


def test_bf16_falls_back_to_float32_where_the_cpu_lacks_its_kernels(monkeypatch):
    from sslts import _accelerate

    monkeypatch.setattr(_accelerate, "cpu_supports_bf16", lambda: False)
    ref = make_tiny(InfoNCETransformer).fit(X).transform(X)
    with pytest.warns(UserWarning, match="computing in float32"):
        est = make_tiny(InfoNCETransformer, precision="bf16").fit(X)
    with pytest.warns(UserWarning, match="computing in float32"):
        np.testing.assert_array_equal(est.transform(X), ref)


def test_bf16_runs_on_an_avx2_only_cpu(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(
        "import numpy as np, warnings\n"
        "from sslts import InfoNCETransformer\n"
        "warnings.simplefilter('ignore')\n"
        "X = np.random.default_rng(0).normal(size=(8, 30))\n"
        "InfoNCETransformer(precision='bf16', n_iters=2, batch_size=4, device='cpu')"
        ".fit(X).transform(X)\n"
        "print('ok')\n")
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=TIMEOUT)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


# ------------------------------------------------------------------------- scale
def test_a_network_that_cannot_fit_fails_early_with_an_estimate(monkeypatch):
    from sslts.utils import devices

    monkeypatch.setattr(devices, "available_memory", lambda device: 8 * 2**30)
    X_wide = np.random.default_rng(0).normal(size=(4, 5, 10_000)).astype(np.float32)
    est = sslts.NCVQVAETransformer(n_iters=1, device="cpu")
    with deadline(60), pytest.raises(MemoryError, match=r"10000 channels .* GiB .* 8\.0 GiB"):
        est.fit(X_wide)
    assert not hasattr(est, "module_")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_networks_that_fit_pass_the_memory_check(cls, monkeypatch):
    from sslts.utils import devices

    monkeypatch.setattr(devices, "available_memory", lambda device: 2**30)
    make_tiny(cls).fit(X)


# NC-VQVAE's decoder ends with a layer dense over the 2C spectrogram channels, as the
# reference's: quadratic by design, refused early when it cannot fit (test above).
@pytest.mark.parametrize("cls", [sslts.TimeDRLTransformer, TS2VecTransformer,
                                 sslts.SelfTimeTransformer], ids=lambda c: c.__name__)
def test_weights_grow_at_most_linearly_with_the_channels(cls):
    sizes = {}
    for n_channels in (2, 20, 200):
        est = make_tiny(cls)
        est.n_channels_, est.n_features_in_ = n_channels, 16
        with torch.device("meta"):
            net = est.build_module(n_channels)
        sizes[n_channels] = sum(p.numel() for p in net.parameters())
    # Equal steps of channels add equal numbers of weights (none for a quadratic term).
    per_channel = (sizes[20] - sizes[2]) / 18
    assert sizes[200] - sizes[2] <= per_channel * 198 * 1.01 + 1
