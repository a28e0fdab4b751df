"""Import the official implementations in ``../shared/peers`` for side-by-side runs.

The three official trees (TS2Vec, TimeDRL, SelfTime) are research scripts, not
packages: each expects its own folder on ``sys.path`` and uses top-level module names
(``models``, ``utils``, ``layers``) that collide between trees.  :func:`import_official`
imports the modules a benchmark needs from one tree and then removes that tree's
top-level names from ``sys.modules`` again, so that the next tree imports its own
``models``; the imported module objects keep working because their functions hold
references to their own globals.

Nothing here copies or modifies the official code; the folders are read only.  When
``../shared/peers`` (or one tree) is absent, :func:`import_official` returns None
and benchmarks skip that code.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["PEERS", "import_official", "legacy_runtime", "quiet",
           "seed_global_generators", "ts2vec_run", "ts2vec_forecast_run",
           "timedrl_run", "OfficialTimeDRL", "selftime_run"]

PEERS = Path(__file__).resolve().parents[2] / "shared" / "peers"


def _top_level_names(root: Path) -> set[str]:
    """Module and package names that ``root`` on ``sys.path`` would provide."""
    names = {p.stem for p in root.glob("*.py")}
    names |= {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    return names


def import_official(tree: str, modules: list[str], peers: Path = PEERS) -> dict | None:
    """Import ``modules`` of the official tree ``peers/tree`` in isolation.

    Parameters
    ----------
    tree : str
        Folder name under ``peers`` (``"ts2vec"``, ``"timedrl"``, ``"selftime"``).
    modules : list of str
        Dotted module names relative to the tree root, e.g. ``["ts2vec", "models.losses"]``.
    peers : Path, default=PEERS
        Folder holding the official trees.

    Returns
    -------
    dict of str to module, or None
        The imported modules by name; None when the tree is absent.

    Raises
    ------
    ImportError
        The tree exists but a module (or one of its dependencies) cannot be imported.

    Examples
    --------
    >>> import_official("no-such-tree", ["x"]) is None
    True
    """
    root = Path(peers) / tree
    if not root.is_dir():
        return None
    shadowed = _top_level_names(root)
    # Another tree's (or an earlier import's) ``models`` must not answer for this one.
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] in shadowed}
    sys.path.insert(0, str(root))
    try:
        loaded: dict[str, ModuleType] = {m: importlib.import_module(m) for m in modules}
    finally:
        sys.path.remove(str(root))
        for key in [k for k in sys.modules if k.split(".")[0] in shadowed]:
            del sys.modules[key]
        sys.modules.update(saved)
    return loaded


@contextlib.contextmanager
def legacy_runtime():
    """Let the official 2020-2022 code run on this stack, for the duration of the block.

    - ``Tensor.cuda`` / ``Module.cuda`` return their argument unchanged when CUDA is
      unavailable (SelfTime calls ``.cuda()`` unconditionally);
    - ``np.Inf`` and ``np.float``, removed in NumPy 2 and 1.24, are aliases of
      ``np.inf`` and ``float`` again (SelfTime; TS2Vec's forecasting loader);
    - ``pandas.DatetimeIndex.weekofyear``, removed in pandas 2, is the ISO week again
      (TS2Vec's calendar covariates).

    Outside the block nothing is patched.
    """
    import pandas as pd

    had_week = hasattr(pd.DatetimeIndex, "weekofyear")
    if not had_week:
        pd.DatetimeIndex.weekofyear = property(
            lambda self: pd.Index(self.isocalendar().week.to_numpy(dtype=np.int64)))
    saved = torch.Tensor.cuda, torch.nn.Module.cuda
    if not torch.cuda.is_available():
        torch.Tensor.cuda = lambda self, *a, **k: self
        torch.nn.Module.cuda = lambda self, *a, **k: self
    # The removed names themselves are what the old code reads.
    aliases = {k: v for k, v in {"Inf": np.inf, "float": float}.items() if k not in vars(np)}
    vars(np).update(aliases)
    try:
        yield
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved
        for name in aliases:
            del vars(np)[name]
        if not had_week:
            del pd.DatetimeIndex.weekofyear


def seed_global_generators(seed: int) -> None:
    """Seed numpy's and torch's global generators, which the official code draws from."""
    np.random.seed(seed)  # noqa: NPY002 -- the official code uses the legacy global state
    torch.manual_seed(seed)


@contextlib.contextmanager
def quiet():
    """Silence the official scripts' prints (progress lines, config dumps)."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


# ---------------------------------------------------------------- the official runs
# Each returns ``(fit, encode)``: ``fit()`` trains, ``encode(X)`` gives instance
# embeddings of an (n, T, C) float32 array.  Only the training *driver* is written
# here where the official code has no callable one (TimeDRL's loop lives inside an
# experiment class that also runs a linear evaluation every epoch); every network,
# layer, augmentation and loss function called is the official one.

def ts2vec_run(X: np.ndarray, *, n_iters: int, batch_size: int, seed: int, device: str):
    """The official ``TS2Vec`` class: ``fit`` and ``encode(encoding_window="full_series")``."""
    mods = import_official("ts2vec", ["ts2vec"])
    seed_global_generators(seed)
    model = mods["ts2vec"].TS2Vec(input_dims=X.shape[2], device=device, batch_size=batch_size,
                                  lr=1e-3, output_dims=320, max_train_length=3000)
    return (lambda: model.fit(X, n_iters=n_iters),
            lambda Z: model.encode(Z, encoding_window="full_series"))


class _LastAxisScaler:
    """A fitted StandardScaler whose ``inverse_transform`` takes any leading axes.

    The official forecasting evaluation inverts (1, n, H, 1) arrays, which the
    scikit-learn of its time accepted and today's refuses; the result is the same
    per-feature affine map over the last axis.
    """

    def __init__(self, scaler):
        self.scaler = scaler

    def inverse_transform(self, x):
        return self.scaler.inverse_transform(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def ts2vec_forecast_run(name: str, data_home: str, *, univariate: bool, seed: int) -> dict:
    """The official ``train.py <name> --loader forecast_csv[_univar] --eval`` on the CPU.

    What ``train.py`` does, with the official functions: ``datautils.load_forecast_csv``
    (reading ``data_home/forecast/<name>.csv`` through a temporary ``datasets/``
    folder, since it opens that relative path), ``TS2Vec`` with the script's defaults
    (batch 8, lr 1e-3, 320 outputs, ``max_train_length`` 3000, the default budget of
    ``TS2Vec.fit``), then ``tasks.eval_forecasting``.  Only the device (``train.py``
    takes a GPU index) and the seeding (``init_dl_program``'s: ``random`` with
    ``seed``, numpy with ``seed + 1``, torch with ``seed + 2``) are set here.

    Returns
    -------
    dict
        ``{"mse": {H: ...}, "mae": {H: ...}, "n_iters", "fit_seconds",
        "encode_seconds"}``, errors on the standardised scale (``"norm"``).
    """
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "datasets").mkdir()
        source = (Path(data_home) / "forecast" / f"{name}.csv").resolve()
        (Path(tmp) / "datasets" / f"{name}.csv").symlink_to(source)
        # tasks/__init__ imports the anomaly module, which needs bottleneck; pandas,
        # which probes for it, is imported first so that it never sees the stand-in.
        importlib.import_module("pandas")
        _stub_missing("bottleneck", ("move_mean",), "only forecasting runs here")
        with contextlib.chdir(tmp), legacy_runtime():
            mods = import_official("ts2vec", ["datautils", "ts2vec", "tasks"])
            data, train, valid, test, scaler, horizons, n_cov = mods[
                "datautils"].load_forecast_csv(name, univar=univariate)
    random.seed(seed)
    np.random.seed(seed + 1)  # noqa: NPY002 -- the official code uses the legacy global state
    torch.manual_seed(seed + 2)
    train_data = data[:, train]
    model = mods["ts2vec"].TS2Vec(input_dims=train_data.shape[-1], device="cpu",
                                  batch_size=8, lr=0.001, output_dims=320,
                                  max_train_length=3000)
    start = time.perf_counter()
    model.fit(train_data, n_epochs=None, n_iters=None)
    fit_seconds = time.perf_counter() - start
    with quiet():
        _, res = mods["tasks"].eval_forecasting(model, data, train, valid, test,
                                                _LastAxisScaler(scaler), horizons, n_cov)
    return {"mse": {h: float(res["ours"][h]["norm"]["MSE"]) for h in horizons},
            "mae": {h: float(res["ours"][h]["norm"]["MAE"]) for h in horizons},
            "n_iters": model.n_iters,
            "fit_seconds": fit_seconds, "encode_seconds": float(res["ts2vec_infer_time"])}


@functools.cache
def _timedrl_modules() -> dict[str, ModuleType]:
    """The official TimeDRL modules, imported once per process.

    A fresh import at every fit would land inside the fit's clock in
    :class:`OfficialTimeDRL` (``benchmarks.seeds`` times the whole ``fit``).
    """
    _stub_missing("tsai.all", ("ResBlock", "TemporalConvNet"),
                  "only TimeDRL's transformer encoder runs here")
    mods = import_official("timedrl", ["models.TimeDRL", "layers.Embed"])
    if mods is None:
        raise FileNotFoundError(f"no official TimeDRL tree at {PEERS / 'timedrl'}: the "
                                "official arms need ../shared/peers")
    return mods


def timedrl_run(X: np.ndarray, *, n_epochs: int, batch_size: int, seed: int, device: str,
                d_model: int, n_heads: int, n_layers: int, patch_len: int, stride: int,
                dropout: float, lr: float, weight_decay: float, lambda_: float,
                token_embedding: str = "conv", positional_encoding: str = "fixed"):
    """The official TimeDRL ``Model`` trained with its pretraining step.

    Channel-mixing tokens (by default a circular kernel-3 convolution embeds each
    patch, fixed sinusoidal positions: the official classification configs; the
    official ``token_embed_type`` / ``pos_embed_type`` names otherwise) and the [CLS]
    instance embedding; AdamW with the ``type1`` schedule (epochs 1 and 2 at
    ``lr``, then halved after every epoch), the last partial batch of an epoch kept as
    the official classification loader does; loss = patch MSE of both views +
    ``lambda_`` x the symmetric negative cosine between each view's predicted and the
    other's stopped [CLS].

    Parameters
    ----------
    X : ndarray of shape (n_series, n_timestamps, n_channels), float32
        Training series.
    n_epochs, batch_size : int
        Epochs (passes over ``X``) and mini-batch size.
    seed : int
        Seeds the global generators (initialisation, dropout) and the shuffling.
    device : str
        Torch device.
    d_model, n_heads, n_layers, patch_len, stride, dropout :
        The official ``Model``'s arguments of the same names (``d_model`` is the
        token width itself).
    lr, weight_decay : float
        AdamW's.
    lambda_ : float
        Weight of the contrastive term (the official ``contrastive_weight``).
    token_embedding : {"conv", "linear"}, default="conv"
        The official ``token_embed_type``.
    positional_encoding : {"fixed", "learnable", "none"}, default="fixed"
        The official ``pos_embed_type``.

    Returns
    -------
    fit : callable
        ``fit()`` trains the model in place.
    encode : callable
        ``encode(Z)`` gives the [CLS] embeddings of ``Z``, shape (n_series, d_model).

    Raises
    ------
    FileNotFoundError
        Without the official tree in ``../shared/peers``.
    """
    mods = _timedrl_modules()
    seed_global_generators(seed)
    T, C = X.shape[1], X.shape[2]
    args = SimpleNamespace(
        C=C, seq_len=T, patch_len=patch_len, stride=stride, enable_channel_independence=False,
        d_model=d_model, n_heads=n_heads, n_layers=n_layers, dropout=dropout,
        activation="gelu", pos_embed_type=positional_encoding, token_embed_type=token_embedding,
        token_embed_kernel_size=3, get_i="cls", i_dim=d_model, data_aug="none",
        T_p=int((T - patch_len) / stride + 2), encoder_arch="transformer_encoder")
    with quiet():
        model = mods["models.TimeDRL"].Model(args).to(device)
    patching = mods["layers.Embed"].Patching(patch_len, stride, False)
    data = torch.from_numpy(X)

    def fit():
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        for epoch in range(n_epochs):
            for g in optimizer.param_groups:  # utils/tools.py "type1", epochs from 1
                g["lr"] = lr * 0.5 ** max(0, epoch - 1)
            order = torch.randperm(len(data), generator=gen)
            # The classification loader keeps the last partial batch (drop_last=False);
            # a single leftover series is skipped, as sslts does (no batch statistics).
            for start in range(0, len(data) - 1, batch_size):
                x = data[order[start : start + batch_size]].to(device)
                optimizer.zero_grad()
                _, _, pred1, pred2, i1, i2, i1_pred, i2_pred = model(x)
                target = patching(x)
                mse = (F.mse_loss(pred1, target) + F.mse_loss(pred2, target)) / 2
                cos = (F.cosine_similarity(i1.detach(), i2_pred, dim=1).mean()
                       + F.cosine_similarity(i2.detach(), i1_pred, dim=1).mean())
                (mse - lambda_ * 0.5 * cos).backward()
                optimizer.step()

    def encode(Z):
        model.eval()
        with torch.no_grad():
            return np.concatenate([model(torch.from_numpy(Z[i : i + 256]).to(device))[4].cpu()
                                   for i in range(0, len(Z), 256)])

    return fit, encode


class OfficialTimeDRL:
    """The official TimeDRL network and pretraining step behind ``fit`` / ``encode``.

    A stand-in with the estimator interface ``benchmarks/run.py`` evaluates (``fit``,
    ``encode(X, level="instance")``, ``get_params``, ``n_iter_``, ``device_``), so that
    ``python -m benchmarks.seeds --arms official=timedrl_official`` puts the official
    code through the same probes, data and seeds as sslts's arms.  The defaults are
    sslts's TimeDRL defaults where the official code has the option (64-d, 4 heads, 2
    layers, patches 16 / 8, linear tokens, sinusoidal positions, 30 epochs of batch
    32 with the "type1" schedule and the last partial batch kept) and the official
    classification setting of channel-mixing tokens; it has no ``min_epoch_steps``:
    an epoch is one pass over the training set, as in the official code.

    Parameters
    ----------
    n_epochs, batch_size, d_model, n_heads, n_layers, patch_len, stride, dropout, lr, \
weight_decay, lambda_, token_embedding, positional_encoding :
        As :func:`timedrl_run` (``token_embedding`` defaults to "linear" here).
    device : str, default="cpu"
    random_state : int, default=0

    Examples
    --------
    >>> enc = OfficialTimeDRL(n_epochs=1, random_state=0)  # doctest: +SKIP
    >>> enc.fit(X).encode(X, level="instance").shape        # doctest: +SKIP
    (n_series, 64)
    """

    def __init__(self, *, n_epochs: int = 30, batch_size: int = 32, d_model: int = 64,
                 n_heads: int = 4, n_layers: int = 2, patch_len: int = 16, stride: int = 8,
                 dropout: float = 0.1, lr: float = 1e-3, weight_decay: float = 1e-3,
                 lambda_: float = 0.1, token_embedding: str = "linear",
                 positional_encoding: str = "fixed", device: str = "cpu",
                 random_state: int = 0):
        self._params = {k: v for k, v in locals().items() if k not in ("self", "__class__")}

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments.

        Parameters
        ----------
        deep : bool, default=True
            Ignored (no nested estimators).

        Returns
        -------
        dict of str to object
        """
        return dict(self._params)

    def fit(self, X: np.ndarray, y=None) -> OfficialTimeDRL:
        """Train the official model.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps, n_channels)
            Training series.
        y : None
            Ignored.

        Returns
        -------
        self : OfficialTimeDRL

        Raises
        ------
        FileNotFoundError
            Without the official tree in ``../shared/peers``.
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        params = dict(self._params)
        seed, device = params.pop("random_state"), params.pop("device")
        fit, self._encode = timedrl_run(X, seed=seed, device=device, **params)
        fit()
        # timedrl_run's loop: ceil((n - 1) / batch) steps per epoch (a last batch of one
        # series is skipped).
        batches = -(-(len(X) - 1) // params["batch_size"])
        self.n_iter_, self.device_ = params["n_epochs"] * batches, torch.device(device)
        return self

    def encode(self, X: np.ndarray, level: str = "instance") -> np.ndarray:
        """The [CLS] embeddings of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_series, n_timestamps, n_channels)
            Series as in ``fit``.
        level : {"instance"}, default="instance"
            Only instance embeddings are available.

        Returns
        -------
        ndarray of shape (n_series, d_model)
        """
        if level != "instance":
            raise ValueError(f"only level='instance' is available, got {level!r}")
        return self._encode(np.ascontiguousarray(X, dtype=np.float32))


def _stub_missing(name: str, attrs: tuple[str, ...], why: str) -> None:
    """Let an official tree import an optional dependency this run never calls.

    When ``name`` (e.g. ``"tsai.all"``) is not installed, a stand-in module whose
    ``attrs`` raise an ImportError naming ``why`` takes its place in ``sys.modules``.
    """
    root = name.split(".")[0]
    if name in sys.modules or importlib.util.find_spec(root) is not None:
        return

    def missing(*args, **kwargs):
        raise ImportError(f"{root} is not installed; {why}")

    stub = ModuleType(name)
    for attr in attrs:
        setattr(stub, attr, missing)
    sys.modules.setdefault(root, ModuleType(root))
    sys.modules[name] = stub


def selftime_run(X: np.ndarray, *, n_epochs: int, batch_size: int, seed: int, n_views: int,
                 piece_size: float, lr: float, workdir: str):
    """The official ``pretrain_SelfTime`` (univariate only: its backbone has one channel).

    Augmentations magnitude warp and time warp (probability 0.2 each), 3 temporal
    classes; patience = epochs, so its early stopping never cuts the budget.  The
    embedding is the last backbone's normalised feature vector, read back from the
    checkpoint the official function writes.
    """
    if X.shape[2] != 1:
        raise ValueError("the official SelfTime backbone takes univariate series only")
    mods = import_official("selftime", ["optim.pretrain", "model.model_backbone"])
    opt = SimpleNamespace(K=n_views, batch_size=batch_size, epochs=n_epochs, feature_size=64,
                          ckpt_dir=workdir, aug_type=["magnitude_warp", "time_warp"],
                          class_type="3C", piece_size=piece_size, learning_rate=lr,
                          patience=n_epochs, save_freq=n_epochs + 1,  # no extra checkpoints
                          model_name="SelfTime", dataset_name="benchmark")
    seed_global_generators(seed)
    series = X  # (n, T, 1): its augmentations index the channel axis

    def fit():
        with legacy_runtime(), quiet():
            mods["optim.pretrain"].pretrain_SelfTime(series, np.zeros(len(series)), opt)

    def encode(Z):
        backbone = mods["model.model_backbone"].SimConv4()
        backbone.load_state_dict(torch.load(f"{workdir}/backbone_last.tar", map_location="cpu"))
        backbone.eval()
        with torch.no_grad():
            return backbone(torch.from_numpy(Z)).numpy()

    return fit, encode
