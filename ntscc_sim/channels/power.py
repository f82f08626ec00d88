"""Per-image power normalisation and the SNR-to-noise-variance convention."""

from __future__ import annotations

import torch


def noise_variance(snr_db):
    """Noise variance per complex symbol, ``no = 10^(-snr_db/10)`` (unit-energy symbols).

    Works on floats and tensors.
    """
    if isinstance(snr_db, torch.Tensor):
        return torch.pow(10.0, -snr_db / 10.0)
    return 10.0 ** (-float(snr_db) / 10.0)


def normalize_power(x: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-12) -> torch.Tensor:
    """Scale each row of ``x`` to unit average energy per complex symbol.

    Parameters
    ----------
    x : [B, N] complex tensor, one row per image.
    mask : optional [B, N] bool/0-1 tensor marking the symbols actually sent
        (for variable-length transmissions); the average runs over those only
        and unsent symbols are set to 0.

    Returns
    -------
    [B, N] complex tensor with ``sum(|x|^2 * mask) / sum(mask) == 1`` per row.

    Example
    -------
    >>> x = torch.randn(2, 8, dtype=torch.complex64) * 3
    >>> y = normalize_power(x)
    >>> torch.allclose(y.abs().pow(2).mean(1), torch.ones(2))
    True
    """
    if not torch.is_complex(x):
        raise TypeError("normalize_power expects a complex tensor [B, N]")
    energy = x.real.pow(2) + x.imag.pow(2)
    if mask is None:
        mean_energy = energy.mean(dim=-1, keepdim=True)
        return x / torch.sqrt(mean_energy + eps)
    m = mask.to(energy.dtype)
    count = m.sum(dim=-1, keepdim=True).clamp_min(1.0)
    mean_energy = (energy * m).sum(dim=-1, keepdim=True) / count
    return x * m / torch.sqrt(mean_energy + eps)
