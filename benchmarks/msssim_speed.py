"""MS-SSIM speed: ``ntscc_sim.metrics.ms_ssim_value`` against pytorch-msssim, side by side.

Both on the same uint8 Kodak images (768x512) and noisy copies, one thread; prints ms
per image (wall and CPU time, best of ``--repeat``), the largest difference between the
two values, and the load average.

    python benchmarks/msssim_speed.py --images 8
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch


def _best(fn, repeat):
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kodak", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"))
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from PIL import Image
    from pytorch_msssim import ms_ssim

    from ntscc_sim.metrics import ms_ssim_value

    paths = sorted(Path(args.kodak).glob("*.png"))[: args.images]
    if not paths:
        raise SystemExit(f"no PNG images in {args.kodak}")
    rng = np.random.default_rng(0)
    ms_ssim_value(np.zeros((200, 200, 3), np.uint8), np.ones((200, 200, 3), np.uint8))  # numba cache load
    print(f"MS-SSIM, {len(paths)} Kodak images, 1 thread; load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'image':<12} {'ours wall ms':>12} {'ours cpu ms':>11} {'pytorch wall ms':>15} {'pytorch cpu ms':>14} {'|diff|':>9}")
    rows = []
    for p in paths:
        ref = np.asarray(Image.open(p).convert("RGB"))
        out = np.clip(ref.astype(np.int32) + np.rint(rng.normal(0, 8, ref.shape)), 0, 255).astype(np.uint8)
        x = torch.from_numpy(ref.copy()).permute(2, 0, 1)[None].double()
        y = torch.from_numpy(out).permute(2, 0, 1)[None].double()
        a = ms_ssim_value(ref, out)
        b = float(ms_ssim(x, y, data_range=255.0))
        ours = _best(lambda: ms_ssim_value(ref, out), args.repeat)
        theirs = _best(lambda: ms_ssim(x, y, data_range=255.0), args.repeat)
        rows.append(ours + theirs)
        print(f"{p.stem:<12} {ours[0] * 1e3:12.1f} {ours[1] * 1e3:11.1f} {theirs[0] * 1e3:15.1f} {theirs[1] * 1e3:14.1f} {abs(a - b):9.1e}", flush=True)
    m = np.mean(rows, axis=0) * 1e3
    print(f"{'mean':<12} {m[0]:12.1f} {m[1]:11.1f} {m[2]:15.1f} {m[3]:14.1f}   speed-up (cpu) {m[3] / m[1]:.1f}x")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
