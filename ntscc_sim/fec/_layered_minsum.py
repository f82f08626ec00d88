"""Numba kernels: layered normalised min-sum decoding of quasi-cyclic LDPC codes.

The parity-check matrix is given in quasi-cyclic (QC) form: ``num_layers``
layers (base rows) of ``z`` check nodes each, and per layer a list of base
edges ``(col, shift)``; check node ``l*z + i`` of layer ``l`` is connected to
variable node ``col*z + (i + shift) % z`` (Sionna's lifting convention).
Because every base edge is a circulant permutation, the ``z`` check nodes of
a layer touch disjoint variable nodes and are updated together; the inner
loops run over contiguous ``z``-segments and are SIMD-vectorised by LLVM.

All LLRs in this module use the *textbook* convention
``L = log(p(b=0) / p(b=1))`` (positive -> bit 0); conversion from Sionna's
logit convention is done by the caller (:mod:`ntscc_sim.fec.ldpc`).
"""

import numpy as np
from numba import njit

__all__ = ["layered_minsum_decode", "syndrome_ok"]


# The check-node update of one layer is split into four simple loops over
# the z rows so that LLVM vectorises each of them: a fused loop writes too
# many possibly-aliasing arrays (through wrap-around-checked indices) and
# stays scalar, about 3x slower. No fastmath: results are IEEE-exact and
# identical to a plain numpy implementation of the same schedule.


@njit(cache=True, inline="always")
def _gather_v2c(L, r_e, t_j, z0, z1, voff):
    """v2c messages ``t = L[v] - R`` of one base edge, rows z0..z1-1."""
    for i in range(z0, z1):
        t_j[i] = L[voff + i] - r_e[i]


@njit(cache=True, inline="always")
def _fold_min(t_j, min1, min2, sgn, z):
    """Running minimum, second minimum and sign product of |t| per row."""
    for i in range(z):
        t = t_j[i]
        a = abs(t)
        m1 = min1[i]
        min2[i] = min(min2[i], max(a, m1))
        min1[i] = min(a, m1)
        sgn[i] = -sgn[i] if t < 0.0 else sgn[i]


@njit(cache=True, inline="always")
def _c2v(t_j, min1, min2, sgn, r_e, z):
    """New c2v messages; ``sgn`` carries alpha. Excluding the edge's own
    |t| from the minimum: if |t| == min1 the answer is min2 (equal to min1
    anyway when the minimum is attained twice)."""
    for i in range(z):
        t = t_j[i]
        m = min2[i] if abs(t) == min1[i] else min1[i]
        s = -sgn[i] if t < 0.0 else sgn[i]
        r_e[i] = s * m


@njit(cache=True, inline="always")
def _scatter_app(L, r_e, t_j, z0, z1, voff):
    """A posteriori LLRs ``L[v] = t + R`` of one base edge, rows z0..z1-1."""
    for i in range(z0, z1):
        L[voff + i] = t_j[i] + r_e[i]


@njit(cache=True, inline="always")
def _xor_hard(L, parity, z0, z1, voff):
    for i in range(z0, z1):
        parity[i] ^= np.uint8(L[voff + i] < 0.0)


@njit(cache=True)
def _syndrome_ok_one(L, layer_ptr, e_col, e_shift, chk_mask, z, parity):
    """True if the hard decisions ``L < 0`` satisfy every row with chk_mask."""
    num_layers = layer_ptr.shape[0] - 1
    for l in range(num_layers):
        parity[:] = 0
        for e in range(layer_ptr[l], layer_ptr[l + 1]):
            base = e_col[e] * z
            s = e_shift[e]
            _xor_hard(L, parity, 0, z - s, base + s)
            _xor_hard(L, parity, z - s, z, base + s - z)
        bad = 0
        for i in range(z):
            bad |= parity[i] & chk_mask[l, i]
        if bad:
            return False
    return True


