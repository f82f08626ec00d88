"""Shared thread pools for GIL-free numba kernels run on chunks of a batch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

_EXECUTORS: dict[int, ThreadPoolExecutor] = {}


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
