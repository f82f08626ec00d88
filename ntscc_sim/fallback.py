"""The receiver's output on outage (a lost bitstream or lost side information).

``grey``: mid-grey 128 everywhere; ``mean``: the scenario dataset's per-channel mean
colour (docs/conventions.md, "Outage"). Shared by the separation schemes and NTSCC.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FALLBACKS", "dataset_mean_color", "fallback_image"]

FALLBACKS = ("grey", "mean")


def dataset_mean_color(dataset_spec: dict) -> np.ndarray:
    """Per-channel mean (0..255, float ``[3]``) over the scenario's whole dataset."""
    from .datasets import build_dataset

    ds = build_dataset(dataset_spec)
    total, count = np.zeros(3), 0
    for _, img in ds:
        total += img.reshape(-1, 3).sum(axis=0)
        count += img.shape[0] * img.shape[1]
    return total / max(count, 1)


def fallback_image(image: np.ndarray, fallback: str = "grey", mean_color=None) -> np.ndarray:
    """uint8 image of ``image``'s shape: mid-grey, or ``mean_color`` rounded for ``mean``."""
    if fallback == "mean" and mean_color is not None:
        color = np.rint(np.asarray(mean_color)).astype(np.uint8)
    else:
        color = np.array([128, 128, 128], dtype=np.uint8)
    return np.broadcast_to(color, image.shape).copy()
