"""Per-process memos of a scheme's SNR-independent results (learned transmitters).

A sweep unit is one configuration at one SNR, so the same image reaches a scheme once per SNR
(and per eta for NTSCC). :class:`MemoCache` keeps, per (checkpoint, image) key, a dict that the
model fills on the first call (e.g. ``NTSCC.forward(memo=...)``) and reads on the next ones.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

__all__ = ["MEMO_BYTES", "MemoCache"]

#: bytes of SNR-independent transmitter results (analysis, per-eta f_e symbols) kept per
#: process, so that the other SNRs and etas of an image skip them (about 20 MB per Kodak image)
MEMO_BYTES = 768 * 2**20


class MemoCache:
    """Least-recently-used dicts of tensors (one per key), bounded by their total bytes.

    ``get(key)`` returns the key's dict (new and empty the first time) for the caller to fill;
    ``settle()`` then counts its bytes and drops the least recently used dicts above ``max_bytes``.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._memos: OrderedDict = OrderedDict()

    def get(self, key) -> dict:
        memo = self._memos.pop(key, None)
        self._memos[key] = {} if memo is None else memo
        return self._memos[key]

    @staticmethod
    def nbytes(value) -> int:
        if isinstance(value, torch.Tensor):
            return value.element_size() * value.nelement()
        if isinstance(value, (bytes, bytearray)):
            return len(value)
        if isinstance(value, dict):
            value = value.values()
        if isinstance(value, (list, tuple, type({}.values()))):
            return sum(MemoCache.nbytes(v) for v in value)
        return 0

    def settle(self) -> None:
        total = sum(self.nbytes(m) for m in self._memos.values())
        while self._memos and total > self.max_bytes:
            _, memo = self._memos.popitem(last=False)
            total -= self.nbytes(memo)

    def __len__(self) -> int:
        return len(self._memos)
