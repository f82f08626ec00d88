"""Numba kernels: systematic encoding of a quasi-cyclic 5G LDPC code.

The lifted parity-check matrix ``H`` of a 5G base graph is ``[H_s | H_c | 0; H_s' | H_c' | I]``:
``k_b`` systematic base columns, 4 core parity columns (rows 0..3) and one extension
parity column per further row, which appears in its own row only, as an identity-like
circulant. Encoding ``u``:

1. syndromes ``s = H_s u`` of the needed rows (circulant XORs over contiguous z-segments);
2. core parity ``p_c = A^-1 s[0:4z]``, ``A`` the 4z x 4z core block; ``A^-1`` is precomputed
   (GF(2) Gauss-Jordan) and applied on 64-bit packed rows (AND, XOR, parity fold);
3. each extension parity block from its row: ``s_l + H_c' p_c``.

The result is the unique codeword of ``H`` with systematic part ``u`` and therefore equals
any correct encoder's output (checked bit-exact against Sionna's ``LDPC5GEncoder``).
"""

import numpy as np
from numba import njit

__all__ = ["gf2_inverse_packed", "qc_encode"]


@njit(cache=True)
def gf2_inverse_packed(a):
    """Inverse of a square GF(2) matrix uint8 [n, n] -> packed rows uint64 [n, ceil(n/64)]
    (bit ``c`` of row ``r`` is word ``c // 64``, bit ``c % 64``). Raises if singular."""
    n = a.shape[0]
    nw = (n + 63) // 64
    m = np.zeros((n, nw), dtype=np.uint64)  # packed A
    inv = np.zeros((n, nw), dtype=np.uint64)
    one = np.uint64(1)
    for r in range(n):
        for c in range(n):
            if a[r, c]:
                m[r, c // 64] |= one << np.uint64(c % 64)
        inv[r, r // 64] |= one << np.uint64(r % 64)
    for col in range(n):
        w = col // 64
        bit = one << np.uint64(col % 64)
        piv = -1
        for r in range(col, n):
            if m[r, w] & bit:
                piv = r
                break
        if piv < 0:
            raise ValueError("core block of the parity-check matrix is singular")
        if piv != col:
            for j in range(nw):
                t = m[piv, j]
                m[piv, j] = m[col, j]
                m[col, j] = t
                t = inv[piv, j]
                inv[piv, j] = inv[col, j]
                inv[col, j] = t
        for r in range(n):
            if r != col and (m[r, w] & bit):
                for j in range(nw):
                    m[r, j] ^= m[col, j]
                    inv[r, j] ^= inv[col, j]
    return inv


@njit(cache=True, inline="always")
def _xor_shifted(src, dst, shift, z):
    """dst[i] ^= src[(i + shift) % z], as two contiguous segments."""
    head = z - shift
    for i in range(head):
        dst[i] ^= src[shift + i]
    for i in range(head, z):
        dst[i] ^= src[i - head]


@njit(cache=True, nogil=True)
def qc_encode(u, k_sys_cols, z, row_ptr, e_col, e_shift, core_inv, n_rows, out):
    """Encode and rate-match a batch (TS 38.212, redundancy version 0).

    u: uint8 [B, k] information bits (k <= k_sys_cols * z; the rest are zero fillers);
    row_ptr, e_col, e_shift: int32 base edges per base row (Sionna's lifting: check
    ``l*z + i`` touches bit ``col*z + (i + shift) % z``); core_inv: uint64 packed
    ``A^-1`` [4z, words]; n_rows: base rows to use (>= 4, enough for n); out: uint8
    [B, n] receives information bits ``2z .. k-1`` then parity bits from the first.
    """
    batch, k = u.shape
    n = out.shape[1]
    n_sys = k - 2 * z
    n_core = 4 * z
    nw = core_inv.shape[1]
    v = np.zeros((k_sys_cols + n_rows) * z, dtype=np.uint8)
    s = np.zeros(n_rows * z, dtype=np.uint8)
    packed = np.zeros(nw, dtype=np.uint64)
    for b in range(batch):
        v[:k] = u[b]
        v[k:] = 0
        s[:] = 0
        # 1. syndromes of the systematic part
        for l in range(n_rows):
            for e in range(row_ptr[l], row_ptr[l + 1]):
                c = e_col[e]
                if c < k_sys_cols:
                    _xor_shifted(v[c * z:(c + 1) * z], s[l * z:(l + 1) * z], e_shift[e], z)
        # 2. core parity p_c = A^-1 s[0:4z]
        packed[:] = 0
        for i in range(n_core):
            if s[i]:
                packed[i // 64] |= np.uint64(1) << np.uint64(i % 64)
        base = k_sys_cols * z
        for r in range(n_core):
            acc = np.uint64(0)
            for j in range(nw):
                acc ^= core_inv[r, j] & packed[j]
            acc ^= acc >> np.uint64(32)
            acc ^= acc >> np.uint64(16)
            acc ^= acc >> np.uint64(8)
            acc ^= acc >> np.uint64(4)
            acc ^= acc >> np.uint64(2)
            acc ^= acc >> np.uint64(1)
            v[base + r] = np.uint8(acc & np.uint64(1))
        # 3. extension parity: row l's own column k_sys_cols + l
        for l in range(4, n_rows):
            seg = s[l * z:(l + 1) * z]
            own_shift = 0
            for e in range(row_ptr[l], row_ptr[l + 1]):
                c = e_col[e]
                if c >= k_sys_cols and c < k_sys_cols + 4:
                    _xor_shifted(v[c * z:(c + 1) * z], seg, e_shift[e], z)
                elif c == k_sys_cols + l:
                    own_shift = e_shift[e]
            # check i: v[own*z + (i + own_shift) % z] = seg[i]
            dst = v[(k_sys_cols + l) * z:(k_sys_cols + l + 1) * z]
            for i in range(z):
                dst[(i + own_shift) % z] = seg[i]
        out[b, :n_sys] = v[2 * z:k]
        out[b, n_sys:] = v[k_sys_cols * z:k_sys_cols * z + n - n_sys]
