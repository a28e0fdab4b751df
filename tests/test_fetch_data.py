"""``fetch_ett`` and ``fetch_ucr_anomaly``: bundled copies, local folders, the cache, downloads.

The bundled ETTh1 must decompress to the official file byte for byte (its licence
allows unmodified copies only): its SHA-256 is checked against the value published with
the official ETDataset file, written out here. Downloads are served from a local HTTP
server; an unreachable address stands in for "offline".
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from sslts import datasets
from sslts.datasets import fetch_ett, fetch_ucr_anomaly
from sslts.evaluation import load_ett, load_ucr_anomaly

OFFICIAL_ETTH1_SHA256 = "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"
BUNDLED = Path(datasets.__file__).parent / "data"
OFFLINE = "http://127.0.0.1:9/{name}.csv"  # the discard port: nothing listens there


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SSLTS_DATA", raising=False)
    return tmp_path / "cache"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_bundled_etth1_is_the_official_file():
    data = gzip.decompress((BUNDLED / "forecast" / "ETTh1.csv.gz").read_bytes())
    assert _sha256(data) == OFFICIAL_ETTH1_SHA256


def test_etth1_is_decompressed_into_the_cache_once(empty_cache):
    home = fetch_ett("ETTh1", download=False)
    target = home / "forecast" / "ETTh1.csv"
    assert home == empty_cache and _sha256(target.read_bytes()) == OFFICIAL_ETTH1_SHA256
    stamp = target.stat().st_mtime_ns
    assert fetch_ett("ETTh1") == home and target.stat().st_mtime_ns == stamp
    etth1 = load_ett("ETTh1", home)
    assert etth1.data.shape == (1, 14400, 14) and etth1.columns[-1] == "OT"


def test_a_damaged_cached_copy_is_replaced(empty_cache):
    target = fetch_ett("ETTh1") / "forecast" / "ETTh1.csv"
    target.write_text("date,OT\n2016-07-01 00:00:00,1.0\n")
    fetch_ett("ETTh1")
    assert _sha256(target.read_bytes()) == OFFICIAL_ETTH1_SHA256


@pytest.mark.parametrize("layout", ["forecast/ETTm1.csv", "ETTm1.csv"])
def test_a_file_in_data_home_is_used_as_it_is(tmp_path, layout):
    home = tmp_path / "mine"
    (home / layout).parent.mkdir(parents=True, exist_ok=True)
    (home / layout).write_text("not checked: the user's own file\n")
    assert fetch_ett("ETTm1", home, download=False) == home


def test_data_home_comes_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "env_home").mkdir()
    (tmp_path / "env_home" / "ETTh2.csv").write_text("x\n")
    monkeypatch.setenv("SSLTS_DATA", str(tmp_path / "env_home"))
    assert fetch_ett("ETTh2", download=False) == tmp_path / "env_home"


def test_offline_the_error_says_where_to_put_the_file(empty_cache):
    with pytest.raises(OSError, match=r"ETTm1\.csv.*<data_home>/forecast/"):
        fetch_ett("ETTm1", url=OFFLINE)
    assert not list(empty_cache.rglob("*.csv"))
    with pytest.raises(FileNotFoundError, match="download=False"):
        fetch_ett("ETTm1", download=False)
    with pytest.raises(ValueError, match="not an ETT dataset"):
        fetch_ett("ETTx9")


@pytest.fixture
def http_folder(tmp_path):
    """A local HTTP server of ``tmp_path / "www"``; yields the folder and the URL template."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/{{name}}.csv"
    server.shutdown()
    thread.join()


def test_a_download_is_kept_only_when_it_is_the_official_file(http_folder, empty_cache,
                                                               monkeypatch):
    root, url = http_folder
    payload = b"date,OT\n2016-07-01 00:00:00,1.0\n"
    (root / "ETTm2.csv").write_bytes(payload)
    with pytest.raises(OSError, match="differs from the official file"):
        fetch_ett("ETTm2", url=url)
    assert not (empty_cache / "forecast" / "ETTm2.csv").exists()
    # The same bytes, declared official: kept, and found in the cache afterwards.
    monkeypatch.setitem(datasets._ETT_SHA256, "ETTm2", _sha256(payload))
    assert fetch_ett("ETTm2", url=url) == empty_cache
    assert (empty_cache / "forecast" / "ETTm2.csv").read_bytes() == payload
    (root / "ETTm2.csv").unlink()
    assert fetch_ett("ETTm2", url=url) == empty_cache  # no second download


def test_the_bundled_anomaly_series_loads(empty_cache):
    folder = fetch_ucr_anomaly("InternalBleeding16")
    assert folder.parent == empty_cache / "anomaly"
    series = load_ucr_anomaly(folder)
    assert (len(series.values), series.n_train) == (7501, 1200)
    assert np.flatnonzero(series.labels).tolist() == list(range(4187, 4199))
    assert fetch_ucr_anomaly("135_UCR_Anomaly_InternalBleeding16") == folder  # full name


def test_an_anomaly_series_in_data_home_comes_first(tmp_path):
    folder = tmp_path / "mine" / "anomaly" / "series_7"
    folder.mkdir(parents=True)
    for split in ("TRAIN", "TEST"):
        (folder / f"007_UCR_Anomaly_Pump_{split}.csv").write_text(
            "timestamp,value,is_anomaly\n0,1.0,0\n1,2.0,1\n")
    assert fetch_ucr_anomaly("Pump", tmp_path / "mine") == folder
    assert load_ucr_anomaly(folder).labels.tolist() == [0, 1]


def test_a_name_matches_whole_words_only(tmp_path):
    with pytest.raises(FileNotFoundError, match="bundles only InternalBleeding16"):
        fetch_ucr_anomaly("Bleeding16")
    with pytest.raises(FileNotFoundError, match="<data_home>/anomaly/"):
        fetch_ucr_anomaly("NoSuchSeries", tmp_path)
