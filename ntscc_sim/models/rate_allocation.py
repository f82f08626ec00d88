"""Entropy-guided rate allocation, eq. (28): ``k_i = Q'(eta * -log2 P(y_i | z))``.

Every latent patch ``y_i`` (one spatial position of ``y``, all ``c`` channels) gets a
channel bandwidth ``k_i`` (real symbols; pairs form complex channel uses) from
a value set ``V`` of ``2^kq`` even integers, so ``kq`` bits per patch tell the
receiver the rates (side information).

Example
-------
>>> alloc = RateAllocator(default_rate_values(16, 256, 16))
>>> idx, k = alloc(torch.tensor([3.0, 100.0, 999.0]))
>>> idx.tolist(), k.tolist(), alloc.bits_per_patch
([0, 5, 15], [16.0, 96.0, 256.0], 4)
"""

from __future__ import annotations

import math

import torch

__all__ = ["RateAllocator", "default_rate_values", "patch_information"]


def default_rate_values(low: int = 16, high: int = 256, count: int = 16) -> list[int]:
    """``count`` values evenly spaced from ``low`` to ``high``, rounded to even integers (paper: 16..256, 16 values)."""
    if count == 1:
        return [int(low) + int(low) % 2]
    step = (high - low) / (count - 1)
    vals = [int(round((low + i * step) / 2.0)) * 2 for i in range(count)]
    if len(set(vals)) != len(vals) or vals[0] <= 0:
        raise ValueError(f"cannot place {count} distinct even values in [{low}, {high}]")
    return vals


def patch_information(likelihoods: torch.Tensor) -> torch.Tensor:
    """``-log2 P(y_i | z)`` summed over channels: ``[B, C, h, w]`` likelihoods -> ``[B, h, w]`` bits."""
    return -torch.log2(likelihoods).sum(dim=1)


class RateAllocator:
    """Q' of eq. (28): nearest value of ``V`` (clamped to its range).

    ``__call__(k)`` with ``k`` float of any shape returns ``(index long, k_bar float)``;
    :meth:`straight_through` returns ``k_bar`` with the gradient of ``k`` (the relaxed
    rate term used in training).
    """

    def __init__(self, values):
        vals = sorted(int(v) for v in values)
        if not vals or any(v <= 0 or v % 2 for v in vals) or len(set(vals)) != len(vals):
            raise ValueError(f"rate values must be distinct positive even integers, got {values!r}")
        self.values = vals
        self._table = torch.tensor(vals, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def bits_per_patch(self) -> int:
        """kq = ceil(log2 |V|) bits of side information per patch (0 for a single value)."""
        return int(math.ceil(math.log2(len(self.values)))) if len(self.values) > 1 else 0

    @property
    def max_value(self) -> int:
        return self.values[-1]

    def __call__(self, k: torch.Tensor):
        table = self._table.to(k.device)
        idx = (k.detach()[..., None] - table).abs().argmin(dim=-1)
        return idx, table[idx]

    def straight_through(self, k: torch.Tensor):
        """``(index, k_bar)`` where ``k_bar`` carries ``d k_bar / d k = 1``."""
        idx, kbar = self(k)
        return idx, k + (kbar - k).detach()
