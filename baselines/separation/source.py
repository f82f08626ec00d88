"""Source-codec side of a separation link: rate matching and scoring.

A source codec is any object with ``name``, ``qualities`` (best quality first),
``encode(image, quality) -> bytes`` and ``decode(bytes, shape) -> image``
(BPG: :class:`baselines.bpg.BPGCodec`; NTC: ``ntscc_sim.models``).
"""

from __future__ import annotations

import numpy as np

from ntscc_sim.fallback import dataset_mean_color, fallback_image
from ntscc_sim.metrics import quality

__all__ = ["Scorer", "choose_quality", "dataset_mean_color"]


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
        return fallback_image(image, self.fallback, self.mean_color)

    def score(self, key, image: np.ndarray, recon_fn) -> dict:
        if key not in self._cache:
            self._cache[key] = quality(image, recon_fn(), ms_ssim=self.ms_ssim)
        return self._cache[key]

    def score_fallback(self, image_id, image) -> dict:
        return self.score((image_id, "__fallback__", self.fallback), image, lambda: self.fallback_image(image))

