"""Numba kernel: one SSIM scale of two planar images with a separable Gaussian window.

Same definition as ``pytorch_msssim``'s ``_ssim`` ('valid' filtering, per-channel
means of the SSIM and contrast-structure maps), computed with a separable float32
filter. Every inner loop reads and writes one row buffer so that LLVM vectorises
it (a loop writing several buffers needs too many run-time alias checks and stays
scalar). The inputs are shifted by ``shift`` (128 for 0..255 data) so that second
moments, hence float32 variances, stay small; the luminance term adds it back.
Values agree with pytorch_msssim's float64 ones to about 1e-6.
"""

import numpy as np
from numba import njit

__all__ = ["ssim_level"]


@njit(cache=True)
def _correlate_row(src, w, dst):
    """'valid' correlation of one row with a symmetric window of odd size:
    dst[i] = sum_k w[k] src[i + k]."""
    n = w.size
    c = n // 2
    wc = w[c]
    for i in range(dst.size):
        dst[i] = wc * src[i + c]
    for k in range(c):
        wk = w[k]
        j = n - 1 - k
        for i in range(dst.size):
            dst[i] += wk * (src[i + k] + src[i + j])


@njit(cache=True)
def _accumulate(a, b, wk, dst):
    for i in range(dst.size):
        dst[i] += wk * (a[i] + b[i])


@njit(cache=True)
def _scale(a, wk, dst):
    for i in range(dst.size):
        dst[i] = wk * a[i]


@njit(cache=True)
def _product(a, b, dst):
    for i in range(dst.size):
        dst[i] = a[i] * b[i]


@njit(cache=True)
def _maps(mu1, mu2, s11, s22, s12, c1, c2, shift, ssim_row, cs_row):
    """SSIM and CS maps of one output row from the filtered moments (float32 [W] each)."""
    two = np.float32(2.0)
    for i in range(ssim_row.size):
        cs = (two * (s12[i] - mu1[i] * mu2[i]) + c2) / ((s11[i] - mu1[i] * mu1[i]) + (s22[i] - mu2[i] * mu2[i]) + c2)
        u1 = mu1[i] + shift
        u2 = mu2[i] + shift
        cs_row[i] = cs
        ssim_row[i] = cs * (two * u1 * u2 + c1) / (u1 * u1 + u2 * u2 + c1)


@njit(cache=True)
def _add_to(a, acc):
    for i in range(acc.size):
        acc[i] += a[i]


@njit(cache=True)
def ssim_level(x, y, wv, w, c1, c2, shift):
    """SSIM and CS per channel.

    x, y: float32 [C, H, W] (already shifted by ``shift``); wv, w: float32
    symmetric windows of odd sizes n <= H (vertical) and <= W (horizontal);
    c1, c2, shift: float32. Returns (float64 [C], float64 [C]).
    """
    nc, h, wd = x.shape
    n = wv.size
    ho, wo = h - n + 1, wd - w.size + 1
    src = np.empty((5, wd), dtype=x.dtype)
    ring = np.empty((5, n, wo), dtype=x.dtype)  # last n horizontally filtered rows
    m = np.empty((5, wo), dtype=x.dtype)
    ssim_row = np.empty(wo, dtype=x.dtype)
    cs_row = np.empty(wo, dtype=x.dtype)
    ssim_acc = np.empty(wo, dtype=np.float64)
    cs_acc = np.empty(wo, dtype=np.float64)
    ssim = np.zeros(nc, dtype=np.float64)
    cs = np.zeros(nc, dtype=np.float64)
    for c in range(nc):
        ssim_acc[:] = 0.0
        cs_acc[:] = 0.0
        for r in range(h):
            # horizontal pass of x, y, x*x, y*y, x*y into ring slot r % n
            xr = x[c, r]
            yr = y[c, r]
            src[0] = xr
            src[1] = yr
            _product(xr, xr, src[2])
            _product(yr, yr, src[3])
            _product(xr, yr, src[4])
            for q in range(5):
                _correlate_row(src[q], w, ring[q, r % n])
            if r < n - 1:
                continue
            # vertical pass for output row r - n + 1, then its SSIM and CS maps
            top = r - n + 1
            for q in range(5):
                _scale(ring[q, (top + n // 2) % n], wv[n // 2], m[q])
                for k in range(n // 2):
                    _accumulate(ring[q, (top + k) % n], ring[q, (top + n - 1 - k) % n], wv[k], m[q])
            _maps(m[0], m[1], m[2], m[3], m[4], c1, c2, shift, ssim_row, cs_row)
            _add_to(ssim_row, ssim_acc)
            _add_to(cs_row, cs_acc)
        ssim[c] = ssim_acc.sum() / (ho * wo)
        cs[c] = cs_acc.sum() / (ho * wo)
    return ssim, cs
