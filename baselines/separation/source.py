"""Source-codec side of a separation link: rate matching and scoring.

A source codec is any object with ``name``, ``qualities`` (best quality first),
``encode(image, quality) -> bytes`` and ``decode(bytes, shape) -> image``
(BPG: :class:`baselines.bpg.BPGCodec`; NTC: ``ntscc_sim.models``).
"""

from __future__ import annotations

import numpy as np

from ntscc_sim.metrics import quality


def choose_quality(codec, image: np.ndarray, budget_bits: int, image_key=None):
    """Best quality whose whole bitstream fits ``budget_bits``: ``(quality, bytes)`` or ``(None, None)``.

    Bisection over ``codec.qualities`` (bitstream size falls as quality falls),
    then a check of the neighbour so a non-monotone step cannot make us overspend
    or miss a fitting better quality by one step.
    """
    qs = list(codec.qualities)
    if budget_bits <= 0:
        return None, None

    def size(i):
        return len(codec.encode(image, qs[i])) * 8

    if size(len(qs) - 1) > budget_bits:
        return None, None
    lo, hi = 0, len(qs) - 1  # invariant: qs[hi] fits
    while lo < hi:
        mid = (lo + hi) // 2
        if size(mid) <= budget_bits:
            hi = mid
        else:
            lo = mid + 1
    data = codec.encode(image, qs[hi])
    assert len(data) * 8 <= budget_bits
    return qs[hi], data


class Scorer:
    """Caches reconstructions' quality per (image, quality) and fallback images' quality."""

    def __init__(self, ms_ssim: bool, fallback: str, mean_color=None):
        self.ms_ssim = ms_ssim
        self.fallback = fallback
        self.mean_color = mean_color
        self._cache: dict = {}

    def fallback_image(self, image: np.ndarray) -> np.ndarray:
        """The receiver's output on outage: mid-grey (128) or the dataset's per-channel mean."""
        if self.fallback == "mean" and self.mean_color is not None:
            color = np.rint(np.asarray(self.mean_color)).astype(np.uint8)
        else:
            color = np.array([128, 128, 128], dtype=np.uint8)
        return np.broadcast_to(color, image.shape).copy()

    def score(self, key, image: np.ndarray, recon_fn) -> dict:
        if key not in self._cache:
            self._cache[key] = quality(image, recon_fn(), ms_ssim=self.ms_ssim)
        return self._cache[key]

    def score_fallback(self, image_id, image) -> dict:
        return self.score((image_id, "__fallback__", self.fallback), image, lambda: self.fallback_image(image))


def dataset_mean_color(dataset_spec: dict):
    """Per-channel mean (0..255) over the scenario's whole dataset."""
    from ntscc_sim.datasets import build_dataset

    ds = build_dataset(dataset_spec)
    total, count = np.zeros(3), 0
    for _, img in ds:
        total += img.reshape(-1, 3).sum(axis=0)
        count += img.shape[0] * img.shape[1]
    return total / max(count, 1)
