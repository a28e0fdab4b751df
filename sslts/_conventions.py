"""The conventions every estimator class follows, applied when the class is defined.

The constructor: keyword-only, every shared parameter taken, each argument stored
unchanged (:func:`store_init_arguments`, :func:`check_signature`).  The hooks: their
public names (:func:`adopt_renamed_hooks` keeps the first release's private names
working).  The documentation of the parameters and attributes every estimator shares,
written once:

A method class's docstring ends its ``Parameters`` section with the line
``[shared parameters]`` and its ``Attributes`` section with ``[shared attributes]``;
:func:`complete_docstring` (called when the class is defined) replaces them with the
entries that the class does not document itself, each ``default=`` read from the
class's own ``__init__`` signature, so the pages stay right when a method changes a
default.  The entries come from the classes in the MRO, the nearest first: the
entries of their (completed) docstrings, so that a subclass such as IARS inherits
TS2Vec's, and their ``_parameter_docs`` and ``_attribute_docs`` dicts (the base class
holds the ones below; a family of methods, such as the two-view ones, adds its own).
"""

from __future__ import annotations

import inspect
import re
import warnings

__all__ = [
    "SHARED_ATTRIBUTES",
    "SHARED_PARAMETERS",
    "adopt_renamed_hooks",
    "check_signature",
    "complete_docstring",
    "store_init_arguments",
]

# name: (type, description); the description is indented by the caller.
SHARED_PARAMETERS: dict[str, tuple[str, str]] = {
    "n_epochs": ("int", """\
Passes over the training data.  With ``n_iters`` also set, training stops at
whichever comes first; with neither set the method's default budget is used."""),
    "n_iters": ("int", "Optimiser steps."),
    "batch_size": ("int", "Series per optimiser step (capped at the number of training series)."),
    "lr": ("float", "Learning rate."),
    "drop_last": ("bool", """\
Skip the last partial batch of every epoch.  A last batch of a single series is
always skipped."""),
    "level": ("str", """\
What ``transform`` returns: ``"instance"`` one vector per series, shape
``(n_series, n_features_out)``; ``"timestamp"`` one vector per time step, shape
``(n_series, n_timestamps, n_features_out)``."""),
    "device": ('{"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device', """\
Where to train and encode; "auto" picks CUDA when available.  The resolved device
is stored in ``device_``."""),
    "random_state": ("int, RandomState instance or None", """\
Seeds initialisation, shuffling, views and dropout.  With an int, two fits on the
same CPU give bitwise-identical embeddings.  The global torch/numpy random state is
never changed."""),
    "verbose": ("int", """\
0 silent, 1 one line per epoch (:class:`~sslts.callbacks.PrintLog`), 2 a progress
bar (:class:`~sslts.callbacks.ProgressBar`)."""),
    "warm_start": ("bool", """\
When True, ``fit`` continues from the current weights and optimiser state, at the
current ``lr`` (the method's schedule starts again), instead of starting afresh:
the way to fine-tune a fitted encoder on new data."""),
    "n_iter_no_change": ("int", """\
Stop when the epoch loss has not improved by ``tol`` for this many epochs (a
shortcut for ``callbacks=[EarlyStopping(n_iter_no_change, tol)]``); None never
stops early."""),
    "tol": ("float", "Minimum improvement of the epoch loss for early stopping."),
    "precision": ('{"float32", "tf32", "bf16"}', """\
Arithmetic of the network in ``fit`` and ``transform``: ``"tf32"`` lets CUDA
matrix products use TF32 tensor cores, ``"bf16"`` runs the network under bfloat16
autocast (CUDA or CPU); losses that need it compute in float32."""),
    "compile": ("bool", "Compile the network with ``torch.compile``."),
    "callbacks": ("list of Callback", """\
Objects whose hooks run during ``fit`` (:mod:`sslts.callbacks`).  ``fit`` uses deep
copies of them, kept in ``callbacks_``."""),
    "sync_batchnorm": ("bool", """\
Under a CUDA process group, synchronise batch-norm statistics over the ranks
(:class:`torch.nn.SyncBatchNorm`); see :mod:`sslts.distributed`."""),
    "input_layout": ('{"channels_last", "channels_first"}', """\
How a 3-D array is read: ``(n_series, n_timestamps, n_channels)`` (tslearn, the
official code) or ``(n_series, n_channels, n_timestamps)`` (aeon, sktime, tsai).
``transform`` reads the layout seen in ``fit``."""),
    "n_threads": ("int", """\
torch's intra-op CPU threads during ``fit``, ``transform`` and ``encode``, restored
to the previous count when the call returns.  None chooses at each call: torch's
count on an idle machine, fewer when other processes keep cores busy (torch's
OpenMP threads spin while they wait, so threads beyond the idle cores make a fit
several times slower).  An int fixes the count."""),
}

