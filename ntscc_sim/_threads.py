"""Shared thread pools for GIL-free numba kernels run on chunks of a batch.

``kernel_threads()`` is the one process-wide setting the simulator's kernels (LDPC encode and
decode, QAM demapping) use inside a sweep: the local executor sets it to the CPUs left per
worker process (all of them with one worker), Ray tasks keep 1. Results never depend on it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_EXECUTORS: dict[int, ThreadPoolExecutor] = {}
_KERNEL_THREADS = 1


def available_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_kernel_threads(n: int) -> None:
    """Threads for the sweep's GIL-free kernels in this process (>= 1)."""
    global _KERNEL_THREADS
    _KERNEL_THREADS = max(1, int(n))


def kernel_threads() -> int:
    return _KERNEL_THREADS


def executor(num_threads: int) -> ThreadPoolExecutor:
    """Shared thread pool (idle threads block, they never spin)."""
    if num_threads not in _EXECUTORS:
        _EXECUTORS[num_threads] = ThreadPoolExecutor(num_threads)
    return _EXECUTORS[num_threads]


def in_chunks(fn, rows, num_threads: int) -> list:
    """``fn`` on ``num_threads`` contiguous chunks of ``rows`` (first axis) on plain Python
    threads; the list of its results, in order. Results never depend on ``num_threads``
    when ``fn`` treats rows independently."""
    nt = max(1, min(int(num_threads), len(rows)))
    if nt == 1:
        return [fn(rows)]
    bounds = np.linspace(0, len(rows), nt + 1).astype(int)
    return list(executor(nt).map(lambda i: fn(rows[bounds[i]:bounds[i + 1]]), range(nt)))
