"""Compare our BPG (backend x265 or bpgenc) with the published bpgenc 0.9.8 Kodak curve.

Reference: CompressAI ``results/image/kodak/bpg_444_x265_ycbcr.json`` (see
``baselines.bpg.PUBLISHED_KODAK_BPG444``). Reports BD-PSNR / BD-rate (``bjontegaard``, anchor =
published, over the overlapping bpp range), the PSNR gap at each of our points against the
published curve (PCHIP in log-bpp), and encode time per image.

Run from the repository root (takes ~5-10 min on one core for 24 images x 8 QPs, less when the
encodings are cached)::

    python benchmarks/bpg_vs_published.py --out /tmp/bpg_vs_published.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baselines.bpg import PUBLISHED_KODAK_BPG444, BPGCodec  # noqa: E402
from baselines.codec_rd import evaluate_codec, load_images  # noqa: E402


def psnr_gap_at_rate(bpp, psnr, ref_bpp, ref_psnr) -> np.ndarray:
    """Our PSNR minus the reference curve's PSNR at our bpp (NaN outside the reference range)."""
    from scipy.interpolate import PchipInterpolator

    f = PchipInterpolator(np.log(ref_bpp), ref_psnr, extrapolate=False)
    return np.asarray(psnr) - f(np.log(bpp))


def rate_ratio_at_psnr(bpp, psnr, ref_bpp, ref_psnr) -> np.ndarray:
    """Our bpp divided by the reference bpp at our PSNR (NaN outside the reference range)."""
    from scipy.interpolate import PchipInterpolator

    f = PchipInterpolator(ref_psnr, np.log(ref_bpp), extrapolate=False)
    return np.asarray(bpp) / np.exp(f(np.asarray(psnr)))


def compare(results: dict, ref: dict = PUBLISHED_KODAK_BPG444) -> dict:
    """BD metrics and per-point gaps of ``results`` (codec_rd format) against ``ref``."""
    import bjontegaard as bd

    rb, rp = np.asarray(ref["bpp"]), np.asarray(ref["psnr-rgb"])
    ob, op = np.asarray(results["bpp"]), np.asarray(results["psnr-rgb"])
    kw = {"method": "pchip", "require_matching_points": False, "min_overlap": 0.5}
    return {
        "bd_psnr_db": float(bd.bd_psnr(rb, rp, ob, op, **kw)),
        "bd_rate_percent": float(bd.bd_rate(rb, rp, ob, op, **kw)),
        "psnr_gap_db": psnr_gap_at_rate(ob, op, rb, rp).tolist(),
        "bpp_ratio": rate_ratio_at_psnr(ob, op, rb, rp).tolist(),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "kodak"))
    p.add_argument("--qps", type=int, nargs="+", default=[12, 17, 22, 27, 32, 37, 42, 47])
    p.add_argument("--backend", default="x265", choices=["auto", "bpgenc", "x265"])
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", default=None, help="write the full comparison as JSON")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    images = load_images(args.dataset, args.limit)
    if not images:
        print(f"error: no images in {args.dataset}", file=sys.stderr)
        return 2
    codec = BPGCodec(backend=args.backend, cache_dir=args.cache_dir)
    res = evaluate_codec(codec, images, args.qps)
    cmp = compare(res)
    print(f"{codec.description}; {len(images)} images")
    print(" QP    bpp     PSNR   dPSNR@bpp  bpp/ref@PSNR  MS-SSIM  enc[s]  dec[s]")
    for i, q in enumerate(res["quality"]):
        print(
            f"{q:3d} {res['bpp'][i]:7.4f} {res['psnr-rgb'][i]:7.3f} {cmp['psnr_gap_db'][i]:+9.3f}"
            f" {cmp['bpp_ratio'][i]:12.4f} {res['ms-ssim'][i]:8.5f} {res['encoding_time'][i]:7.3f}"
            f" {res['decoding_time'][i]:7.3f}"
        )
    print(f"BD-PSNR vs published: {cmp['bd_psnr_db']:+.3f} dB; BD-rate: {cmp['bd_rate_percent']:+.2f} %")
    if args.out:
        Path(args.out).write_text(json.dumps(
            {"description": codec.description, "n_images": len(images), "results": res,
             "reference": PUBLISHED_KODAK_BPG444, "comparison": cmp}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
