"""5G NR LDPC code: fast QC encoder and layered min-sum decoder (or Sionna's).

Which library does what
-----------------------
* Base-graph / lifting selection and the parity-check matrix: Sionna's
  :class:`sionna.phy.fec.ldpc.LDPC5GEncoder` routines (3GPP TS 38.212), called
  through :func:`ntscc_sim.fec._code5g.code5g`, which skips Sionna's own encoder
  set-up (built only when ``encoder="sionna"`` or ``decoder="sionna-bp"`` needs it).
* ``encoder="numba"`` (default): our numba kernel
  (:mod:`ntscc_sim.fec._qc_encoder`) on the quasi-cyclic structure of that
  matrix, with the same rate matching (puncturing of the first ``2Z``
  systematic bits, shortening by filler bits, truncation to ``n``, redundancy
  version 0, no output interleaver); bit-exact with Sionna's encoder.
* ``encoder="sionna"``: Sionna's ``LDPC5GEncoder`` itself (reference).
* ``decoder="minsum"``: our numba kernel
  (:mod:`ntscc_sim.fec._layered_minsum`), layered normalised min-sum on the
  lifted parity-check matrix ``encoder.pcm`` of the same code, with
  per-codeword early termination.
* ``decoder="sionna-bp"``: Sionna's :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`
  (flooding boxplus-phi BP), optionally with early termination through its
  stateful mode (``return_state=True``).

LLR convention
--------------
``decode`` takes LLRs in Sionna's Demapper convention (logits),
``llr = log(p(b=1|y) / p(b=0|y))``: positive means bit 1. This is what
``sionna.phy.mapping.Demapper`` outputs and what ``LDPC5GDecoder`` expects.
Internally the min-sum kernel uses ``log p(0)/p(1)`` (sign flipped).

Validity flag
-------------
``valid`` is True iff the hard decisions of all variable nodes of the
decoding graph satisfy every parity check that can be violated, i.e. every
row of the lifted parity-check matrix except rows whose degree-1 parity bit is
punctured (those rows are satisfied by choosing that bit; removing them is
exact, as in Sionna's ``prune_pcm``). ``valid`` therefore means: the decoded
bits are a codeword of the rate-matched code.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import torch
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder

from .._threads import in_chunks
from ._layered_minsum import layered_minsum_decode, syndrome_ok
from ._code5g import Code5G, code5g, lifted_pcm
from ._qc_encoder import gf2_inverse_packed, qc_encode

__all__ = ["LDPCCode"]

# internal LLR of known-zero filler bits (min-sum is scale-free: any value
# far above all message magnitudes acts as "certain")
_FILLER_LLR = np.float32(1e6)


class _QCGraph:
    """Quasi-cyclic description of the decoding graph of a 5G LDPC code.

    Derived from a :class:`Code5G` (the fields ``pcm``, ``z``, ``k``, ``n``, ``k_ldpc``,
    ``n_ldpc`` of Sionna's ``LDPC5GEncoder``). Layers (base rows)
    whose every check contains a punctured degree-1 variable node carry no
    information and are dropped; the kept layers/columns are a prefix.
    """

    def __init__(self, enc: Code5G):
        z, k, n = enc.z, enc.k, enc.n
        k_ldpc, n_ldpc = enc.k_ldpc, enc.n_ldpc
        pcm = sp.csr_matrix(enc.pcm, dtype=np.int64)
        m_b = pcm.shape[0] // z

        # status of every variable node of the full lifted code
        n_sys_tx = k - 2 * z                          # transmitted systematic
        tx = np.zeros(n_ldpc, dtype=bool)
        tx[2 * z:k] = True
        tx[k_ldpc:k_ldpc + n - n_sys_tx] = True
        filler = np.zeros(n_ldpc, dtype=bool)
        filler[k:k_ldpc] = True
        known = tx | filler
        deg_v = np.asarray(pcm.sum(axis=0)).ravel()
        useless_vn = (~known) & (deg_v == 1) & (np.arange(n_ldpc) >= k_ldpc)
        useless_row = (pcm @ useless_vn.astype(np.int64)) > 0     # [m]

        # QC structure: base edges (col, shift) per base row, from row l*z
        cols, shifts, ptr = [], [], [0]
        keep_layers = 0
        for l in range(m_b):
            if useless_row[l * z:(l + 1) * z].all():
                continue
            if l != keep_layers:
                raise ValueError("kept layers of the 5G graph must be a prefix")
            keep_layers += 1
            row = pcm.indices[pcm.indptr[l * z]:pcm.indptr[l * z + 1]]
            for c in np.sort(row):
                cols.append(c // z)
                shifts.append(c % z)
            ptr.append(len(cols))
        self.z = z
        self.layer_ptr = np.asarray(ptr, dtype=np.int32)
        self.e_col = np.asarray(cols, dtype=np.int32)
        self.e_shift = np.asarray(shifts, dtype=np.int32)
        self.num_layers = keep_layers
        self.n_vn = int(self.e_col.max() + 1) * z
        if tx[self.n_vn:].any():
            raise ValueError("transmitted bits outside the decoding graph")
        self.chk_mask = (~useless_row[:keep_layers * z]).astype(np.uint8)
        self.chk_mask = self.chk_mask.reshape(keep_layers, z)

        # verify the QC description against the lifted matrix
        rows, cls = [], []
        for l in range(keep_layers):
            for e in range(ptr[l], ptr[l + 1]):
                i = np.arange(z)
                rows.append(l * z + i)
                cls.append(self.e_col[e] * z + (i + self.e_shift[e]) % z)
        rows, cls = np.concatenate(rows), np.concatenate(cls)
        h_qc = sp.csr_matrix((np.ones(rows.size, dtype=np.int64), (rows, cls)),
                             shape=(keep_layers * z, n_ldpc))
        if (h_qc != pcm[:keep_layers * z]).nnz:
            raise ValueError("parity-check matrix is not quasi-cyclic as expected")
        self.h = h_qc[:, :self.n_vn].tocsr()          # decoding graph [m, n_vn]

        # rate recovery: received LLRs [0, n_sys_tx) are systematic bits
        # 2z..k-1, the rest parity bits from k_ldpc on; fillers k..k_ldpc-1
        self.n_sys_tx = n_sys_tx
        self.tx_pos = np.concatenate([
            np.arange(2 * z, k), np.arange(k_ldpc, k_ldpc + n - n_sys_tx)])
        self.k, self.k_ldpc, self.n = k, k_ldpc, n


@lru_cache(maxsize=64)
def _core_inverse(bg: str, i_ls: int, z: int, k_sys: int) -> np.ndarray:
    """Packed GF(2) inverse of the 4z x 4z core parity block (the 4 base columns after the
    ``k_sys`` systematic ones); shared by every code with this base graph and lifting."""
    pcm = lifted_pcm(bg, i_ls, z)
    core = pcm[:4 * z, k_sys * z:(k_sys + 4) * z].toarray().astype(np.uint8)
    return gf2_inverse_packed(core)


class _QCEncoder:
    """Base edges, core inverse and sizes for :func:`qc_encode`, from a :class:`Code5G`."""

    def __init__(self, enc: Code5G):
        z, k, n = enc.z, enc.k, enc.n
        pcm = sp.csr_matrix(enc.pcm, dtype=np.int64)
        k_sys = enc.k_ldpc // z
        n_par = n - (k - 2 * z)                            # transmitted parity bits
        n_rows = max(4, -(-n_par // z))
        if n_rows > pcm.shape[0] // z or enc.k_ldpc % z:
            raise ValueError(f"unexpected 5G code layout (k={k}, n={n}, z={z})")
        cols, shifts, ptr = [], [], [0]
        for l in range(n_rows):
            row = np.sort(pcm.indices[pcm.indptr[l * z]:pcm.indptr[l * z + 1]])
            c = row // z
            ext = c[c >= k_sys + 4]
            if (l < 4 and ext.size) or (l >= 4 and (ext.size != 1 or ext[0] != k_sys + l)):
                raise ValueError(f"base row {l} does not have the 5G parity structure")
            cols += list(c)
            shifts += list(row % z)
            ptr.append(len(cols))
        self.args = (k_sys, z, np.asarray(ptr, np.int32), np.asarray(cols, np.int32),
                     np.asarray(shifts, np.int32), _core_inverse(enc.bg, enc.i_ls, z, k_sys), n_rows)
        self.n = n

    def __call__(self, bits: np.ndarray) -> np.ndarray:
        out = np.empty((bits.shape[0], self.n), dtype=np.uint8)
        qc_encode(bits, *self.args, out)
        return out


class LDPCCode:
    """5G NR LDPC code (TS 38.212 base graphs, rate matching) with a fast decoder.

    Parameters
    ----------
    k : int
        Information bits per codeword.
    n : int
        Codeword bits after rate matching.
    decoder : {"minsum", "sionna-bp"}
        ``"minsum"``: numba layered normalised min-sum (default, fast).
        ``"sionna-bp"``: Sionna ``LDPC5GDecoder`` flooding BP (reference).
    encoder : {"numba", "sionna"}
        ``"numba"``: our QC kernel (default, bit-exact with Sionna's, ~20x faster).
        ``"sionna"``: Sionna ``LDPC5GEncoder`` (reference).
    num_iter : int
        Maximum number of decoding iterations.
    alpha : float
        Min-sum normalisation factor (``"minsum"`` only).
    early_stop : bool
        Stop decoding a codeword once all parity checks hold.
    num_threads : int
        Threads for the numba encoder and ``"minsum"`` (codeword chunks handled
        concurrently by the GIL-free numba kernels). Default 1: the simulator parallelises over
        work units; results never depend on it.

    Input / output
    --------------
    ``encode(bits)``: uint8 [B, k] -> uint8 [B, n].
    ``decode(llr)``: float32 [B, n] logits ``log p(1)/p(0)`` (Sionna Demapper
    convention) -> (uint8 [B, k] hard info bits, bool [B] parity checks hold).
    After ``decode``, ``last_iters`` (int32 [B]) holds the iterations used.

    Example
    -------
    >>> import numpy as np
    >>> code = LDPCCode(k=1024, n=2048)
    >>> u = np.random.default_rng(0).integers(0, 2, (4, 1024), dtype=np.uint8)
    >>> c = code.encode(u)
    >>> u_hat, ok = code.decode(20.0 * (2.0 * c - 1.0))
    >>> bool((u_hat == u).all() and ok.all())
    True
    """

    def __init__(self, k: int = 4096, n: int = 6144, decoder: str = "minsum",
                 num_iter: int = 20, alpha: float = 0.75,
                 early_stop: bool = True, num_threads: int = 1, encoder: str = "numba"):
        if decoder not in ("minsum", "sionna-bp"):
            raise ValueError(f"unknown decoder {decoder!r}")
        if encoder not in ("numba", "sionna"):
            raise ValueError(f"unknown encoder {encoder!r}")
        self.k, self.n = int(k), int(n)
        self.decoder = decoder
        self.num_iter = int(num_iter)
        self.alpha = float(alpha)
        self.early_stop = bool(early_stop)
        self.num_threads = int(num_threads)
        self._params = code5g(self.k, self.n)
        self._enc = None  # Sionna's encoder, built on first use (encoder="sionna", sionna-bp, .encoder)
        self._g = _QCGraph(self._params)
        self.encoder_kind = encoder
        self._qc_enc = _QCEncoder(self._params) if encoder == "numba" else None
        self._bp = None
        self._bp_x = None
        self.last_iters = None  # int32 [B] iterations of the last decode call

    # ------------------------------------------------------------------ props
    @property
    def rate(self) -> float:
        """Code rate ``k / n``."""
        return self.k / self.n

    @property
    def encoder(self) -> LDPC5GEncoder:
        """Sionna's encoder of this code (built on first access)."""
        if self._enc is None:
            self._enc = LDPC5GEncoder(self.k, self.n, check_input=False, device="cpu")
        return self._enc

    @property
    def z(self) -> int:
        """Lifting size."""
        return self._params.z

    @property
    def pcm(self) -> sp.csr_matrix:
        """Lifted parity-check matrix of the decoding graph, [m, n_vn].

        Columns are the first ``n_vn`` variable nodes of the full (unrate-matched)
        codeword, see :meth:`full_codeword`.
        """
        return self._g.h

    # --------------------------------------------------------------- encoding
    def encode(self, bits: np.ndarray) -> np.ndarray:
        """Encode information bits, uint8 [B, k] -> uint8 [B, n]."""
        bits = np.asarray(bits)
        if bits.ndim != 2 or bits.shape[1] != self.k:
            raise ValueError(f"bits must have shape [B, {self.k}]")
        if bits.size and bits.max() > 1:
            raise ValueError("bits must be binary")
        if self._qc_enc is not None:
            bits = np.ascontiguousarray(bits, dtype=np.uint8)
            return np.concatenate(self._in_chunks(self._qc_enc, bits)) if len(bits) else np.zeros((0, self.n), np.uint8)
        u = torch.from_numpy(np.ascontiguousarray(bits, dtype=np.float32))
        with torch.no_grad():
            c = self.encoder(u)
        return c.numpy().astype(np.uint8)

    def full_codeword(self, bits: np.ndarray, cw: np.ndarray) -> np.ndarray:
        """Variable-node vector of the decoding graph, uint8 [B, n_vn].

        Places the information bits ``bits`` [B, k] (incl. the punctured first
        ``2Z``), zero filler bits and the transmitted codeword ``cw`` [B, n];
        punctured parity bits of the last layers are left 0 (their checks are
        not part of the validity test).
        """
        g = self._g
        v = np.zeros((bits.shape[0], g.n_vn), dtype=np.uint8)
        v[:, :self.k] = bits
        v[:, g.tx_pos] = cw
        return v

    def check(self, vn_bits: np.ndarray) -> np.ndarray:
        """Parity test of hard variable-node bits uint8 [B, n_vn] -> bool [B]."""
        g = self._g
        return syndrome_ok(np.ascontiguousarray(vn_bits, dtype=np.uint8),
                           g.layer_ptr, g.e_col, g.e_shift, g.chk_mask, g.z)

    # --------------------------------------------------------------- decoding
    def decode(self, llr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decode channel logits float32 [B, n] -> (uint8 [B, k], bool [B])."""
        llr = np.asarray(llr, dtype=np.float32)
        if llr.ndim != 2 or llr.shape[1] != self.n:
            raise ValueError(f"llr must have shape [B, {self.n}]")
        if self.decoder == "minsum":
            return self._decode_minsum(llr)
        return self._decode_bp(llr)

    def _vn_llr(self, llr: np.ndarray) -> np.ndarray:
        """Rate recovery: logits [B, n] -> LLRs ``log p0/p1`` [B, n_vn] of all
        variable nodes of the decoding graph (punctured 0, fillers certain 0)."""
        g = self._g
        vn = np.zeros((llr.shape[0], g.n_vn), dtype=np.float32)
        k, k_ldpc, ns = g.k, g.k_ldpc, g.n_sys_tx
        np.negative(llr[:, :ns], out=vn[:, 2 * g.z:k])
        np.negative(llr[:, ns:], out=vn[:, k_ldpc:k_ldpc + g.n - ns])
        vn[:, k:k_ldpc] = _FILLER_LLR
        return vn

    def _decode_minsum(self, llr):
        g = self._g
        vn = self._vn_llr(llr)
        args = (g.layer_ptr, g.e_col, g.e_shift, g.chk_mask, g.z,
                self.num_iter, self.alpha, self.early_stop, self.k)
        parts = self._in_chunks(lambda x: layered_minsum_decode(x, *args), vn)
        bits, valid, iters = (np.concatenate(p) for p in zip(*parts))
        self.last_iters = iters
        return bits, valid

    def _in_chunks(self, fn, rows: np.ndarray) -> list:
        return in_chunks(fn, rows, self.num_threads)

    def _capture_x(self, msg_vn, it, x_hat):
        """Sionna v2c callback: keep the a posteriori LLRs of all VNs."""
        self._bp_x = x_hat
        return msg_vn

    def _decode_bp(self, llr):
        g = self._g
        if self._bp is None:
            self._bp = LDPC5GDecoder(
                self.encoder, num_iter=self.num_iter, hard_out=True,
                return_infobits=True, return_state=True,
                v2c_callbacks=[self._capture_x], device="cpu")
        batch = llr.shape[0]
        bits = np.zeros((batch, self.k), dtype=np.uint8)
        valid = np.zeros(batch, dtype=bool)
        iters = np.full(batch, self.num_iter, dtype=np.int32)
        # with early stopping: one iteration per call, resume from msg_v2c
        step = 1 if self.early_stop else self.num_iter
        active = np.arange(batch)
        x = torch.from_numpy(llr)
        state = None
        done_it = 0
        with torch.no_grad():
            while active.size and done_it < self.num_iter:
                n_it = min(step, self.num_iter - done_it)
                u, state = self._bp(x[active], num_iter=n_it, msg_v2c=state)
                done_it += n_it
                # hard decisions of all VNs of Sionna's (pruned) graph
                xh = (self._bp_x <= 0).to(torch.uint8).numpy()
                hard = np.zeros((active.size, g.n_vn), dtype=np.uint8)
                m = min(xh.shape[1], g.n_vn)
                hard[:, :m] = xh[:, :m]
                ok = self.check(hard)
                bits[active] = u.numpy().astype(np.uint8)
                valid[active] = ok
                if self.early_stop:
                    iters[active[ok]] = done_it
                    keep = ~ok
                    active = active[keep]
                    state = state[torch.from_numpy(keep)]
        self.last_iters = iters
        return bits, valid
