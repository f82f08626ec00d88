"""Bit budgets and code-block segmentation for a digital link.

A payload of ``L`` bits is sent as code blocks of the 5G LDPC code: full blocks
carry ``k - 24`` payload bits plus a CRC-24; the final partial block is a
shortened code of the same rate (``k_last = rem + 24`` info bits,
``n_last = ceil(k_last / R)`` rounded up to whole QAM symbols). A 32-bit length
field precedes the payload. :func:`max_payload_bits` is the largest ``L`` whose
segmentation fits in the channel uses available; :func:`segment` never exceeds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CRC_BITS = 24
LENGTH_BITS = 32
MIN_K = 40  # smallest code block (shorter last blocks are zero-padded up to this)


@dataclass(frozen=True)
class Block:
    k: int  # information bits incl. CRC
    n: int  # coded bits sent

    @property
    def payload(self) -> int:
        return self.k - CRC_BITS


def _last_block(rem_payload: int, rate: float, bps: int) -> Block:
    k = max(rem_payload + CRC_BITS, MIN_K)
    n = math.ceil(k / rate)
    n = math.ceil(n / bps) * bps
    return Block(k, n)


def segment(total_bits: int, k: int, rate: float, bps: int) -> list[Block]:
    """Code blocks carrying ``total_bits`` (length field + payload)."""
    full_payload = k - CRC_BITS
    n_full = math.ceil(k / rate / bps) * bps
    n_blocks_full, rem = divmod(total_bits, full_payload)
    blocks = [Block(k, n_full)] * n_blocks_full
    if rem:
        blocks.append(_last_block(rem, rate, bps))
    return blocks


def channel_bits(blocks) -> int:
    return sum(b.n for b in blocks)


def max_payload_bits(channel_uses: int, k: int, rate: float, bps: int) -> int:
    """Largest source payload (bits) whose segmentation fits ``channel_uses`` symbols; 0 if none."""
    avail = channel_uses * bps
    n_full = math.ceil(k / rate / bps) * bps
    full_payload = k - CRC_BITS
    n_blocks = avail // n_full
    left = avail - n_blocks * n_full
    total = n_blocks * full_payload
    # largest last block that fits in what is left
    if left > 0:
        lo, hi = 0, full_payload - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _last_block(mid, rate, bps).n <= left:
                lo = mid
            else:
                hi = mid - 1
        if lo > 0 and _last_block(lo, rate, bps).n <= left:
            total += lo
    return max(0, total - LENGTH_BITS)