@njit(cache=True)
def _decode_one(L, layer_ptr, e_col, e_shift, chk_mask, z, num_iter, alpha,
                early_stop, R, T, min1, min2, sgn, parity):
    """Decode one codeword in place (``L`` holds channel LLRs on entry and
    a posteriori LLRs on exit). Returns (valid, iterations run)."""
    num_layers = layer_ptr.shape[0] - 1
    R[:, :] = 0.0
    if early_stop and _syndrome_ok_one(L, layer_ptr, e_col, e_shift,
                                       chk_mask, z, parity):
        return True, 0
    for it in range(num_iter):
        for l in range(num_layers):
            e0 = layer_ptr[l]
            e1 = layer_ptr[l + 1]
            min1[:] = np.inf
            min2[:] = np.inf
            sgn[:] = alpha
            for j in range(e1 - e0):
                e = e0 + j
                base = e_col[e] * z
                s = e_shift[e]
                _gather_v2c(L, R[e], T[j], 0, z - s, base + s)
                _gather_v2c(L, R[e], T[j], z - s, z, base + s - z)
                _fold_min(T[j], min1, min2, sgn, z)
            for j in range(e1 - e0):
                e = e0 + j
                base = e_col[e] * z
                s = e_shift[e]
                _c2v(T[j], min1, min2, sgn, R[e], z)
                _scatter_app(L, R[e], T[j], 0, z - s, base + s)
                _scatter_app(L, R[e], T[j], z - s, z, base + s - z)
        if early_stop and _syndrome_ok_one(L, layer_ptr, e_col, e_shift,
                                           chk_mask, z, parity):
            return True, it + 1
    if early_stop:
        return False, num_iter
    return _syndrome_ok_one(L, layer_ptr, e_col, e_shift, chk_mask, z,
                            parity), num_iter


@njit(cache=True, nogil=True)
def layered_minsum_decode(llr, layer_ptr, e_col, e_shift, chk_mask, z,
                          num_iter, alpha, early_stop, k):
    """Layered normalised min-sum decoding of a batch of codewords.

    Single-threaded and GIL-free: the caller parallelises over codeword
    chunks with Python threads (no OpenMP pool, see ``ldpc.py``).

    Parameters
    ----------
    llr : float32 [B, n_vn]
        Channel LLRs ``log p(0)/p(1)`` of all variable nodes of the QC graph
        (0 for punctured, large positive for known-zero filler bits).
        Overwritten with the a posteriori LLRs.
    layer_ptr : int32 [num_layers + 1]
        Base-edge range of each layer in ``e_col`` / ``e_shift``.
    e_col, e_shift : int32 [E]
        Base column and circulant shift of every base edge.
    chk_mask : uint8 [num_layers, z]
        1 for check nodes included in the validity (syndrome) test.
    z : int
        Lifting size.
    num_iter : int
        Maximum number of iterations (one iteration = all layers once).
    alpha : float
        Normalisation factor of the min-sum check-node update.
    early_stop : bool
        Stop a codeword as soon as all masked checks hold.
    k : int
        Number of leading variable nodes returned as hard bits.

    Returns
    -------
    bits : uint8 [B, k]
        Hard decisions of the first ``k`` variable nodes.
    valid : bool [B]
        All masked parity checks satisfied by the final hard decisions.
    iters : int32 [B]
        Iterations run per codeword.
    """
    batch = llr.shape[0]
    num_layers = layer_ptr.shape[0] - 1
    num_edges = e_col.shape[0]
    dmax = 0
    for l in range(num_layers):
        dmax = max(dmax, layer_ptr[l + 1] - layer_ptr[l])
    bits = np.zeros((batch, k), dtype=np.uint8)
    valid = np.zeros(batch, dtype=np.bool_)
    iters = np.zeros(batch, dtype=np.int32)
    alpha32 = np.float32(alpha)
    # work buffers, reused for every codeword
    R = np.empty((num_edges, z), dtype=np.float32)
    T = np.empty((dmax, z), dtype=np.float32)
    min1 = np.empty(z, dtype=np.float32)
    min2 = np.empty(z, dtype=np.float32)
    sgn = np.empty(z, dtype=np.float32)
    parity = np.empty(z, dtype=np.uint8)
    for b in range(batch):
        L = llr[b]
        ok, nit = _decode_one(L, layer_ptr, e_col, e_shift, chk_mask, z,
                              num_iter, alpha32, early_stop, R, T, min1,
                              min2, sgn, parity)
        valid[b] = ok
        iters[b] = nit
        for i in range(k):
            bits[b, i] = L[i] < 0.0
    return bits, valid, iters


@njit(cache=True, nogil=True)
def syndrome_ok(hard, layer_ptr, e_col, e_shift, chk_mask, z):
    """Validity test of hard decisions.

    Parameters
    ----------
    hard : uint8 [B, n_vn]
        Hard bits of all variable nodes of the QC graph.

    Returns
    -------
    bool [B]
        True where all masked parity checks are satisfied.
    """
    batch = hard.shape[0]
    out = np.zeros(batch, dtype=np.bool_)
    parity = np.empty(z, dtype=np.uint8)
    L = np.empty(hard.shape[1], dtype=np.float32)
    for b in range(batch):
        # reuse the float kernel: bit 1 <-> negative LLR
        for i in range(hard.shape[1]):
            L[i] = -1.0 if hard[b, i] != 0 else 1.0
        out[b] = _syndrome_ok_one(L, layer_ptr, e_col, e_shift, chk_mask, z,
                                  parity)
    return out
