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


#: Rate-matching search used by :func:`choose_quality`: ``"bracket"`` (default) or ``"walk"``
#: (the search before known sizes were shared; kept to check that both give the same answers).
DEFAULT_SEARCH = "bracket"


def choose_quality(codec, image: np.ndarray, budget_bits: int, sizes: dict | None = None, search: str | None = None):
    """Best quality whose whole bitstream fits ``budget_bits``: ``(quality, bytes)`` or ``(None, None)``.

    Assumes the bitstream shrinks as quality falls (along ``codec.qualities``). The answer is
    the quality that fits while its better neighbour does not (or the best quality), so it is
    the best fitting quality and never overspends; with sizes monotone in the quality it is
    unique, whatever the search and whatever was encoded before.

    Args:
        codec: source codec (``qualities``, ``encode``; optional ``bits_halving_step``).
        image: uint8 [H, W, 3].
        budget_bits: payload budget in bits.
        sizes: ``{quality: bits}`` of this image's bitstreams already known (other budgets,
            schemes, or the codec's disk cache, e.g. :meth:`baselines.bpg.BPGCodec.known_sizes`);
            the search reads it and adds every size it measures.
        search: ``"bracket"`` (default, :data:`DEFAULT_SEARCH`): the known sizes bracket the
            answer, and it is searched inside the bracket only: interpolated in log size between
            the bracket's ends when both are known, else from the codec's ``bits_halving_step``
            model (BPG: about 6 QP steps halve the size) through the known end, else (or when
            that converges slowly) by bisection; a budget already bracketed by known sizes
            costs no encode. ``"walk"``: the former search, which ignores ``sizes``: a guess from
            the size at the middle quality, then one step at a time.
    """
    search = search or DEFAULT_SEARCH
    if search not in ("bracket", "walk"):
        raise ValueError(f"unknown rate-matching search {search!r}")
    qs = list(codec.qualities)
    if budget_bits <= 0:
        return None, None
    sizes = {} if sizes is None else sizes
    best = (_walk if search == "walk" else _bracket)(codec, image, budget_bits, qs, sizes)
    if best is None:
        return None, None
    data = codec.encode(image, qs[best])
    sizes[qs[best]] = len(data) * 8
    assert len(data) * 8 <= budget_bits, "rate matching overspent the budget"
    return qs[best], data


def _measure(codec, image, qs, sizes):
    def size(i):
        if qs[i] not in sizes:
            sizes[qs[i]] = len(codec.encode(image, qs[i])) * 8
        return sizes[qs[i]]

    return size


def _bracket(codec, image, budget_bits, qs, sizes):
    """Index of the answer (or None) searched between the known sizes that bracket it."""
    n = len(qs)
    index = {q: i for i, q in enumerate(qs)}
    known = sorted((index[q], b) for q, b in sizes.items() if q in index)
    # hi: best quality known to fit (n: none known); lo: the worse quality just above it known not to
    hi = next((i for i, b in known if b <= budget_bits), n)
    lo = max((i for i, b in known if i < hi and b > budget_bits), default=-1)
    size = _measure(codec, image, qs, sizes)
    step = getattr(codec, "bits_halving_step", None)
    slow = 0  # probes in a row that did not halve the bracket
    while hi - lo > 1 and not (hi == n and lo == n - 1):
        top = hi - 1 if hi < n else n - 1  # candidates: lo + 1 .. top
        if slow >= 3:
            i = (lo + 1 + top) // 2  # bisection when interpolation converges slowly
        elif lo >= 0 and hi < n and size(lo) > size(hi):
            # both ends known: the answer is where log(size) crosses log(budget), interpolated
            frac = np.log(size(lo) / budget_bits) / np.log(size(lo) / max(size(hi), 1))
            i = int(np.ceil(lo + frac * (hi - lo)))
        elif step:
            # one end known (or none): the codec's rate model from it (BPG: 6 QP steps halve the size)
            anchor = lo if lo >= 0 else (hi if hi < n else None)
            i = n // 2 if anchor is None else int(np.ceil(anchor + step * np.log2(max(size(anchor), 1) / budget_bits)))
        else:
            i = top if hi == n else (lo + hi) // 2  # bisection; first check that anything fits
        i = int(np.clip(i, lo + 1, top))
        width = top - lo
        if size(i) <= budget_bits:
            hi = i
        else:
            lo = i
        new_top = hi - 1 if hi < n else n - 1
        slow = slow + 1 if 2 * (new_top - lo) > width else 0
    return hi if hi < n else None


def _walk(codec, image, budget_bits, qs, sizes):
    """The former search (sizes measured here are still recorded in ``sizes``)."""
    local: dict = {}
    measure = _measure(codec, image, qs, local)

    def size(i):
        b = measure(i)
        sizes[qs[i]] = b
        return b

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
                return None
        return i
    if size(len(qs) - 1) > budget_bits:
        return None
    lo, hi = 0, len(qs) - 1  # invariant: qs[hi] fits
    while lo < hi:
        mid = (lo + hi) // 2
        if size(mid) <= budget_bits:
            hi = mid
        else:
            lo = mid + 1
    return hi


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

