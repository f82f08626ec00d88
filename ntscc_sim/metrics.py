"""Image quality metrics (docs/conventions.md).

* PSNR per image on the uint8-rounded output, peak 255; averaged in dB over images.
* MS-SSIM (pytorch-msssim, data range 255) and its dB form ``-10 log10(1 - MS-SSIM)``.
  Images too small for the 5 standard scales (short side <= 160 px) use as many
  scales as fit (weights renormalised); a 32x32 image gets single-scale SSIM.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

_MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MAX_PSNR_DB = 100.0


def to_uint8(x) -> np.ndarray:
    """Round a float image in [0, 1] ([H, W, 3] array or [3, H, W] tensor) to uint8 [H, W, 3]."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().float()
        if x.dim() == 3 and x.shape[0] == 3:
            x = x.permute(1, 2, 0)
        x = x.numpy()
    if x.dtype == np.uint8:
        return x
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def mse(ref: np.ndarray, out: np.ndarray) -> float:
    """Mean squared error between two uint8 images, on the 0..255 scale."""
    d = ref.astype(np.float64) - out.astype(np.float64)
    return float(np.mean(d * d))


def psnr(ref: np.ndarray, out: np.ndarray) -> float:
    """PSNR in dB between two uint8 [H, W, 3] images (capped at 100 dB when identical)."""
    m = mse(ref, out)
    if m == 0:
        return MAX_PSNR_DB
    return 10.0 * math.log10(255.0**2 / m)


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].double()


def ms_ssim_value(ref: np.ndarray, out: np.ndarray) -> float:
    """MS-SSIM between two uint8 [H, W, 3] images."""
    x, y = _to_tensor(ref), _to_tensor(out)
    short = min(ref.shape[0], ref.shape[1])
    if short > 160:
        return float(ms_ssim(x, y, data_range=255.0).item())
    levels = 1
    while levels < 5 and short > 10 * 2 ** levels:
        levels += 1
    win_size = 11 if short >= 11 else (short if short % 2 == 1 else short - 1)
    win = _fspecial_gauss_1d(win_size, 1.5).repeat(3, 1, 1, 1).to(x)
    weights = torch.tensor(_MS_WEIGHTS[:levels], dtype=x.dtype)
    weights = weights / weights.sum()
    values = []
    for i in range(levels):
        ssim_c, cs = _ssim(x, y, win=win, data_range=255.0, size_average=False)
        if i < levels - 1:
            values.append(torch.relu(cs))
            x = F.avg_pool2d(x, kernel_size=2)
            y = F.avg_pool2d(y, kernel_size=2)
    values.append(torch.relu(ssim_c))
    stack = torch.stack(values, dim=0)
    return float(torch.prod(stack ** weights.view(-1, 1, 1), dim=0).mean().item())


def ms_ssim_db(ref: np.ndarray, out: np.ndarray) -> float:
    """MS-SSIM in dB, ``-10 log10(1 - MS-SSIM)`` (capped at 100 dB)."""
    v = ms_ssim_value(ref, out)
    if v >= 1.0:
        return MAX_PSNR_DB
    return min(MAX_PSNR_DB, -10.0 * math.log10(1.0 - v))


def quality(ref: np.ndarray, out: np.ndarray, ms_ssim: bool = True) -> dict:
    """``{"psnr": dB, "ms_ssim_db": dB (NaN if not asked), "mse": float}`` for two uint8 images."""
    return {"psnr": psnr(ref, out), "ms_ssim_db": ms_ssim_db(ref, out) if ms_ssim else float("nan"), "mse": mse(ref, out)}
