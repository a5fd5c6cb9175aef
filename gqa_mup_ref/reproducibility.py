"""Seeds and thread counts, fixed in the first cell of every notebook and in every worker; and
idle threads that sleep instead of spinning, so a busy machine does not slow everything down.

Torch runs its CPU kernels on an OpenMP thread team. By default an idle OpenMP thread (GNU
libgomp) spins for a while before it sleeps; when another process keeps one of two cores busy,
the spinning thread and the one that has work take turns on the free core and a training step
became 6× slower (``benchmarks/busy_machine.py``). ``OMP_WAIT_POLICY=PASSIVE`` makes idle threads
sleep at once. The OpenMP runtime reads it only when it starts, i.e. when torch is first
imported, so :func:`quiet_waiting` (called when :mod:`gqa_mup_ref` is imported, and by
``tests/conftest.py``) sets it in the environment before that — child processes (notebook
kernels, sweep workers) inherit it. The wait policy changes scheduling only, not a single bit of
any result; a value you set yourself is kept.
"""

from __future__ import annotations

import os
import random
import sys

__all__ = ["QUIET_WAITING", "quiet_waiting", "waiting_is_quiet", "set_determinism", "cpu_model"]

QUIET_WAITING = {"OMP_WAIT_POLICY": "PASSIVE"}
"""Environment that makes idle OpenMP threads sleep instead of spinning."""

_applied: bool | None = None  # whether quiet_waiting ran before torch started OpenMP


def quiet_waiting(environ: dict | None = None) -> bool:
    """Set :data:`QUIET_WAITING` in ``environ`` (default ``os.environ``) unless already set there.

    Returns whether it can still take effect in this process: false when torch was imported
    before (its OpenMP runtime has read the environment already; child processes still inherit
    the setting). Call it before ``import torch`` — importing :mod:`gqa_mup_ref` first does.
    """
    global _applied
    environ = os.environ if environ is None else environ
    for name, value in QUIET_WAITING.items():
        environ.setdefault(name, value)
    effective = "torch" not in sys.modules
    if environ is os.environ and _applied is None:
        _applied = effective
    return effective


def waiting_is_quiet() -> bool:
    """Whether this process's OpenMP threads sleep when idle: PASSIVE set before torch started."""
    return bool(_applied) and os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"


def set_determinism(seed: int = 0, threads: int = 2) -> None:
    """Seed Python, NumPy and torch, and fix torch's intra-op thread count.

    Float sums depend on the thread count (1 vs 2 threads changed a printed 4th decimal), so
    notebooks print rounded summaries *and* fix the threads. Idle threads sleep rather than
    spin when :mod:`gqa_mup_ref` was imported before torch (see :func:`quiet_waiting`), so two
    threads stay fast when another process keeps a core busy.
    """
    if threads < 1:
        raise ValueError(f"threads={threads} must be a positive integer")
    quiet_waiting()
    import numpy as np
    import torch

    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


def cpu_model() -> str:
    """The CPU's model name, for the provenance of a result: ``/proc/cpuinfo``'s first ``model name`` on
    Linux, else what ``platform.processor()`` (or ``platform.machine()``) says."""
    import platform

    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
