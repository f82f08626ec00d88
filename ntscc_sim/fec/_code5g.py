"""Parameters and parity-check matrix of a rate-matched 5G LDPC code, without Sionna's encoder set-up.

Sionna's ``LDPC5GEncoder(k, n)`` selects the base graph and lifting (TS 38.212 5.2.2), lifts the
base graph, and then prepares its own encoder (a dense inverse and gather indices), which is
about 85 % of its construction time and which our numba encoder does not use. :func:`code5g`
calls the same Sionna selection and lifting routines (so the code is Sionna's by construction)
and skips the rest; the lifted matrix depends only on the base graph and ``z`` and is shared by
every ``(k, n)`` with that pair. ``tests/test_fec_ldpc.py`` checks every field against
``LDPC5GEncoder`` over a grid of ``(k, n)``.

Example
-------
>>> c = code5g(4096, 6144)
>>> c.bg, c.z, c.k_ldpc, c.n_ldpc, c.pcm.shape
('bg1', 192, 4224, 13056, (8832, 13056))
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from sionna.phy.fec.ldpc import LDPC5GEncoder

# Sionna's selection / loading / lifting routines use no encoder state; they are called unbound.
_SIONNA = LDPC5GEncoder


@dataclass(frozen=True)
class Code5G:
    """What the QC encoder and decoder need of a 5G code: the fields of ``LDPC5GEncoder`` they read."""

    k: int
    n: int
    bg: str
    i_ls: int  # lifting set index (TS 38.212 Table 5.3.2-1)
    z: int
    k_ldpc: int
    n_ldpc: int
    pcm: sp.csr_matrix  # lifted parity-check matrix [m_b * z, n_ldpc]


@lru_cache(maxsize=None)
def _base_matrix(bg: str, i_ls: int) -> np.ndarray:
    return _SIONNA._load_basegraph(None, i_ls, bg)


@lru_cache(maxsize=64)
def lifted_pcm(bg: str, i_ls: int, z: int) -> sp.csr_matrix:
    """Base graph ``bg`` (set ``i_ls``) lifted by ``z`` (shared: do not modify)."""
    return _SIONNA._lift_basegraph(None, _base_matrix(bg, i_ls), z)


@lru_cache(maxsize=256)
def code5g(k: int, n: int) -> Code5G:
    """The 5G code Sionna's ``LDPC5GEncoder(k, n)`` builds (same checks, same matrix)."""
    k, n = int(k), int(n)
    if not 12 <= k <= 8448:
        raise ValueError(f"unsupported code length k={k} (12..8448)")
    if not 0 < n <= 316 * 384:
        raise ValueError(f"unsupported code length n={n}")
    rate = k / n
    if rate > 0.95 or rate < 1 / 5:
        raise ValueError(f"unsupported code rate {rate:.3f} for n={n}, k={k} (1/5..0.95)")
    bg = _SIONNA._sel_basegraph(None, k, rate, None)
    z, i_ls, k_b = _SIONNA._sel_lifting(None, k, bg)
    pcm = lifted_pcm(bg, i_ls, z)
    return Code5G(k=k, n=n, bg=bg, i_ls=i_ls, z=z, k_ldpc=k_b * z, n_ldpc=pcm.shape[1], pcm=pcm)
