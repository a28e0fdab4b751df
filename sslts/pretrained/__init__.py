"""Pretrained encoders that ship with sslts: fitted once on a corpus, ready to embed.

Each model is a :class:`~sslts.ChannelIndependent` encoder whose weights are package
data (no download): :func:`load_pretrained` returns it fitted, so ``transform`` works
at once, on series of any length and any number of channels, and ``fit`` with the
wrapped estimator's ``warm_start=True`` fine-tunes it on your data.  Every model has a
model card (:func:`model_card`): its corpus (datasets and series counts), training
budget, code commit, seed, evaluation and the terms of its training data.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..channel_independent import ChannelIndependent

__all__ = ["list_pretrained", "load_pretrained", "model_card"]

_FOLDER = Path(__file__).parent


def list_pretrained() -> list[str]:
    """Names of the pretrained models that ship with sslts.

    Returns
    -------
    list of str
        Sorted names, each accepted by :func:`load_pretrained` and :func:`model_card`.

    Examples
    --------
    >>> from sslts.pretrained import list_pretrained
    >>> "ts2vec-ucr-uea" in list_pretrained()
    True
    """
    return sorted(path.stem for path in _FOLDER.glob("*.json"))


def _description(name: str) -> dict:
    """The model's metadata file, or an error that lists the known names."""
    known = list_pretrained()
    if not isinstance(name, str) or name not in known:
        raise ValueError(f"Unknown pretrained model {name!r}; the models shipped with this "
                         f"sslts are {known}.")
    return json.loads((_FOLDER / f"{name}.json").read_text(encoding="utf-8"))


def load_pretrained(name: str, *, channel_independent: bool = True, pooling: str | None = None):
    """A pretrained encoder, fitted and ready to ``transform``, read from the package.

    The weights are read with ``torch.load(weights_only=True)`` (no code runs) after
    their SHA-256 is checked against the one recorded when they were made.

    Parameters
    ----------
    name : str
        One of :func:`list_pretrained`.
    channel_independent : bool, default=True
        True returns the :class:`~sslts.ChannelIndependent` model, which embeds each
        channel with the univariate encoder and pools them, so it takes any number of
        channels.  False returns the univariate encoder itself (channel-mixing: it
        takes series with the channel count it was fitted on, one).
    pooling : {"mean", "max", "concat"}, default=None
        How the channel embeddings of a series become one; None gives the model's own
        (its model card says which: ``"concat"`` for ``ts2vec-ucr-uea``, which needs
        the same channel count in every series of a ``transform`` call).  ``"mean"``
        or ``"max"`` give one width for any channel count.

    Returns
    -------
    ChannelIndependent or sslts transformer
        Fitted.  Fine-tune it with ``set_params(estimator__warm_start=True,
        estimator__n_iters=...)`` then ``fit`` (the univariate encoder: with
        ``warm_start=True``).

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones), or a weight file that is
        damaged (its checksum differs) or unreadable.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts.pretrained import load_pretrained
    >>> model = load_pretrained("ts2vec-ucr-uea")
    >>> X = np.random.default_rng(0).normal(size=(4, 100, 3))  # 3 channels
    >>> model.transform(X).shape  # the 3 channel embeddings side by side
    (4, 960)
    >>> load_pretrained("ts2vec-ucr-uea", pooling="mean").transform(X).shape
    (4, 320)
    """
    description = _description(name)
    path = _FOLDER / description["file"]
    if not path.is_file():
        raise FileNotFoundError(f"The weights of the pretrained model {name!r} are missing "
                                f"({path}); reinstall sslts.")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != description["sha256"]:
        raise ValueError(
            f"The weight file of the pretrained model {name!r} ({path}) is damaged: its "
            f"SHA-256 is {digest}, not the {description['sha256']} recorded when it was "
            "made. Reinstall sslts (pip install --force-reinstall sslts)."
        )
    model = ChannelIndependent.load(path)
    # The metadata's pooling is the shipped one (chosen after the weights were saved);
    # it is validated, like every parameter, when it is used.
    model.set_params(pooling=description["pooling"] if pooling is None else pooling)
    return model if channel_independent else model.estimator_


def model_card(name: str) -> str:
    """The model card of a pretrained model, as Markdown.

    Parameters
    ----------
    name : str
        One of :func:`list_pretrained`.

    Returns
    -------
    str
        Corpus (datasets and series counts), training budget, code commit, seed,
        evaluation table and the terms of the training data.

    Examples
    --------
    >>> from sslts.pretrained import model_card
    >>> model_card("ts2vec-ucr-uea").splitlines()[0]
    '# ts2vec-ucr-uea'
    """
    description = _description(name)
    return (_FOLDER / description["card"]).read_text(encoding="utf-8")
