"""Opt-in settings read by the base class: precision, ``torch.compile``, CPU threads.

Estimators that expose the parameters ``precision`` ("float32", "tf32", "bf16") and
``compile`` (bool) get them; the base class reads them with ``getattr`` so that
estimators without them keep the float32 eager default.  ``n_threads`` bounds torch's
intra-op threads for the duration of one call (:func:`thread_limit`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import warnings
from numbers import Integral

import torch

__all__ = ["PRECISIONS", "auto_threads", "busy_cores", "cpu_supports_bf16", "maybe_compile",
           "precision_context", "thread_limit"]

PRECISIONS = ("float32", "tf32", "bf16")
# (time of the last reading, its value) of busy_cores: a reading serves for a second.
_BUSY: list = [-float("inf"), None]


@contextlib.contextmanager
def precision_context(precision: str, device: torch.device):
    """Run the enclosed forward passes at ``precision`` on ``device``.

    - ``"float32"``: nothing changes (TF32 stays as the process configured it);
    - ``"tf32"``: CUDA matmuls and convolutions may use TF32 tensor cores (float32
      storage, ~10-bit mantissa products); the previous flags are restored on exit.
      No effect on other devices (a warning says so);
    - ``"bf16"``: ``torch.autocast`` to bfloat16.  Losses that are unsafe in
      bfloat16 (TS2Vec's log-sum-exp) turn autocast off and run in float32.  On a CPU
      whose oneDNN has no bfloat16 kernels (e.g. AVX2-only x86), the enclosed code
      runs in float32, with a warning.

    Parameters
    ----------
    precision : {"float32", "tf32", "bf16"}
    device : torch.device
    """
    if precision == "bf16" and device.type == "cpu" and not cpu_supports_bf16():
        warnings.warn(
            "precision='bf16' needs bfloat16 kernels that this CPU lacks (oneDNN "
            "could not build a bfloat16 LSTM); computing in float32.",
            UserWarning,
            stacklevel=3,
        )
        yield
    elif precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(
                f"precision='bf16' needs a GPU with bfloat16 support; {device} has none. "
                "Use precision='tf32' or 'float32'."
            )
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
    elif precision == "tf32" and device.type == "cuda":
        flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags
    else:
        if precision == "tf32":
            warnings.warn(
                f"precision='tf32' only affects CUDA devices; computing in float32 on {device}.",
                UserWarning,
                stacklevel=3,
            )
        yield


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """Whether this CPU runs every bfloat16 kernel sslts uses (probed once per process).

    oneDNN builds bfloat16 LSTM kernels only on CPUs with native bfloat16 support
    (AVX512-BF16 or AMX); elsewhere (AVX2-only CPUs, or ``ONEDNN_MAX_CPU_ISA=AVX2``) it
    raises "could not create a primitive descriptor".  A one-step LSTM under bfloat16
    autocast tells.

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(cpu_supports_bf16(), bool)
    True
    """
    lstm = torch.nn.LSTM(1, 2, batch_first=True)
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            lstm(torch.zeros(1, 1, 1))
    except RuntimeError:
        return False
    return True


def maybe_compile(module: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """``torch.compile(module, dynamic=True)`` when ``enabled``, else ``module``.

    ``dynamic=True`` because crop lengths change at every step; the compiled wrapper
    shares the module's parameters, and compiled code is cached by torch across
    calls, so wrapping again each epoch costs nothing after the first compilation.
    """
    return torch.compile(module, dynamic=True) if enabled else module


def busy_cores() -> int | None:
    """Cores other processes (and threads) keep busy right now, or None where unknown.

    Read from the kernel's count of runnable threads (``procs_running`` in
    ``/proc/stat``, Linux), the median of five reads 2 ms apart, less the calling
    thread itself.  Costs about 10 ms; the answer is reused for a second, so that a
    loop of small ``transform`` calls does not pay it each time.

    Returns
    -------
    int or None

    Examples
    --------
    >>> busy = busy_cores()
    >>> busy is None or busy >= 0
    True
    """
    now = time.monotonic()
    if now - _BUSY[0] < 1.0:
        return _BUSY[1]
    counts = []
    try:
        for _ in range(5):
            with open("/proc/stat", "rb") as f:
                line = next(x for x in f if x.startswith(b"procs_running"))
            counts.append(int(line.split()[1]))
            time.sleep(0.002)
    except (OSError, StopIteration, ValueError):
        busy = None
    else:
        busy = max(0, sorted(counts)[len(counts) // 2] - 1)
    _BUSY[:] = [now, busy]
    return busy


def auto_threads() -> int:
    """torch's thread count, lowered to the cores nobody else is using.

    torch's OpenMP threads spin while they wait for each other, so on a machine where
    other processes hold cores, threads beyond the idle cores make a fit many times
    slower instead of faster; on an idle machine this is torch's own count.

    Returns
    -------
    int

    Examples
    --------
    >>> 1 <= auto_threads() <= torch.get_num_threads()
    True
    """
    current = torch.get_num_threads()
    busy = busy_cores()
    if busy is None:
        return current
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        cores = os.cpu_count() or current
    return max(1, min(current, cores - busy))


@contextlib.contextmanager
def thread_limit(n_threads: int | None):
    """Run the enclosed torch operators on ``n_threads`` intra-op threads.

    ``torch.set_num_threads`` is process-wide, so the previous count is restored on
    exit, exceptions included; nested limits restore in order.  The OpenMP wait policy
    (``OMP_WAIT_POLICY=PASSIVE``) cannot be set this way: it is read once, when torch
    is imported.

    Parameters
    ----------
    n_threads : int or None
        None chooses :func:`auto_threads`: torch's count on an idle machine, fewer
        when other processes keep cores busy.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with thread_limit(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if n_threads is None:
        n_threads = auto_threads()
    if isinstance(n_threads, bool) or not isinstance(n_threads, Integral) or n_threads < 1:
        raise ValueError(f"n_threads must be None or an int >= 1, got {n_threads!r}.")
    previous = torch.get_num_threads()
    if n_threads != previous:
        torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
