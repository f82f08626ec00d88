"""Image quality metrics (docs/conventions.md).

* PSNR per image on the uint8-rounded output, peak 255; averaged in dB over images.
* MS-SSIM (data range 255) and its dB form ``-10 log10(1 - MS-SSIM)``: the
  definition of pytorch-msssim's ``ms_ssim`` (11-tap Gaussian window, sigma 1.5,
  K1 = 0.01, K2 = 0.03, the 5 standard weights, 2x2 average pooling padded on odd
  sides), computed by a float32 separable-filter numba kernel
  (:mod:`ntscc_sim._ssim_kernel`, ~20x faster, within 1e-5 of pytorch-msssim).
  Images too small for the 5 standard scales (short side <= 160 px) use as many
  scales as fit (weights renormalised, unpadded pooling); a 32x32 image gets
  2-scale MS-SSIM.
* :func:`quality` remembers its last results by image content, so a
  reconstruction scored again (another scheme, CBR or SNR) costs a hash.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import numpy as np
import torch

from ._ssim_kernel import ssim_level

_MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MAX_PSNR_DB = 100.0
_K1, _K2, _DATA_RANGE = 0.01, 0.03, 255.0
_NO_SMOOTHING = np.ones(1, dtype=np.float32)
_QUALITY_CACHE: OrderedDict = OrderedDict()
_QUALITY_CACHE_SIZE = 512


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


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Normalised 1-D Gaussian window, float32 [size] (pytorch-msssim's ``_fspecial_gauss_1d``)."""
    coords = np.arange(size, dtype=np.float32) - np.float32(size // 2)
    g = np.exp(-(coords**2) / np.float32(2 * sigma**2))
    return (g / g.sum()).astype(np.float32)


def _avg_pool2(x: np.ndarray, pad: bool) -> np.ndarray:
    """2x2 average pooling of [C, H, W]; ``pad``: zero-pad odd sides by one on both ends
    (``F.avg_pool2d(kernel_size=2, padding=s % 2)``), else drop the odd last row/column."""
    if pad and (x.shape[1] % 2 or x.shape[2] % 2):
        ph, pw = x.shape[1] % 2, x.shape[2] % 2
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    x = x[:, :h, :w]
    return (x[:, 0::2, 0::2] + x[:, 1::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 1::2]) * np.float32(0.25)


def ms_ssim_value(ref: np.ndarray, out: np.ndarray) -> float:
    """MS-SSIM between two uint8 [H, W, 3] images (single thread, ~30-50 ms for 768x512)."""
    if ref.shape != out.shape:
        raise ValueError(f"images differ in shape: {ref.shape} vs {out.shape}")
    short = min(ref.shape[0], ref.shape[1])
    if short > 160:
        levels, win_size, pad = 5, 11, True
    else:
        levels = 1
        while levels < 5 and short > 10 * 2 ** levels:
            levels += 1
        win_size = 11 if short >= 11 else (short if short % 2 == 1 else short - 1)
        pad = False
    weights = np.asarray(_MS_WEIGHTS[:levels], dtype=np.float64)
    if levels < 5:
        weights = weights / weights.sum()
    win = gaussian_window(win_size)
    c1, c2 = np.float32((_K1 * _DATA_RANGE) ** 2), np.float32((_K2 * _DATA_RANGE) ** 2)
    shift = np.float32(128.0)
    x = np.ascontiguousarray(ref.transpose(2, 0, 1), dtype=np.float32)
    y = np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)
    values = []
    for i in range(levels):
        # like pytorch-msssim, no smoothing along a side shorter than the window
        wv = win if x.shape[1] >= win.size else _NO_SMOOTHING
        wh = win if x.shape[2] >= win.size else _NO_SMOOTHING
        ssim_c, cs = ssim_level(x - shift, y - shift, wv, wh, c1, c2, shift)
        if i < levels - 1:
            values.append(np.maximum(cs, 0.0))
            x, y = _avg_pool2(x, pad), _avg_pool2(y, pad)
    values.append(np.maximum(ssim_c, 0.0))
    per_channel = np.prod(np.stack(values) ** weights[:, None], axis=0)
    return float(per_channel.mean())


def ms_ssim_db(ref: np.ndarray, out: np.ndarray) -> float:
    """MS-SSIM in dB, ``-10 log10(1 - MS-SSIM)`` (capped at 100 dB)."""
    v = ms_ssim_value(ref, out)
    if v >= 1.0:
        return MAX_PSNR_DB
    return min(MAX_PSNR_DB, -10.0 * math.log10(1.0 - v))


def _digest(img: np.ndarray) -> bytes:
    img = np.ascontiguousarray(img)
    return hashlib.blake2b(img.data, digest_size=16).digest() + repr((img.shape, img.dtype.str)).encode()


def quality(ref: np.ndarray, out: np.ndarray, ms_ssim: bool = True) -> dict:
    """``{"psnr": dB, "ms_ssim_db": dB (NaN if not asked), "mse": float}`` for two uint8 images.

    Results are remembered by the content of both images (the last 512 pairs).
    """
    key = (_digest(ref), _digest(out), bool(ms_ssim))
    hit = _QUALITY_CACHE.get(key)
    if hit is not None:
        _QUALITY_CACHE.move_to_end(key)
        return dict(hit)
    score = {"psnr": psnr(ref, out), "ms_ssim_db": ms_ssim_db(ref, out) if ms_ssim else float("nan"), "mse": mse(ref, out)}
    _QUALITY_CACHE[key] = dict(score)
    if len(_QUALITY_CACHE) > _QUALITY_CACHE_SIZE:
        _QUALITY_CACHE.popitem(last=False)
    return score
