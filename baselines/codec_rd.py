"""Rate-distortion curve of a classical image codec over a dataset (CompressAI results JSON).

Usage::

    python -m baselines.codec_rd --codec bpg --dataset ../shared/data/kodak --out bpg.json
    python -m baselines.codec_rd --codec jpeg --dataset DIR --out jpeg.json --qualities 90 50 10 --limit 4

Writes ``{"name", "description", "results": {"bpp", "psnr-rgb", "ms-ssim", "ms-ssim-db",
"encoding_time", "decoding_time", "quality"}}`` with one entry per quality, sorted by increasing
bpp. Per quality: bpp = 8 * bytes / (H * W) averaged over images; PSNR on the uint8 output,
averaged in dB over images; MS-SSIM (pytorch_msssim, data_range 255) averaged linearly and, as
``ms-ssim-db`` = -10 log10(1 - MS-SSIM), in dB; times are mean seconds per image (for BPG the
encoding time of the original, possibly cached, encoding). Images whose shorter side is <= 160
pixels have no MS-SSIM (null). Exit code 2 if the dataset folder is missing or has no images.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_QUALITIES", "load_images", "psnr", "ms_ssim", "evaluate_codec", "main"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp"}

#: Default quality sweeps (codec-specific quality parameters, best first).
DEFAULT_QUALITIES = {
    "bpg": [12, 17, 22, 27, 32, 37, 42, 47],
    "jpeg": [95, 90, 80, 70, 60, 50, 40, 30, 20, 10, 5],
    "webp": [95, 90, 80, 70, 60, 50, 40, 30, 20, 10, 5],
    "jpeg2000": [4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192],
}


def image_paths(folder: str | Path) -> list[Path]:
    """Sorted image files directly inside ``folder`` (empty list if it does not exist)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def load_images(folder: str | Path, limit: int | None = None) -> list[np.ndarray]:
    """Load the (first ``limit``) images of ``folder`` as uint8 [H, W, 3] RGB arrays."""
    from PIL import Image

    out = []
    for p in image_paths(folder)[:limit]:
        with Image.open(p) as im:
            out.append(np.asarray(im.convert("RGB")).copy())
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images (inf if identical)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """5-scale MS-SSIM (data_range 255, :func:`ntscc_sim.metrics.ms_ssim_value`) of two uint8
    [H, W, 3] images; NaN if too small."""
    if min(a.shape[:2]) <= 160:  # 5 scales with an 11-tap window need > 160 pixels
        return float("nan")
    from ntscc_sim.metrics import ms_ssim_value

    return ms_ssim_value(a, b)


def _db(v: float) -> float:
    return float("inf") if v >= 1 else -10 * math.log10(1 - v)


def _mean(values: list[float]) -> float | None:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else None


def evaluate_codec(codec, images: list[np.ndarray], qualities, progress: bool = True) -> dict:
    """Encode/decode every image at every quality; returns the CompressAI-style ``results``.

    Args:
        codec: object with ``encode(image, q) -> bytes`` and ``decode(bytes, shape) -> image``.
        images: list of uint8 [H, W, 3] arrays.
        qualities: codec quality values.
        progress: show a tqdm bar.

    Returns:
        dict of lists (one value per quality, sorted by increasing bpp): ``bpp``, ``psnr-rgb``,
        ``ms-ssim``, ``ms-ssim-db``, ``encoding_time``, ``decoding_time``, ``quality``.
    """
    from tqdm import tqdm

    rows = []
    bar = tqdm(total=len(images) * len(qualities), desc=getattr(codec, "name", "codec"),
               disable=not progress, unit="enc")
    for q in qualities:
        per = {k: [] for k in ("bpp", "psnr", "msssim", "msssim_db", "enc", "dec")}
        for img in images:
            h, w = img.shape[:2]
            t0 = time.perf_counter()
            if hasattr(codec, "encode_with_info"):
                data, info = codec.encode_with_info(img, q)
                t_enc = info["encode_time"]
            else:
                data = codec.encode(img, q)
                t_enc = time.perf_counter() - t0
            t0 = time.perf_counter()
            rec = codec.decode(data, (h, w))
            t_dec = time.perf_counter() - t0
            m = ms_ssim(img, rec)
            per["bpp"].append(8.0 * len(data) / (h * w))
            per["psnr"].append(psnr(img, rec))
            per["msssim"].append(m)
            per["msssim_db"].append(_db(m) if not math.isnan(m) else float("nan"))
            per["enc"].append(t_enc)
            per["dec"].append(t_dec)
            bar.update()
        rows.append((q, {k: _mean(v) for k, v in per.items()}))
    bar.close()
    rows.sort(key=lambda r: r[1]["bpp"])
    return {
        "bpp": [r["bpp"] for _, r in rows],
        "psnr-rgb": [r["psnr"] for _, r in rows],
        "ms-ssim": [r["msssim"] for _, r in rows],
        "ms-ssim-db": [r["msssim_db"] for _, r in rows],
        "encoding_time": [r["enc"] for _, r in rows],
        "decoding_time": [r["dec"] for _, r in rows],
        "quality": [q for q, _ in rows],
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m baselines.codec_rd", description=__doc__.split("\n")[0])
    p.add_argument("--codec", required=True, choices=["bpg", "jpeg", "webp", "jpeg2000"])
    p.add_argument("--dataset", required=True, help="folder of images")
    p.add_argument("--out", required=True, help="output JSON file")
    p.add_argument("--qualities", type=int, nargs="+", help="quality values (default: per codec)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--bpg-backend", default="auto", choices=["auto", "bpgenc", "x265"])
    p.add_argument("--cache-dir", default=None, help="BPG encode cache (default ~/.cache/ntscc_sim/bpg)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    paths = image_paths(args.dataset)
    if not paths:
        print(f"error: dataset folder missing or without images: {args.dataset}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)
    from .image_codecs import get_codec

    kwargs = {"backend": args.bpg_backend, "cache_dir": args.cache_dir} if args.codec == "bpg" else {}
    codec = get_codec(args.codec, **kwargs)
    qualities = args.qualities or DEFAULT_QUALITIES[args.codec]
    images = load_images(args.dataset, args.limit)
    results = evaluate_codec(codec, images, qualities, progress=not args.no_progress)
    out = {
        "name": codec.name,
        "description": f"{codec.description}; {len(images)} images from {args.dataset}",
        "results": results,
    }
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(_finite(out), indent=2, allow_nan=False) + "\n")
    return 0


def _finite(o):
    """Replace non-finite floats (e.g. PSNR of a lossless result) by null for strict JSON."""
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_finite(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


if __name__ == "__main__":
    sys.exit(main())
