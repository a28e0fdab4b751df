"""What :mod:`sslts.aeon` and :mod:`sslts.sktime` share: one adapter class per estimator.

Each toolkit gets, for every estimator of :func:`sslts.all_estimators`, a
class of the same name whose ``__init__`` takes the estimator's parameters (less
:data:`ADAPTER_OWNED`) and stores them unchanged, as both toolkits (and
scikit-learn) require.  ``fit`` builds the sslts estimator from those parameters in
``estimator_`` and feeds it the toolkit's channels-first collections with
``input_layout="channels_first"``, so no data is transposed twice or misread.

The classes are built when the module is imported, so estimators added to the
registry later (new methods in :mod:`sslts.methods`) are wrapped without code here.
"""

from __future__ import annotations

import inspect

from ._registry import all_estimators
from .utils.devices import resolve_device

__all__ = [
    "adapter_docstring",
    "ADAPTER_OWNED",
    "adapter_classes",
    "make_estimator",
    "runs_on_accelerator",
    "tiny_test_params",
]

#: Parameters of the sslts estimators that the adapters set themselves: the layout is
#: the toolkit's (channels-first), and aeon/sktime ``fit`` always starts afresh
#: (aeon resets the estimator first), so a warm start has nothing to continue from.
ADAPTER_OWNED = ("input_layout", "warm_start")


def adapter_docstring(sslts_class: type, *, toolkit: str, summary: str, load: str) -> str:
    """The docstring of the adapter of ``sslts_class`` for ``toolkit``.

    Parameters
    ----------
    sslts_class : type
        The wrapped estimator class.
    toolkit : {"aeon", "sktime"}
    summary : str
        What the adapter takes and returns (indented by four spaces).
    load : str
        The keyword arguments of the toolkit's ``load_basic_motions`` that load the
        training series in its format into ``X``.

    Returns
    -------
    str
    """
    name = sslts_class.__name__
    kind = "a collection transformer" if toolkit == "aeon" else "a transformer"
    return f"""{name} as {kind} of {toolkit}.

{summary}

    Attributes
    ----------
    estimator_ : sslts.{name}
        The fitted sslts estimator (``encode``, ``save``, ``loss_history_``, ...).

    See Also
    --------
    sslts.{name} : The scikit-learn estimator, for (n, n_timestamps, n_channels) data.

    Examples
    --------
    >>> from {toolkit}.datasets import load_basic_motions
    >>> from sslts.{toolkit} import {name}
    >>> X, _ = load_basic_motions({load})
    >>> Z = {name}(n_iters=2, random_state=0).fit_transform(X)
    >>> len(Z)
    40
    """


def adapter_classes(base: type, module: str, docstring) -> dict[str, type]:
    """One subclass of ``base`` per registered sslts estimator, keyed by class name.

    Parameters
    ----------
    base : type
        The toolkit-specific adapter base; its ``__init__(self)`` must call the
        toolkit's ``__init__`` (which sets ``is_fitted`` / dynamic tags).
    module : str
        Module the classes are published in (for pickling and ``repr``).
    docstring : callable
        ``docstring(sslts_class) -> str``, the class docstring.

    Returns
    -------
    dict of str to type
    """
    classes = {}
    for sslts_class in all_estimators(type_filter="transformer"):
        name = sslts_class.__name__
        namespace = {
            "__init__": _adapter_init(sslts_class, base),
            "__doc__": docstring(sslts_class),
            "__module__": module,
            "__qualname__": name,
            "sslts_class": sslts_class,
        }
        classes[name] = type(name, (base,), namespace)
    return classes


def _adapter_init(sslts_class: type, base: type):
    """An ``__init__`` with ``sslts_class``'s keyword-only signature (less the owned
    parameters) that stores every argument under its own name, then runs ``base``'s."""
    parameters = [
        p
        for p in inspect.signature(sslts_class).parameters.values()
        if p.name not in ADAPTER_OWNED
    ]
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    signature = inspect.Signature([self_parameter, *parameters])

    def __init__(self, **params):
        bound = signature.bind(self, **params)  # TypeError for unknown names
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            if name != "self":
                setattr(self, name, value)
        base.__init__(self)

    __init__.__signature__ = signature  # what sklearn's get_params and the checks read
    __init__.__qualname__ = f"{sslts_class.__name__}.__init__"
    return __init__


def make_estimator(adapter):
    """The unfitted sslts estimator of ``adapter``'s parameters, reading channels-first.

    Parameters
    ----------
    adapter : adapter instance

    Returns
    -------
    BaseSSLTransformer
    """
    params = {
        name: getattr(adapter, name)
        for name in inspect.signature(type(adapter).__init__).parameters
        if name != "self"
    }
    return adapter.sslts_class(**params, input_layout="channels_first")


def runs_on_accelerator(device) -> bool:
    """Whether ``device`` (an estimator's parameter) trains off the CPU.

    GPU kernels (cuDNN convolutions, atomics in backward passes) are not bitwise
    reproducible, so the adapters declare themselves non-deterministic there.
    Invalid values count as CPU; ``fit`` reports them.

    Parameters
    ----------
    device : str or torch.device

    Returns
    -------
    bool
    """
    try:
        return resolve_device(device).type != "cpu"
    except ValueError:
        return False


def tiny_test_params(sslts_class: type) -> list[dict]:
    """Two quick CPU configurations for the toolkits' estimator checks.

    The defaults of every method fit in milliseconds for the checks' few, short
    series once the budget is two iterations; the second set covers the timestamp
    level where the method has one (else another seed and learning rate).

    Parameters
    ----------
    sslts_class : type

    Returns
    -------
    list of dict
    """
    params = inspect.signature(sslts_class).parameters
    tiny = {"n_iters": 2, "batch_size": 4, "device": "cpu", "random_state": 0}
    if "output_dims" in params:
        tiny["output_dims"] = 8
    # An instance: some methods derive their levels from parameters (the encoder).
    if "timestamp" in sslts_class().valid_levels:
        other = {"level": "timestamp"}
    else:
        other = {"random_state": 1, "lr": 1e-2}
    return [tiny, {**tiny, **other}]
