"""3GPP CRC (TS 38.212 Sec. 5.1) for code blocks, uint8 numpy in and out.

The polynomials are Sionna's (:class:`sionna.phy.fec.crc.CRCEncoder`'s ``crc_pol``). By default
(``impl="numba"``) the parity is computed by polynomial division in a numba kernel
(:mod:`ntscc_sim.fec._crc_kernel`), which needs no per-length set-up: Sionna's encoder builds a
``k x L`` generator matrix for every block length ``k`` (~50 ms for k = 4096), and a link has
dozens of distinct last-block lengths. ``impl="sionna"`` uses Sionna's ``CRCEncoder`` /
``CRCDecoder`` (reference; ``tests/test_fec_ldpc.py`` checks both agree bit for bit).

Example
-------
>>> import numpy as np
>>> b = np.random.default_rng(0).integers(0, 2, (3, 4072), dtype=np.uint8)
>>> x = crc_attach(b)                      # [3, 4096], CRC24A appended
>>> bool(crc_check(x).all())
True
>>> x[0, 5] ^= 1
>>> crc_check(x).tolist()
[False, True, True]
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from sionna.phy.fec.crc import CRCDecoder, CRCEncoder

from ._crc_kernel import crc_bits, poly_word

__all__ = ["CRC", "crc_attach", "crc_check"]


class CRC:
    """CRC of one polynomial for blocks of ``k`` payload bits.

    Parameters
    ----------
    k : int
        Payload bits per block (without CRC).
    crc_degree : str
        One of ``CRC24A, CRC24B, CRC24C, CRC16, CRC11, CRC6``.
    impl : {"numba", "sionna"}
        Our division kernel (default) or Sionna's generator-matrix encoder / decoder.
    """

    def __init__(self, k: int, crc_degree: str = "CRC24A", impl: str = "numba"):
        if impl not in ("numba", "sionna"):
            raise ValueError(f"unknown CRC implementation {impl!r}")
        self.k = int(k)
        self.crc_degree = crc_degree
        self.impl = impl
        self._poly, self.length = poly_word(_polynomial(crc_degree))
        if impl == "sionna":
            self._enc = CRCEncoder(crc_degree, k=self.k, device="cpu")
            self._dec = CRCDecoder(self._enc, device="cpu")

    def _parity(self, bits: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(bits, dtype=np.uint8).reshape(-1, bits.shape[-1])
        return crc_bits(rows, self._poly, self.length).reshape(bits.shape[:-1] + (self.length,))

    def attach(self, bits: np.ndarray) -> np.ndarray:
        """Append CRC bits, uint8 [..., k] -> uint8 [..., k + length]."""
        bits = np.asarray(bits)
        if bits.shape[-1] != self.k:
            raise ValueError(f"last dimension must be {self.k}")
        if self.impl == "numba":
            return np.concatenate([bits.astype(np.uint8, copy=False), self._parity(bits)], axis=-1)
        x = torch.from_numpy(np.ascontiguousarray(bits, dtype=np.float32))
        with torch.no_grad():
            y = self._enc(x)
        return y.numpy().astype(np.uint8)

    def check(self, bits: np.ndarray) -> np.ndarray:
        """CRC test, uint8 [..., k + length] -> bool [...] (True = passes)."""
        bits = np.asarray(bits)
        if bits.shape[-1] != self.k + self.length:
            raise ValueError(f"last dimension must be {self.k + self.length}")
        if self.impl == "numba":
            return (self._parity(bits[..., :self.k]) == bits[..., self.k:]).all(axis=-1)
        x = torch.from_numpy(np.ascontiguousarray(bits, dtype=np.float32))
        with torch.no_grad():
            _, ok = self._dec(x)
        return ok[..., 0].numpy().astype(bool)


@lru_cache(maxsize=None)
def _polynomial(crc_degree: str) -> tuple:
    """Coefficients ``[g_L, ..., g_0]`` of a 3GPP CRC (Sionna's table; no generator matrix built)."""
    return tuple(int(v) for v in CRCEncoder(crc_degree, device="cpu").crc_pol)


@lru_cache(maxsize=64)
def _crc(k: int, crc_degree: str) -> CRC:
    return CRC(k, crc_degree)


def crc_attach(bits: np.ndarray, crc_degree: str = "CRC24A") -> np.ndarray:
    """Append a 3GPP CRC: uint8 [B, k'] -> uint8 [B, k' + L] (L = 24 for CRC24A)."""
    bits = np.asarray(bits)
    return _crc(bits.shape[-1], crc_degree).attach(bits)


def crc_check(bits: np.ndarray, crc_degree: str = "CRC24A") -> np.ndarray:
    """Check a 3GPP CRC: uint8 [B, k' + L] -> bool [B] (True = CRC passes)."""
    bits = np.asarray(bits)
    length = len(_polynomial(crc_degree)) - 1
    return _crc(bits.shape[-1] - length, crc_degree).check(bits)
