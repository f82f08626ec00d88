"""Gray QAM: constellation, mapper and demapper with Sionna's conventions."""

from __future__ import annotations

import numpy as np

from .._threads import in_chunks
from ._demap_kernel import demap_qam

__all__ = ["QAMDemapper", "QAMMapper", "pam_levels", "qam_constellation"]

METHODS = ("app", "maxlog")


def _check_bits_per_symbol(m) -> int:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m <= 0 or m % 2:
        raise ValueError(f"num_bits_per_symbol must be a positive even integer, got {m!r}")
    return int(m)


def _pam_gray(bits) -> int:
    """TS 38.211 Gray PAM amplitude of a bit vector (MSB first), in {+-1, +-3, ...}."""
    if len(bits) > 1:
        return (1 - 2 * bits[0]) * (2 ** (len(bits) - 1) - _pam_gray(bits[1:]))
    return 1 - 2 * bits[0]


def _labels(num_bits: int) -> np.ndarray:
    """uint8 [2**num_bits, num_bits]: row i holds the bits of i, MSB first."""
    return ((np.arange(2**num_bits)[:, None] >> np.arange(num_bits - 1, -1, -1)) & 1).astype(np.uint8)


def pam_levels(num_bits_per_symbol: int) -> tuple[np.ndarray, np.ndarray]:
    """One dimension of unit-energy Gray QAM: (float64 [sqrt M] amplitudes, uint8 [sqrt M, m/2]
    labels); amplitude ``p`` carries the bits of ``p``."""
    q = _check_bits_per_symbol(num_bits_per_symbol) // 2
    labels = _labels(q)
    # average energy of the unnormalised square QAM: 2 * mean of the odd squares
    scale = np.sqrt(2.0 * np.mean(np.arange(1, 2**q, 2, dtype=np.float64) ** 2))
    return np.array([_pam_gray(b.astype(np.int64)) for b in labels], dtype=np.float64) / scale, labels


def qam_constellation(num_bits_per_symbol: int) -> np.ndarray:
    """complex64 [2**m]: Sionna's ``qam(m)`` (unit energy); point i carries the bits of i."""
    m = _check_bits_per_symbol(num_bits_per_symbol)
    levels, _ = pam_levels(m)
    idx = np.arange(2**m)
    i_bits = np.zeros_like(idx)
    q_bits = np.zeros_like(idx)
    for j in range(m // 2):  # bits 0, 2, 4, ... -> I; 1, 3, 5, ... -> Q
        i_bits = (i_bits << 1) | ((idx >> (m - 1 - 2 * j)) & 1)
        q_bits = (q_bits << 1) | ((idx >> (m - 2 - 2 * j)) & 1)
    return (levels[i_bits] + 1j * levels[q_bits]).astype(np.complex64)


class QAMMapper:
    """Gray QAM mapper, Sionna's ``Mapper("qam", m)`` without torch.

    Input: bits, integer or float array [..., n] of 0/1 with n a multiple of m.
    Output: complex64 [..., n / m].

    Example
    -------
    >>> QAMMapper(4)(np.array([0, 0, 0, 0, 1, 1, 1, 1]))
    array([ 0.31622776+0.31622776j, -0.9486833 -0.9486833j ], dtype=complex64)
    """

    def __init__(self, num_bits_per_symbol: int):
        self.num_bits_per_symbol = _check_bits_per_symbol(num_bits_per_symbol)
        self.points = qam_constellation(self.num_bits_per_symbol)

    def __call__(self, bits) -> np.ndarray:
        bits = np.asarray(bits)
        m = self.num_bits_per_symbol
        if bits.ndim == 0 or bits.shape[-1] % m:
            raise ValueError(f"the last dimension of bits ({bits.shape}) must be a multiple of {m}")
        if bits.dtype.kind not in "iub":
            bits = bits.astype(np.uint8)
        groups = bits.reshape(bits.shape[:-1] + (bits.shape[-1] // m, m))
        index = groups[..., 0].astype(np.intp)
        for j in range(1, m):
            index <<= 1
            index |= groups[..., j]
        return self.points[index]


class QAMDemapper:
    """Soft Gray QAM demapper, same LLRs as Sionna's ``Demapper(method, "qam", m)``.

    Parameters
    ----------
    num_bits_per_symbol : int
        m (2: QPSK, 4: 16QAM, 6: 64QAM, 8: 256QAM).
    method : {"app", "maxlog"}
        Exact log-sum-exp or max-log LLRs.
    num_threads : int
        Threads (chunks of symbols handled by the GIL-free kernel); results never depend on it.

    Input: ``y`` complex [..., N] (numpy or torch) received symbols; ``no`` noise variance,
    a scalar or an array broadcastable to ``y`` (clamped at float32's smallest normal).
    Output: float32 [..., N * m] LLRs ``log p(b=1|y) / p(b=0|y)`` (logits, Sionna's sign), the
    bits of each symbol in label order.

    Example
    -------
    >>> demap = QAMDemapper(4, "app")
    >>> llr = demap(QAMMapper(4)(np.array([0, 1, 1, 0])), 0.1)
    >>> (llr > 0).astype(int).tolist()
    [0, 1, 1, 0]
    """

    def __init__(self, num_bits_per_symbol: int, method: str = "app", num_threads: int = 1):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.num_bits_per_symbol = _check_bits_per_symbol(num_bits_per_symbol)
        self.method = method
        self.num_threads = int(num_threads)
        self._levels, self._labels = pam_levels(self.num_bits_per_symbol)

    def __call__(self, y, no) -> np.ndarray:
        y = _numpy(y)
        no = np.asarray(_numpy(no), dtype=np.float32)
        shape = y.shape
        yr = np.ascontiguousarray(y.real, dtype=np.float32).reshape(-1)
        yi = np.ascontiguousarray(y.imag, dtype=np.float32).reshape(-1)
        if no.size == 1:
            no = no.reshape(1)
        else:
            no = np.ascontiguousarray(np.broadcast_to(no, shape)).reshape(-1)
        out = np.empty((yr.size, self.num_bits_per_symbol), dtype=np.float32)
        exact = self.method == "app"

        def run(idx):
            a, b = (idx[0], idx[-1] + 1) if idx.size else (0, 0)
            demap_qam(yr[a:b], yi[a:b], no if no.size == 1 else no[a:b], self._levels, self._labels, exact, out[a:b])

        in_chunks(run, np.arange(yr.size), self.num_threads)
        return out.reshape(shape[:-1] + (shape[-1] * self.num_bits_per_symbol,))


def _numpy(a):
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)
