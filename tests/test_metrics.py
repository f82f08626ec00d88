"""MS-SSIM: the fast kernel against pytorch-msssim (the definition used before it)."""

import numpy as np
import pytest
import torch
from pytorch_msssim import ms_ssim

from ntscc_sim import metrics
from ntscc_sim.metrics import ms_ssim_value, quality
from ntscc_sim.train.tasks.ntc import ms_ssim_torch

from conftest import KODAK


def _reference(ref: np.ndarray, out: np.ndarray) -> float:
    """pytorch-msssim in float64, the code replaced: ``ms_ssim`` for short side > 160, else as
    many scales as fit (the same path as the training loss ``ms_ssim_torch``, on [0, 1] images)."""
    x = torch.from_numpy(np.ascontiguousarray(ref)).permute(2, 0, 1)[None].double()
    y = torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1)[None].double()
    if min(ref.shape[:2]) > 160:
        return float(ms_ssim(x, y, data_range=255.0))
    return float(ms_ssim_torch(x / 255.0, y / 255.0))


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