SHARED_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "module_": ("torch.nn.Module", "The trained network."),
    "device_": ("torch.device", "The device the model lives on."),
    "n_channels_": ("int", "Number of channels seen in ``fit``."),
    "n_features_in_": ("int", """\
Number of time steps of the (padded) training array, as scikit-learn counts the
features of a 2-D input."""),
    "input_layout_": ("str", "The layout ``fit`` read, which ``transform`` reads too."),
    "n_features_out_": ("int", """\
Size of the instance embeddings of the fitted network (the width of ``transform``'s
output at ``level="instance"``)."""),
    "loss_history_": ("list of float", "Mean training loss of each epoch."),
    "n_iter_": ("int", "Optimiser steps taken so far (cumulative over warm starts)."),
    "n_epochs_": ("int", "Epochs run so far (cumulative over warm starts)."),
    "fit_time_": ("float", "Wall-clock seconds of the last ``fit``."),
    "callbacks_": ("list of Callback", """\
The callbacks of the last ``fit`` (copies of ``callbacks`` plus those the shortcuts
added), with what they recorded."""),
}

_MARKERS = {
    "[shared parameters]": ("_parameter_docs", "Parameters"),
    "[shared attributes]": ("_attribute_docs", "Attributes"),
}
_ENTRY = re.compile(r"^    (\w+) : (.*)$")


def _section_entries(doc: str | None, section: str) -> dict[str, tuple[str, str]]:
    """``name: (type, text)`` of the single-name entries of a docstring section."""
    match = re.search(rf"^    {section}\n    -+\n(.*?)(?=\n\n    \w[^\n]*\n    -+\n|\Z)",
                      doc or "", flags=re.S | re.M)
    entries: dict[str, tuple[str, str]] = {}
    name = None
    for line in (match.group(1).splitlines() if match else []):
        head = _ENTRY.match(line)
        if head:
            name = head.group(1)
            entries[name] = (re.sub(r",\s*default=.*$", "", head.group(2)), [])
        elif name is not None and (line.startswith(" " * 8) or not line.strip()):
            entries[name][1].append(line[8:])
        else:
            name = None
    return {n: (kind, "\n".join(text).strip("\n")) for n, (kind, text) in entries.items()}


def _entry(name: str, kind: str, text: str, indent: str, default=inspect.Parameter.empty) -> str:
    head = f"{indent}{name} : {kind}"
    if default is not inspect.Parameter.empty:
        head += f', default="{default}"' if isinstance(default, str) else f", default={default!r}"
    body = "\n".join(f"{indent}    {line}" if line else "" for line in text.splitlines())
    return f"{head}\n{body}"


