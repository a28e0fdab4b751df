"""Persistence of every estimator: pickle, joblib, save/load, and loading on a CPU machine."""

from __future__ import annotations

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from estimator_configs import (
    configured_estimators,
    estimator_id,
    is_transformer,
    make_tiny,
    model_output,
    small_series,
)
from sklearn.exceptions import NotFittedError

import sslts
from sslts import load

ESTIMATORS = configured_estimators()
TRANSFORMERS = configured_estimators("transformer")
X = small_series()


def _pickle(est, tmp_path):
    return pickle.loads(pickle.dumps(est))


def _joblib(est, tmp_path):
    joblib.dump(est, tmp_path / "model.joblib")
    return joblib.load(tmp_path / "model.joblib")


def _save_load(est, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may be skipped silently or loudly
        est.save(tmp_path / "model.pt")
    return load(tmp_path / "model.pt")


def _assert_same_value(a, b, name):
    if isinstance(a, sslts.base.BaseSSLEstimator):  # e.g. a generator's tokenizer
        assert type(a) is type(b), name
        _assert_same_value(a.get_params(deep=False), b.get_params(deep=False), name)
        _assert_same_value(vars(a), vars(b), name)
    elif isinstance(a, torch.nn.Module):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys(), name
        assert all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa), name
    elif isinstance(a, torch.Tensor):
        torch.testing.assert_close(a.cpu(), b.cpu(), rtol=0, atol=0, equal_nan=True, msg=name)
    elif isinstance(a, np.ndarray):
        assert type(b) is np.ndarray and a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), name
        for k in a:
            _assert_same_value(a[k], b[k], f"{name}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), name
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_value(x, y, f"{name}[{i}]")
    else:
        assert a == b or (a != a and b != b), name  # NaN equals NaN here


@pytest.mark.parametrize("roundtrip", [_pickle, _joblib, _save_load], ids=lambda f: f.__name__)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_roundtrip_loses_nothing(cls, roundtrip, tmp_path):
    est = make_tiny(cls)
    if is_transformer(est):
        est.set_output(transform="pandas")
    est.fit(X)
    est.extra_table_ = np.arange(6.0).reshape(2, 3)  # numpy fitted state survives too
    copy = roundtrip(est, tmp_path)
    assert type(copy) is cls
    _assert_same_value(copy.get_params(deep=False), est.get_params(deep=False), "params")
    assert set(vars(copy)) == set(vars(est))
    for name, value in vars(est).items():
        _assert_same_value(value, getattr(copy, name), name)
    np.testing.assert_array_equal(model_output(copy, X), model_output(est, X))  # pandas both
    # The optimiser and random state came along: warm-started training agrees too.
    for model in (est, copy):
        if is_transformer(model):
            model.set_output(transform="default")
        model.set_params(warm_start=True).fit(X)
    np.testing.assert_array_equal(model_output(copy, X), model_output(est, X))


@pytest.mark.parametrize("level", ["instance", "timestamp"])
@pytest.mark.parametrize("cls", TRANSFORMERS, ids=estimator_id)
def test_loaded_model_embeds_other_data_identically(cls, level, tmp_path):
    try:
        est = make_tiny(cls, level=level).fit(X)
    except ValueError as exc:  # a tiny configuration whose encoder pools the time axis
        if "keeps the time axis" not in str(exc):
            raise
        pytest.skip(str(exc))
    est.save(tmp_path / "model.pt")
    other = small_series(5, 20, seed=1)  # other series, shorter than in fit
    np.testing.assert_array_equal(cls.load(tmp_path / "model.pt").transform(other),
                                  est.transform(other))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_model_pickled_on_cuda_runs_on_cpu(cls, monkeypatch):
    est = make_tiny(cls).fit(X)
    expected = model_output(est, X)
    est.device_ = torch.device("cuda:0")  # as if fitted on a GPU machine
    blob = pickle.dumps(est)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="fitted on cuda:0 but CUDA is not available"):
        restored = pickle.loads(blob)
    assert restored.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in restored.module_.parameters())
    np.testing.assert_array_equal(model_output(restored, X), expected)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=estimator_id)
def test_model_saved_on_cuda_loads_on_cpu(cls, tmp_path, monkeypatch):
    est = make_tiny(cls).fit(X)
    expected = model_output(est, X)
    est.device_ = torch.device("cuda:0")
    est.save(tmp_path / "model.pt")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        restored = load(tmp_path / "model.pt")
    assert restored.device_ == torch.device("cpu")
    np.testing.assert_array_equal(model_output(restored, X), expected)


class _Exploit:
    """A pickle that would run code when unpickled without weights_only."""

    ran = False

    def __reduce__(self):
        return (_mark_ran, ())


def _mark_ran():
    _Exploit.ran = True
    return {"sslts_format": 1}


@pytest.mark.parametrize(
    "writer",
    [
        lambda p: p.write_text("just some text"),
        lambda p: p.write_bytes(pickle.dumps({"weights": [1, 2]})),
        lambda p: torch.save({"state_dict": torch.zeros(2)}, p),
        lambda p: torch.save([1, 2, 3], p),
        lambda p: torch.save(_Exploit(), p),
    ],
    ids=["text", "plain-pickle", "torch-dict", "torch-list", "code-pickle"],
)
# torch warns about the plain pickle's protocol before rejecting it, as it should.
@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_load_rejects_files_that_are_not_sslts_models(writer, tmp_path):
    path = tmp_path / "foreign.pt"
    writer(path)
    with pytest.raises(ValueError, match="is not an sslts model file"):
        load(path)
    assert not _Exploit.ran  # weights_only=True: the file's code never ran


def test_load_errors_are_precise(tmp_path):
    cls = ESTIMATORS[0]
    est = make_tiny(cls).fit(X)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.pt")
    payload_path = tmp_path / "model.pt"
    est.save(payload_path)
    payload = torch.load(payload_path, weights_only=True)
    torch.save({**payload, "sslts_format": 99}, payload_path)
    with pytest.raises(ValueError, match="newer sslts"):
        load(payload_path)
    torch.save({**payload, "class": "NoSuchTransformer"}, payload_path)
    with pytest.raises(ValueError, match="Unknown sslts estimator class 'NoSuchTransformer'"):
        load(payload_path)
    with pytest.raises(NotFittedError):
        make_tiny(cls).save(tmp_path / "unfitted.pt")


def test_class_load_checks_the_class(tmp_path):
    first, second = ESTIMATORS[0], next(c for c in ESTIMATORS if not issubclass(c, ESTIMATORS[0]))
    make_tiny(first).fit(X).save(tmp_path / "model.pt")
    with pytest.raises(TypeError, match=f"holds a {first.__name__}, not a {second.__name__}"):
        second.load(tmp_path / "model.pt")
    assert isinstance(sslts.BaseSSLTransformer.load(tmp_path / "model.pt"), first)


def test_save_warns_about_attributes_it_cannot_store(tmp_path):
    est = make_tiny(ESTIMATORS[0]).fit(X)
    est.callback_ = io.StringIO()
    with pytest.warns(RuntimeWarning, match="callback_ is not saved: a StringIO is not plain data"):
        est.save(tmp_path / "model.pt")
    assert not hasattr(load(tmp_path / "model.pt"), "callback_")
