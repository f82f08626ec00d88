"""Numba kernel: per-dimension LLRs of Gray QAM (one PAM per dimension).

A square QAM point with label bits ``b`` is ``(pam(b[0::2]) + j pam(b[1::2])) / s``, so
``|y - c|^2`` splits into an I and a Q part and, in both the exact and the max-log LLR,
the other dimension's factor cancels. Each bit therefore needs only the sqrt(M)
amplitudes of its own dimension. Computed in float64 (exponentials by a vectorisable
degree-8 polynomial, relative error < 1e-9), written as float32.
"""

import math

import numpy as np
from numba import njit

__all__ = ["demap_qam"]

_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_SQRT2 = 1.4142135623730951


@njit(cache=True, inline="always")
def _exp_neg(x, scale_bits, out):
    """out[i] = exp(x[i]) for x in [-700, 0]: k = round(x / ln2), degree-8 Taylor of exp(r), 2^k from bits."""
    for i in range(x.size):
        k = math.floor(x[i] * _LOG2E + 0.5)
        r = (x[i] - k * _LN2_HI) - k * _LN2_LO
        p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320))))))))
        scale_bits[i] = (np.int64(k) + 1023) << 52
        out[i] = p
    sc = scale_bits.view(np.float64)
    for i in range(x.size):
        out[i] *= sc[i]


@njit(cache=True, nogil=True)
def demap_qam(yr, yi, no, levels, labels, exact, out):
    """LLRs of N received symbols.

    yr, yi: float32 [N] real and imaginary parts; no: float32 [N] or [1] noise variance;
    levels: float64 [P] PAM amplitudes; labels: uint8 [P, q] their bits (MSB first);
    exact: log-sum-exp (True) or max-log; out: float32 [N, 2q], bit 2j from the real
    part's bit j, bit 2j+1 from the imaginary part's.

    Works on chunks of symbols, one dimension at a time, so that the loops vectorise.
    Exact LLRs share one exponential per amplitude, scaled by the chunk element's
    largest exponent: ``log(sum_1 / sum_0)``; where a sum underflows (|LLR| > ~660)
    the LLR is recomputed with each set's own maximum.
    """
    n = yr.size
    p_count, q = labels.shape
    tiny = np.finfo(np.float32).tiny
    CH = 512
    e = np.empty((p_count, CH))
    w = np.empty((p_count, CH))
    top = np.empty(CH)
    inv = np.empty(CH)
    s0 = np.empty(CH)
    s1 = np.empty(CH)
    ratio = np.empty(CH)
    llr = np.empty(CH)
    tmp = np.empty(CH)
    ibuf = np.empty(CH, dtype=np.int64)
    for d in range(2):
        y = yr if d == 0 else yi
        for c0 in range(0, n, CH):
            m = min(n, c0 + CH) - c0
            if no.size == n:
                for i in range(m):
                    inv[i] = 1.0 / max(float(no[c0 + i]), tiny)
            else:
                v = 1.0 / max(float(no[0]), tiny)
                for i in range(m):
                    inv[i] = v
            for i in range(m):
                top[i] = -np.inf
            for p in range(p_count):
                a = levels[p]
                ep = e[p]
                for i in range(m):
                    t = float(y[c0 + i]) - a
                    ep[i] = -t * t * inv[i]
                for i in range(m):
                    top[i] = max(top[i], ep[i])
            if exact:
                for p in range(p_count):
                    ep = e[p]
                    for i in range(m):
                        tmp[i] = max(ep[i] - top[i], -700.0)
                    _exp_neg(tmp[:m], ibuf[:m], w[p, :m])
            for j in range(q):
                if exact:
                    s0[:m] = 0.0
                    s1[:m] = 0.0
                    for p in range(p_count):
                        wp = w[p]
                        if labels[p, j]:
                            for i in range(m):
                                s1[i] += wp[i]
                        else:
                            for i in range(m):
                                s0[i] += wp[i]
                    for i in range(m):
                        ratio[i] = s1[i] / s0[i]
                    for i in range(m):
                        llr[i] = math.log(ratio[i])
                    for i in range(m):
                        if not (s0[i] > 1e-290 and s1[i] > 1e-290):  # far from one set: own maxima
                            m0 = -np.inf
                            m1 = -np.inf
                            for p in range(p_count):
                                if labels[p, j]:
                                    m1 = max(m1, e[p, i])
                                else:
                                    m0 = max(m0, e[p, i])
                            a0 = 0.0
                            a1 = 0.0
                            for p in range(p_count):
                                if labels[p, j]:
                                    a1 += math.exp(e[p, i] - m1)
                                else:
                                    a0 += math.exp(e[p, i] - m0)
                            llr[i] = (m1 - m0) + math.log(a1 / a0)
                else:
                    for i in range(m):
                        s0[i] = -np.inf
                        s1[i] = -np.inf
                    for p in range(p_count):
                        ep = e[p]
                        if labels[p, j]:
                            for i in range(m):
                                s1[i] = max(s1[i], ep[i])
                        else:
                            for i in range(m):
                                s0[i] = max(s0[i], ep[i])
                    for i in range(m):
                        llr[i] = s1[i] - s0[i]
                for i in range(m):
                    out[c0 + i, 2 * j + d] = llr[i]