def complete_docstring(cls: type) -> None:
    """Replace the shared-entry markers of ``cls.__doc__`` (see the module docstring).

    Parameters
    ----------
    cls : type
        An estimator class; its ``__init__`` signature gives the defaults, and only
        the parameters it takes are documented.

    Examples
    --------
    >>> class Demo:
    ...     '''Demo.
    ...
    ...     Parameters
    ...     ----------
    ...     [shared parameters]
    ...     '''
    ...     _parameter_docs = SHARED_PARAMETERS
    ...     def __init__(self, *, tol=0.5):
    ...         self.tol = tol
    >>> complete_docstring(Demo)
    >>> print(Demo.__doc__.splitlines()[4])
        tol : float, default=0.5
    """
    doc = cls.__doc__ or ""
    if not any(marker in doc for marker in _MARKERS):
        return
    signature = inspect.signature(cls.__init__).parameters
    # A base class without an __init__ of its own documents every entry, no default.
    takes_named = any(n != "self" and p.kind is p.KEYWORD_ONLY for n, p in signature.items())
    documented = set(re.findall(r"^\s*(\w+) : ", doc, flags=re.M))
    for marker, (attribute, section) in _MARKERS.items():
        match = re.search(rf"^([ \t]*){re.escape(marker)}[ \t]*$", doc, flags=re.M)
        if match is None:
            continue
        entries: dict = {}
        for klass in cls.__mro__:  # the nearest first: its entries win
            written = _section_entries(klass.__doc__, section) if klass is not cls else {}
            inherited = {**written, **vars(klass).get(attribute, {})}
            for name, entry in inherited.items():
                entries.setdefault(name, entry)
        indent = match.group(1)
        names = [n for n in entries if n not in documented]
        if attribute == "_parameter_docs" and takes_named:
            names = [n for n in names if n in signature]
            lines = [_entry(n, *entries[n], indent, signature[n].default) for n in names]
        else:
            lines = [_entry(n, *entries[n], indent) for n in names]
        doc = doc[: match.start()] + "\n".join(lines) + doc[match.end():]
    cls.__doc__ = doc


# Old private hook names, kept working (with a FutureWarning) for subclasses written
# against the first release, whose guide used them.
_RENAMED_HOOKS = {
    "_build_module": "build_module",
    "_embed": "embed",
    "_make_optimizer": "configure_optimizer",
    "_make_scheduler": "configure_scheduler",
    "_default_budget": "default_budget",
    "_prepare_training_data": "prepare_training_data",
    "_min_length": "min_length",
    "_min_length_source": "min_length_source",
    "_n_features_out_for": "embedding_dims",
    "_valid_levels": "valid_levels",
    "_average_weights": "average_weights",
    "_memory_params": "memory_params",
}


def store_init_arguments(estimator, arguments: dict) -> None:
    """Store every ``__init__`` argument, unchanged, under its own name.

    The body of every estimator's ``__init__`` (scikit-learn's rule: no validation or
    change there; ``fit`` validates): ``store_init_arguments(self, locals())``.

    Parameters
    ----------
    estimator : BaseSSLTransformer
        The instance being initialised.
    arguments : dict
        ``locals()`` of its ``__init__``, which holds the arguments.

    Examples
    --------
    >>> class Demo:
    ...     def __init__(self, *, a=1, b="x"):
    ...         store_init_arguments(self, locals())
    >>> vars(Demo(b="y"))
    {'a': 1, 'b': 'y'}
    """
    for name in inspect.signature(type(estimator).__init__).parameters:
        if name != "self":
            setattr(estimator, name, arguments[name])


def adopt_renamed_hooks(cls: type) -> None:
    """Give a hook defined under its old private name its public name (FutureWarning)."""
    for old, new in _RENAMED_HOOKS.items():
        if old in vars(cls) and new not in vars(cls):
            warnings.warn(
                f"{cls.__name__}.{old} is the hook's old name; name it {new} (the old name "
                "stops working in a future release).",
                FutureWarning,
                stacklevel=3,
            )
            value = vars(cls)[old]
            if old == "_make_scheduler":  # it took only the optimiser
                def value(self, optimizer, ctx, _old=value):
                    return _old(self, optimizer)
            setattr(cls, new, value)


def check_signature(cls: type, required) -> None:
    """The constructor convention: keyword-only, and every ``required`` parameter taken."""
    params = inspect.signature(cls.__init__).parameters
    positional = [n for n, p in params.items()
                  if n != "self" and p.kind is not inspect.Parameter.KEYWORD_ONLY]
    missing = [n for n in required if n not in params]
    if positional or missing:
        raise TypeError(
            f"{cls.__name__}.__init__ must take keyword-only arguments (put '*' first) "
            f"and every shared parameter of the base class; positional: {positional}, "
            f"missing: {missing}."
        )
