"""Source-codec side of a separation link: rate matching and scoring.

A source codec is any object with ``name``, ``qualities`` (best quality first),
``encode(image, quality) -> bytes`` and ``decode(bytes, shape) -> image``
(BPG: :class:`baselines.bpg.BPGCodec`; NTC: ``ntscc_sim.models``).
"""

from __future__ import annotations

import numpy as np

from ntscc_sim.metrics import quality


def choose_quality(codec, image: np.ndarray, budget_bits: int):
    """Best quality whose whole bitstream fits ``budget_bits``: ``(quality, bytes)`` or ``(None, None)``.

    Assumes the bitstream shrinks as quality falls (along ``codec.qualities``). When the codec
    declares ``bits_halving_step`` (BPG: about 6 QP steps halve the size), the first guess comes
    from that model and the search walks one step at a time from there (2-4 encodes instead of
    ~6 for a bisection over 52 QPs); otherwise it bisects. Either way the answer is checked
    against its better neighbour, so it is the best fitting quality and never overspends.
    """
    qs = list(codec.qualities)
    if budget_bits <= 0:
        return None, None
    sizes: dict[int, int] = {}

    def size(i):
        if i not in sizes:
            sizes[i] = len(codec.encode(image, qs[i])) * 8
        return sizes[i]

    step = getattr(codec, "bits_halving_step", None)
    if step:
        i = len(qs) // 2
        guess = i + step * np.log2(max(size(i), 1) / budget_bits)
        i = int(np.clip(np.ceil(guess), 0, len(qs) - 1))
        if size(i) <= budget_bits:
            while i > 0 and size(i - 1) <= budget_bits:
                i -= 1
        else:
            while i < len(qs) - 1 and size(i) > budget_bits:
                i += 1
            if size(i) > budget_bits:
                return None, None
        best = i
    else:
        if size(len(qs) - 1) > budget_bits:
            return None, None
        lo, hi = 0, len(qs) - 1  # invariant: qs[hi] fits
        while lo < hi:
            mid = (lo + hi) // 2
            if size(mid) <= budget_bits:
                hi = mid
            else:
                lo = mid + 1
        best = hi
    data = codec.encode(image, qs[best])
    assert len(data) * 8 <= budget_bits, "rate matching overspent the budget"
    return qs[best], data


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
