"""Rate-allocation maps (paper Fig. 8): the channel bandwidth given to each latent patch.

Example
-------
>>> k = np.array([[16, 32], [48, 256]])
>>> rate_map_array(k, patch=4, height=6, width=8).shape
(6, 8)
>>> save_rate_map("/tmp/map.png", np.zeros((6, 8, 3), np.uint8), k, patch=4)  # doctest: +SKIP
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = ["rate_map_array", "rate_map_path", "save_rate_map"]


def rate_map_array(k: np.ndarray, patch: int, height: int, width: int) -> np.ndarray:
    """Per-pixel map ``[height, width]``: each latent patch's value spread over its ``patch x patch`` pixels
    (the padded border cropped away)."""
    k = np.asarray(k)
    full = np.kron(k, np.ones((patch, patch), dtype=k.dtype))
    return full[:height, :width]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "x"


def rate_map_path(out_dir, scheme: str, image_id: str, eta: float) -> Path:
    """``<out_dir>/figures/rate_maps/<scheme>_<image>_eta<eta>.png`` (names made file-safe)."""
    return Path(out_dir) / "figures" / "rate_maps" / f"{_safe(scheme)}_{_safe(image_id)}_eta{eta:g}.png"


def save_rate_map(path, image: np.ndarray, k: np.ndarray, patch: int, values=None, title: str | None = None) -> Path:
    """Write a Fig. 8 style PNG: the image and its per-patch bandwidth ``k`` (real symbols).

    ``image`` uint8 [H, W, 3]; ``k`` [h, w] symbols per latent patch; ``patch`` pixels
    per latent patch side; ``values`` (the set V) fixes the colour scale.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = image.shape[:2]
    kmap = rate_map_array(k, patch, h, w)
    lo = min(values) if values else float(kmap.min())
    hi = max(values) if values else float(kmap.max())
    aspect = w / max(h, 1)
    fig, axes = plt.subplots(1, 2, figsize=(2 * 3.2 * aspect + 1.0, 3.2), constrained_layout=True)
    axes[0].imshow(image)
    axes[0].set_title("original")
    im = axes[1].imshow(kmap, cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest")
    axes[1].set_title(f"mean {k.mean():.1f} symbols / patch")
    for ax in axes:
        ax.set_axis_off()
    fig.colorbar(im, ax=axes[1], label="bandwidth (real symbols / patch)", shrink=0.9)
    if title:
        fig.suptitle(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
