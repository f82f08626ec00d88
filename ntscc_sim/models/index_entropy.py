"""How many bits the NTSCC rate indices need when coded with what the receiver already has.

NTSCC sends one rate index per latent patch with a fixed ``kq = log2 |V|`` bits. The receiver
decodes z first, so it knows the hyperprior scales ``sigma`` of every patch and can predict
the patch's information ``sum_c H(Q(N(0, sigma_c)))`` (:func:`expected_information`) and
from it a predicted index (the same allocator at the same eta). The rate index can then be
coded with an adaptive arithmetic coder whose context is that predicted index;
:func:`adaptive_code_length` gives that coder's ideal code length (Krichevsky-Trofimov
counts updated patch by patch in raster order: achievable without any stored table).

Example
-------
>>> idx = torch.zeros(8, 8, dtype=torch.long)
>>> adaptive_code_length(idx, levels=16) < 0.25 * idx.numel() * 4
True
"""

from __future__ import annotations

import math

import torch

__all__ = ["expected_information", "adaptive_code_length", "empirical_entropy"]

_SIG_MIN, _SIG_MAX = 0.11, 64.0  # compressai's GaussianConditional scale lower bound; table top
_GRID = None


def _entropy_table():
    global _GRID
    if _GRID is None:
        sig = torch.logspace(math.log10(_SIG_MIN), math.log10(_SIG_MAX), 512, dtype=torch.float64)
        k = torch.arange(-8 * int(_SIG_MAX), 8 * int(_SIG_MAX) + 1, dtype=torch.float64)
        normal = torch.distributions.Normal(0.0, 1.0)
        p = normal.cdf((k + 0.5) / sig[:, None]) - normal.cdf((k - 0.5) / sig[:, None])
        h = -(p * torch.log2(p.clamp_min(1e-300))).sum(dim=1)
        _GRID = (sig.log(), h)
    return _GRID


def expected_information(scales: torch.Tensor) -> torch.Tensor:
    """Expected bits of each patch given the hyperprior: ``[B, C, h, w]`` scales -> ``[B, h, w]``.

    ``sum_c H(round(N(0, sigma_c)))`` (entropy of the quantised Gaussian, scales clamped at
    0.11 as in compressai's GaussianConditional; above 64 the Gaussian approximation).
    """
    log_sig, h = _entropy_table()
    s = scales.detach().double().clamp_min(_SIG_MIN)
    pos = (s.log() - log_sig[0]) / (log_sig[1] - log_sig[0])
    i = pos.floor().clamp(0, len(h) - 2).long()
    frac = (pos - i).clamp(0, 1)
    ent = h[i] * (1 - frac) + h[i + 1] * frac
    big = 0.5 * torch.log2(2 * math.pi * math.e * s.pow(2))
    ent = torch.where(s > _SIG_MAX, big, ent)
    return ent.sum(dim=1).float()


def adaptive_code_length(index: torch.Tensor, levels: int, context: torch.Tensor | None = None) -> float:
    """Ideal code length (bits) of one image's indices ``[h, w]`` under an adaptive KT coder.

    Symbols are coded in raster order with probability ``(n_ctx[i] + 1/2) / (n_ctx + levels/2)``
    from the counts of the symbols already coded in the same context (``context`` ``[h, w]``
    long, e.g. the predicted index; ``None``: one context). An arithmetic coder reaches this
    within 2 bits per image.
    """
    flat = index.reshape(-1).tolist()
    ctx = [0] * len(flat) if context is None else context.reshape(-1).tolist()
    counts: dict[int, list[float]] = {}
    bits = 0.0
    for sym, c in zip(flat, ctx):
        cnt = counts.setdefault(c, [0.5] * levels)
        total = sum(cnt)
        bits -= math.log2(cnt[sym] / total)
        cnt[sym] += 1.0
    return bits


def empirical_entropy(index: torch.Tensor, levels: int) -> float:
    """Plug-in entropy (bits per patch) of the index histogram: the per-image lower reference."""
    counts = torch.bincount(index.reshape(-1), minlength=levels).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * torch.log2(p)).sum())
