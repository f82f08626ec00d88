"""MS-SSIM: the fast kernel against pytorch-msssim (the definition used before it)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

from ntscc_sim import metrics
from ntscc_sim.metrics import ms_ssim_value, quality

from conftest import KODAK


def _reference(ref: np.ndarray, out: np.ndarray) -> float:
    """pytorch-msssim in float64: ``ms_ssim`` for short side > 160, else as many scales as fit
    (weights renormalised, unpadded pooling, smaller window below 11 px): the code replaced."""
    x = torch.from_numpy(np.ascontiguousarray(ref)).permute(2, 0, 1)[None].double()
    y = torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1)[None].double()
    short = min(ref.shape[:2])
    if short > 160:
        return float(ms_ssim(x, y, data_range=255.0))
    levels = 1
    while levels < 5 and short > 10 * 2**levels:
        levels += 1
    win_size = 11 if short >= 11 else (short if short % 2 == 1 else short - 1)
    win = _fspecial_gauss_1d(win_size, 1.5).repeat(3, 1, 1, 1).to(x)
    weights = torch.tensor((0.0448, 0.2856, 0.3001, 0.2363, 0.1333)[:levels], dtype=x.dtype)
    weights = weights / weights.sum()
    values = []
    for i in range(levels):
        ssim_c, cs = _ssim(x, y, win=win, data_range=255.0, size_average=False)
        if i < levels - 1:
            values.append(torch.relu(cs))
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    values.append(torch.relu(ssim_c))
    return float(torch.prod(torch.stack(values) ** weights.view(-1, 1, 1), dim=0).mean())


def _noisy(img, sigma, seed):
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(np.int32) + np.rint(rng.normal(0, sigma, img.shape)), 0, 255).astype(np.uint8)


def _kodak(i):
    from PIL import Image

    path = KODAK / f"kodim{i:02d}.png"
    if not path.exists():
        pytest.skip("Kodak not available")
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("i,sigma", [(1, 3.0), (5, 12.0), (23, 40.0)])
def test_ms_ssim_matches_pytorch_msssim_on_kodak(i, sigma):
    img = _kodak(i)
    out = _noisy(img, sigma, i)
    assert abs(ms_ssim_value(img, out) - _reference(img, out)) < 1e-5


@pytest.mark.parametrize("shape", [(321, 481), (171, 203), (160, 240), (96, 64), (32, 32), (21, 25), (12, 9), (8, 10)])
def test_ms_ssim_matches_pytorch_msssim_on_odd_and_small_sizes(shape):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    # smooth content plus texture, so that both the mean and the structure terms matter
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    base = 128 + 60 * np.sin(xx / 7.0)[..., None] * np.cos(yy / 5.0)[..., None] + rng.normal(0, 20, shape + (3,))
    img = np.clip(np.rint(base), 0, 255).astype(np.uint8)
    for sigma in (2.0, 25.0):
        out = _noisy(img, sigma, 7)
        assert abs(ms_ssim_value(img, out) - _reference(img, out)) < 1e-4


def test_ms_ssim_identical_and_flat_images():
    img = _noisy(np.full((200, 180, 3), 100, np.uint8), 30, 1)
    assert ms_ssim_value(img, img) == pytest.approx(1.0, abs=1e-6)
    flat = np.full((200, 180, 3), 128, np.uint8)
    assert abs(ms_ssim_value(img, flat) - _reference(img, flat)) < 1e-4


def test_quality_is_remembered_by_content(monkeypatch):
    img = _noisy(np.full((64, 64, 3), 90, np.uint8), 20, 2)
    out = _noisy(img, 10, 3)
    first = quality(img, out)
    calls = []
    monkeypatch.setattr(metrics, "ms_ssim_db", lambda a, b: calls.append(1) or 0.0)
    assert quality(img.copy(), out.copy()) == first and not calls
    other = out.copy()
    other[0, 0, 0] ^= 1
    quality(img, other)
    assert calls == [1]
