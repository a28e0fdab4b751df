"""Dataset readers, lookup order, and the download path (against a loopback server)."""

import functools
import http.server
import io
import threading
import zipfile

import numpy as np
import pytest

from sslts import datasets, list_datasets, load_dataset
from sslts.datasets import read_ts, read_ucr_tsv


def test_bundled_datasets_load_without_data_home(monkeypatch, tmp_path):
    monkeypatch.delenv("SSLTS_DATA", raising=False)
    monkeypatch.setenv("SSLTS_CACHE", str(tmp_path))
    X_train, y_train, X_test, y_test = load_dataset("GunPoint", download=False)
    assert X_train.shape == (50, 150, 1) and X_test.shape == (150, 150, 1)
    assert set(np.unique(y_train)) == {1, 2}
    X_train, y_train, X_test, _ = load_dataset("BasicMotions", download=False)
    assert X_train.shape == (40, 100, 6) and X_test.shape == (40, 100, 6)
    assert set(y_train) == {"Standing", "Running", "Walking", "Badminton"}
    assert {"GunPoint", "BasicMotions"} <= set(list_datasets())


def test_bundled_copy_equals_shared_archive(shared_data):
    bundled = load_dataset("GunPoint", download=False)
    shared = load_dataset("GunPoint", data_home=shared_data, download=False)
    for a, b in zip(bundled, shared):
        np.testing.assert_array_equal(a, b)


def test_reads_shared_ucr_and_uea_layouts(shared_data, monkeypatch):
    monkeypatch.setenv("SSLTS_DATA", str(shared_data))
    X_train, y_train, X_test, y_test = load_dataset("ECG200", download=False)
    assert X_train.shape == (100, 96, 1) and X_test.shape == (100, 96, 1)
    assert set(np.unique(y_train)) == {-1, 1}
    X_train, _, X_test, _ = load_dataset("JapaneseVowels", download=False)
    assert X_train.shape == (270, 29, 12) and X_test.shape[1:] == (29, 12)
    both = np.concatenate([X_train, X_test])
    lengths = (~np.isnan(both).all(axis=2)).sum(axis=1)
    assert lengths.min() == 7 and lengths.max() == 29
    X_train, _, _, _ = load_dataset("DodgerLoopDay", download=False)
    assert np.isnan(X_train).sum() > 0  # missing values stay NaN


def test_tsv_and_ts_readers_agree_on_univariate(tmp_path):
    (tmp_path / "a.tsv").write_text("1\t0.5\t1.5\t2.5\n2\t-1\t-2\t1E-1\n")
    (tmp_path / "a.ts").write_text(
        "# comment\n@problemName a\n@classLabel true 1 2\n@data\n0.5,1.5,2.5:1\n-1,-2,0.1:2\n"
    )
    X1, y1 = read_ucr_tsv(tmp_path / "a.tsv")
    X2, y2 = read_ts(tmp_path / "a.ts")
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


def test_ts_reader_pads_unequal_lengths_and_missing(tmp_path):
    (tmp_path / "b.ts").write_text(
        "@classLabel true x y\n@data\n1,2,3:4,5,6:x\n1,?:3,4:y\n"
    )
    X, y = read_ts(tmp_path / "b.ts")
    assert X.shape == (2, 3, 2)
    assert np.isnan(X[1, 1, 0]) and np.isnan(X[1, 2]).all()
    assert list(y) == ["x", "y"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("1\t0.5\tabc\n", r"line 1: cannot parse value 'abc'"),
        ("1\t0.5\t1\n2\t0.5\n", r"line 2: 1 values where line 1 has 2"),
    ],
)
def test_malformed_tsv_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        read_ucr_tsv(path)
    assert "bad.tsv" in str(info.value)


def test_malformed_ts_names_file_and_line(tmp_path):
    path = tmp_path / "bad.ts"
    path.write_text("@classLabel true a\n@data\n1,2:3,4:a\n1,2:a\n")
    with pytest.raises(ValueError, match=r"bad.ts, line 4: 1 channels where the first case"):
        read_ts(path)
    path.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="no @data section"):
        read_ts(path)


def test_missing_dataset_without_download(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="NoSuchSet"):
        load_dataset("NoSuchSet", data_home=tmp_path, download=False)


@pytest.fixture
def zip_server(tmp_path):
    """Serve, on 127.0.0.1 only, a zip archive built here for a made-up dataset."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Toy/Toy_TRAIN.ts", "@classLabel true a b\n@data\n1,2,3,4:a\n4,3,2,1:b\n")
        zf.writestr("Toy/Toy_TEST.ts", "@classLabel true a b\n@data\n1,2,3,5:a\n")
        zf.writestr("Toy/README.txt", "not data")
    root = tmp_path / "www"
    root.mkdir()
    (root / "Toy.zip").write_bytes(buf.getvalue())
    (root / "Broken.zip").write_bytes(b"this is not a zip")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{{name}}.zip"
    server.shutdown()
    thread.join(timeout=5)


def test_download_into_cache_then_load_offline(zip_server, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SSLTS_CACHE", str(cache))
    monkeypatch.delenv("SSLTS_DATA", raising=False)
    X_train, y_train, X_test, y_test = load_dataset("Toy", url=zip_server)
    assert X_train.shape == (2, 4, 1) and list(y_train) == ["a", "b"]
    assert sorted(p.name for p in (cache / "Toy").iterdir()) == ["Toy_TEST.ts", "Toy_TRAIN.ts"]
    # Second call is served from the cache even with downloads off.
    again = load_dataset("Toy", download=False)
    np.testing.assert_array_equal(again[0], X_train)


def test_download_errors_are_clear(zip_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="not a zip archive"):
        load_dataset("Broken", url=zip_server)
    with pytest.raises(OSError, match="Could not download dataset 'Absent'"):
        load_dataset("Absent", url=zip_server)


def test_data_home_from_environment(shared_data, monkeypatch):
    monkeypatch.setenv("SSLTS_DATA", str(shared_data))
    assert "Chinatown" in list_datasets()
    assert datasets._find_split_files("Chinatown", datasets._data_homes(None)) is not None


def test_bundled_basic_motions_equals_aeons_copy():
    """The .ts reader against aeon's loader on their two bundled copies of the file."""
    aeon_datasets = pytest.importorskip("aeon.datasets")
    X_train, y_train, X_test, y_test = load_dataset("BasicMotions", download=False)
    for split, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
        X_aeon, y_aeon = aeon_datasets.load_basic_motions(split=split)  # (n, C, T)
        np.testing.assert_array_equal(X, np.swapaxes(X_aeon, 1, 2))
        # aeon's copy spells the labels in lower case.
        np.testing.assert_array_equal(np.char.lower(y.astype(str)), y_aeon)
