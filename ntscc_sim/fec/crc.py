"""3GPP CRC (TS 38.212 Sec. 5.1) for code blocks, numpy front-end to Sionna.

Thin wrapper around :class:`sionna.phy.fec.crc.CRCEncoder` /
:class:`~sionna.phy.fec.crc.CRCDecoder` (generator-matrix implementation,
fast enough: ~1 ms for 512 blocks of 4096 bits) taking and returning uint8
numpy arrays.

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

__all__ = ["CRC", "crc_attach", "crc_check"]


class CRC:
    """CRC of one polynomial for blocks of ``k`` payload bits.

    Parameters
    ----------
    k : int
        Payload bits per block (without CRC).
    crc_degree : str
        One of ``CRC24A, CRC24B, CRC24C, CRC16, CRC11, CRC6``.
    """

    def __init__(self, k: int, crc_degree: str = "CRC24A"):
        self.k = int(k)
        self.crc_degree = crc_degree
        self._enc = CRCEncoder(crc_degree, k=self.k, device="cpu")
        self._dec = CRCDecoder(self._enc, device="cpu")
        self.length = self._enc.crc_length

    def attach(self, bits: np.ndarray) -> np.ndarray:
        """Append CRC bits, uint8 [..., k] -> uint8 [..., k + length]."""
        bits = np.asarray(bits)
        if bits.shape[-1] != self.k:
            raise ValueError(f"last dimension must be {self.k}")
        x = torch.from_numpy(np.ascontiguousarray(bits, dtype=np.float32))
        with torch.no_grad():
            y = self._enc(x)
        return y.numpy().astype(np.uint8)

    def check(self, bits: np.ndarray) -> np.ndarray:
        """CRC test, uint8 [..., k + length] -> bool [...] (True = passes)."""
        bits = np.asarray(bits)
        if bits.shape[-1] != self.k + self.length:
            raise ValueError(f"last dimension must be {self.k + self.length}")
        x = torch.from_numpy(np.ascontiguousarray(bits, dtype=np.float32))
        with torch.no_grad():
            _, ok = self._dec(x)
        return ok[..., 0].numpy().astype(bool)


@lru_cache(maxsize=16)
def _crc(k: int, crc_degree: str) -> CRC:
    return CRC(k, crc_degree)


def crc_attach(bits: np.ndarray, crc_degree: str = "CRC24A") -> np.ndarray:
    """Append a 3GPP CRC: uint8 [B, k'] -> uint8 [B, k' + L] (L = 24 for CRC24A)."""
    bits = np.asarray(bits)
    return _crc(bits.shape[-1], crc_degree).attach(bits)


def crc_check(bits: np.ndarray, crc_degree: str = "CRC24A") -> np.ndarray:
    """Check a 3GPP CRC: uint8 [B, k' + L] -> bool [B] (True = CRC passes)."""
    bits = np.asarray(bits)
    length = {"CRC24A": 24, "CRC24B": 24, "CRC24C": 24, "CRC16": 16,
              "CRC11": 11, "CRC6": 6}[crc_degree]
    return _crc(bits.shape[-1] - length, crc_degree).check(bits)
