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

Side information (:func:`encode_side_info`): with ``context`` the z symbols (under the
hyperprior's own factorised CDFs) and then the indices go into ONE rANS stream; the receiver
decodes z, computes its contexts from it and decodes the indices from the same stream
(:func:`decode_side_info`). One stream saves a second rANS flush (8 bytes) and any length field.
``fixed`` sends the z string followed by the ``kq``-bit indices. Every byte is counted in the CBR.

Example
-------
>>> coder = IndexCoder(torch.eye(4, dtype=torch.float64) * 90)  # prediction always right
>>> idx = torch.arange(64).reshape(8, 8) % 4
>>> s = coder.encode(idx, idx)  # 64 indices: 8 bytes (mostly the rANS flush), fixed code 16
>>> bool(torch.equal(coder.decode(s, idx), idx)), len(s)
(True, 8)
"""

from __future__ import annotations

from typing import Callable

import torch

from .index_entropy import expected_information

__all__ = ["INDEX_CODES", "IndexCoder", "count_indices", "predicted_index", "encode_side_info", "decode_side_info"]

INDEX_CODES = ("fixed", "context")
PRECISION = 16  # CompressAI's entropy-coder precision (bits of the quantised CDFs)


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


class _BottleneckTables:
    """CompressAI ``EntropyBottleneck`` coding tables (its ``compress`` / ``decompress``, split open
    so that z can share a stream with the indices)."""

    def __init__(self, bottleneck):
        if bottleneck._quantized_cdf.numel() == 0:
            raise ValueError("the entropy bottleneck has no CDF tables (call update())")
        self.bottleneck = bottleneck
        self.cdfs = bottleneck._quantized_cdf.tolist()
        self.lengths = bottleneck._cdf_length.reshape(-1).int().tolist()
        self.offsets = bottleneck._offset.reshape(-1).int().tolist()

    def medians(self, size) -> torch.Tensor:
        m = self.bottleneck._get_medians().detach()
        return m.reshape(1, -1, *([1] * (len(size) - 2))).expand(*size)

    def indexes(self, size) -> torch.Tensor:
        return self.bottleneck._build_indexes(size)


def encode_side_info(bottleneck, z: torch.Tensor, index: torch.Tensor, context: torch.Tensor,
                     coder: IndexCoder) -> list[bytes]:
    """One rANS string per image: z ``[B, C, h, w]`` (CompressAI ``EntropyBottleneck``), then the
    rate indices ``[B, hp, wp]`` under ``P(index | context)``."""
    from compressai.ans import BufferedRansEncoder

    tables = _BottleneckTables(bottleneck)
    symbols = bottleneck.quantize(z, "symbols", tables.medians(z.size()).to(z.device))
    indexes = tables.indexes(z.size())
    out = []
    for i in range(z.shape[0]):
        enc = BufferedRansEncoder()
        enc.encode_with_indexes(symbols[i].reshape(-1).int().tolist(), indexes[i].reshape(-1).int().tolist(),
                                tables.cdfs, tables.lengths, tables.offsets)
        enc.encode_with_indexes(coder._flat(index[i]), coder._flat(context[i]), coder.cdfs, coder.cdf_sizes,
                                coder.offsets)
        out.append(enc.flush())
    return out


def decode_side_info(bottleneck, string: bytes, z_size, contexts_for: Callable[[torch.Tensor], torch.Tensor],
                     coder: IndexCoder) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`encode_side_info` for one image: ``(z_hat [1, C, h, w], index [hp, wp])``.

    ``z_size``: ``(1, C, h, w)``; ``contexts_for(z_hat)`` returns the predicted indices
    ``[hp, wp]`` (what the receiver computes from the decoded hyperprior)."""
    from compressai.ans import RansDecoder

    tables = _BottleneckTables(bottleneck)
    dec = RansDecoder()
    dec.set_stream(string)
    values = dec.decode_stream(tables.indexes(z_size).reshape(-1).int().tolist(), tables.cdfs, tables.lengths,
                               tables.offsets)
    medians = tables.medians(z_size)
    z_hat = bottleneck.dequantize(torch.tensor(values, dtype=torch.int32).reshape(z_size).to(medians.device), medians)
    context = contexts_for(z_hat)
    index = dec.decode_stream(coder._flat(context), coder.cdfs, coder.cdf_sizes, coder.offsets)
    return z_hat, torch.tensor(index, dtype=torch.long).reshape(context.shape)
