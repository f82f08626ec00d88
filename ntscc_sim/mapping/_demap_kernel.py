"""Numba kernel: per-dimension LLRs of Gray QAM (one PAM per dimension).

A square QAM point with label bits ``b`` is ``(pam(b[0::2]) + j pam(b[1::2])) / s``, so
``|y - c|^2`` splits into an I and a Q part and, in both the exact and the max-log LLR,
the other dimension's factor cancels. Each bit therefore needs only the sqrt(M)
amplitudes of its own dimension. Computed in float64, written as float32.
"""

import math

import numpy as np
from numba import njit

__all__ = ["demap_qam"]


@njit(cache=True, nogil=True)
def demap_qam(yr, yi, no, levels, labels, exact, out):
    """LLRs of N received symbols.

    yr, yi: float32 [N] real and imaginary parts; no: float32 [N] or [1] noise variance;
    levels: float64 [P] PAM amplitudes; labels: uint8 [P, q] their bits (MSB first);
    exact: log-sum-exp (True) or max-log; out: float32 [N, 2q], bit 2j from the real
    part's bit j, bit 2j+1 from the imaginary part's.

    Exact LLRs share one exponential per amplitude, scaled by the largest exponent:
    ``log(sum_1 / sum_0)``; a sum that underflows (|LLR| > ~690) is recomputed with
    its own maximum.
    """
    n = yr.size
    p_count, q = labels.shape
    e = np.empty(p_count)
    w = np.empty(p_count)
    tiny = np.finfo(np.float32).tiny
    for s in range(n):
        nv = no[s] if no.size == n else no[0]
        inv = 1.0 / max(float(nv), tiny)
        for d in range(2):
            y = float(yr[s]) if d == 0 else float(yi[s])
            top = -np.inf
            for p in range(p_count):
                t = y - levels[p]
                e[p] = -t * t * inv
                top = max(top, e[p])
            if exact:
                for p in range(p_count):
                    w[p] = math.exp(e[p] - top)
            for j in range(q):
                m0 = -np.inf
                m1 = -np.inf
                s0 = 0.0
                s1 = 0.0
                for p in range(p_count):
                    if labels[p, j]:
                        m1 = max(m1, e[p])
                        s1 += w[p]
                    else:
                        m0 = max(m0, e[p])
                        s0 += w[p]
                if not exact:
                    llr = m1 - m0
                elif s0 > 1e-290 and s1 > 1e-290:
                    llr = math.log(s1 / s0)
                else:  # one set is far away: log-sum-exp with each set's own maximum
                    s0 = 0.0
                    s1 = 0.0
                    for p in range(p_count):
                        if labels[p, j]:
                            s1 += math.exp(e[p] - m1)
                        else:
                            s0 += math.exp(e[p] - m0)
                    llr = (m1 - m0) + math.log(s1 / s0)
                out[s, 2 * j + d] = llr
