"""Entropy coding of NTSCC's rate indices, with the hyperprior the receiver already has as context.

NTSCC's side information carries one rate index per latent patch; the paper sends each with
``kq = log2 |V|`` bits (``index_code: fixed``). The receiver decodes z first, so it knows the
hyperprior scales and, from them, a *predicted* index for every patch
(:func:`predicted_index`: the same allocator at the same eta, applied to the expected
information of the patch, :func:`~ntscc_sim.models.index_entropy.expected_information`).
With ``index_code: context`` each index is coded with ``P(index | predicted index)``: a
``|V| x |V|`` table counted on training images (:func:`count_indices`, stored in the
checkpoint as the buffer ``index_counts``), written by CompressAI's rANS coder
(:class:`IndexCoder`). The receiver decodes the string with the same contexts.

Side-information framing (:func:`frame_side_info`): ``fixed`` sends ``z string + indices``
(the index field has a known length); ``context`` sends a 2-byte length of the z string,
then the z string, then the index string. Every byte is counted in the CBR.

Example
-------
>>> coder = IndexCoder(torch.eye(4, dtype=torch.float64) * 90)  # prediction always right
>>> idx = torch.arange(64).reshape(8, 8) % 4
>>> s = coder.encode(idx, idx)  # 64 indices: 8 bytes (mostly the rANS flush), fixed code 16
>>> bool(torch.equal(coder.decode(s, idx), idx)), len(s)
(True, 8)
"""

from __future__ import annotations

import struct

import torch

from .index_entropy import expected_information

__all__ = ["INDEX_CODES", "LENGTH_FIELD_BYTES", "IndexCoder", "count_indices", "predicted_index", "frame_side_info", "split_side_info"]

INDEX_CODES = ("fixed", "context")
PRECISION = 16  # CompressAI's entropy-coder precision (bits of the quantised CDFs)
_LENGTH = struct.Struct(">H")  # z-string length field of the ``context`` framing
LENGTH_FIELD_BYTES = _LENGTH.size


def predicted_index(allocator, scales: torch.Tensor, eta: float) -> torch.Tensor:
    """The receiver's guess of each rate index from the hyperprior: ``[B, C, h, w]`` scales -> ``[B, h, w]`` long."""
    return allocator(float(eta) * expected_information(scales).to(scales.device))[0]


class IndexCoder:
    """rANS coder of rate indices with context ``P(index | predicted index)``.

    ``counts`` ``[V, V]``: row = predicted index, column = chosen index (training counts).
    Each row gets half a count added (so every index stays codable) and is quantised to
    ``2^16`` as CompressAI does for its own entropy models.
    """

    def __init__(self, counts: torch.Tensor):
        from compressai._CXX import pmf_to_quantized_cdf

        counts = torch.as_tensor(counts, dtype=torch.float64)
        if counts.dim() != 2 or counts.shape[0] != counts.shape[1] or bool((counts < 0).any()):
            raise ValueError(f"index counts must be a square non-negative table, got shape {tuple(counts.shape)}")
        self.levels = int(counts.shape[0])
        pmf = (counts + 0.5) / (counts + 0.5).sum(dim=1, keepdim=True)
        self.pmf = pmf
        # one extra "overflow" symbol per row (CompressAI's layout); it is never used
        self.cdfs = [pmf_to_quantized_cdf(row.tolist() + [2.0**-PRECISION], PRECISION) for row in pmf]
        self.cdf_sizes = [len(c) for c in self.cdfs]
        self.offsets = [0] * self.levels

    def encode(self, index: torch.Tensor, context: torch.Tensor) -> bytes:
        """One image's indices ``[h, w]`` (context: predicted indices, same shape) -> bytes."""
        from compressai.ans import RansEncoder

        sym, ctx = self._flat(index), self._flat(context)
        return RansEncoder().encode_with_indexes(sym, ctx, self.cdfs, self.cdf_sizes, self.offsets)

    def decode(self, string: bytes, context: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`encode`: ``[h, w]`` long indices."""
        from compressai.ans import RansDecoder

        ctx = self._flat(context)
        out = RansDecoder().decode_with_indexes(string, ctx, self.cdfs, self.cdf_sizes, self.offsets)
        return torch.tensor(out, dtype=torch.long).reshape(context.shape)

    def ideal_bits(self, index: torch.Tensor, context: torch.Tensor) -> float:
        """``-sum log2 P(index | context)``: what an ideal coder would need."""
        p = self.pmf[context.reshape(-1).cpu(), index.reshape(-1).cpu()]
        return float(-torch.log2(p).sum())

    def _flat(self, t: torch.Tensor) -> list[int]:
        flat = t.reshape(-1).cpu()
        if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= self.levels):
            raise ValueError(f"rate indices must lie in [0, {self.levels}), got [{int(flat.min())}, {int(flat.max())}]")
        return flat.tolist()


@torch.no_grad()
def count_indices(model, x: torch.Tensor, etas, counts: torch.Tensor | None = None) -> torch.Tensor:
    """Add the (predicted, chosen) index pairs of a batch ``x`` ``[B, 3, H, W]`` at each eta to ``counts`` ``[V, V]``."""
    levels = len(model.allocator)
    if counts is None:
        counts = torch.zeros(levels, levels, dtype=torch.float64)
    was_training = model.training
    model.eval()
    try:
        a = model.analyse(x)
        for eta in etas:
            index = model.allocate(a["y_lik"], float(eta))[0].reshape(-1).cpu()
            pred = predicted_index(model.allocator, a["scales"], float(eta)).reshape(-1).cpu()
            counts.index_put_((pred, index), torch.ones(index.numel(), dtype=torch.float64), accumulate=True)
    finally:
        model.train(was_training)
    return counts


def frame_side_info(z_string: bytes, index_string: bytes, index_code: str) -> bytes:
    """The side-information payload sent over the channel (see the module docstring)."""
    if index_code == "fixed":
        return z_string + index_string
    if index_code == "context":
        if len(z_string) >= 1 << 16:
            raise ValueError(f"z string of {len(z_string)} bytes does not fit the 2-byte length field")
        return _LENGTH.pack(len(z_string)) + z_string + index_string
    raise ValueError(f"index_code must be one of {INDEX_CODES}, got {index_code!r}")


def split_side_info(payload: bytes, index_code: str, fixed_index_bytes: int = 0) -> tuple[bytes, bytes]:
    """Inverse of :func:`frame_side_info`: ``(z string, index string)``; ``fixed`` needs the index field's length."""
    if index_code == "fixed":
        cut = len(payload) - int(fixed_index_bytes)
        return payload[:cut], payload[cut:]
    if index_code == "context":
        (n,) = _LENGTH.unpack_from(payload)
        return payload[2 : 2 + n], payload[2 + n :]
    raise ValueError(f"index_code must be one of {INDEX_CODES}, got {index_code!r}")
