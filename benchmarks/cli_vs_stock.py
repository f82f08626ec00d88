"""The CLI end to end against stock Sionna on the same codewords: a BPG + 5G LDPC 16QAM 2/3 sweep
on Kodak (24 images × 2 CBRs × 4 SNRs, warm BPG cache), side by side.

* **ours**: ``python -m ntscc_sim.run SCENARIO`` as a fresh process, timed from process start to
  exit: imports, the sweep (BPG decodes, the LDPC chain, PSNR and MS-SSIM) and the report
  (tables and figures) included. A first, untimed run fills the BPG cache (``--cold`` times that
  one too).
* **stock Sionna**: the codewords that run sent (counted from ``points.csv`` with the link's own
  segmentation, per SNR), pushed through ``LDPC5GEncoder``, ``Mapper``, ``AWGN``,
  ``Demapper("app")`` and ``LDPC5GDecoder`` (flooding BP, 20 iterations) in batches of 16, as
  full (4096, 6144) blocks. ``--stock-blocks`` blocks per SNR are timed and the total is
  extrapolated from µs per block (``--stock-blocks 0`` runs them all: several minutes).

The ratio is stock seconds / ours seconds. Pause other jobs while measuring
(``kill -STOP`` / ``-CONT``); the load average is printed.

    python benchmarks/cli_vs_stock.py
    python benchmarks/cli_vs_stock.py --images 4 --stock-blocks 32     # a quicker look
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ray_scaling  # noqa: E402  (its scenario builder)

K, N, BPS, RATE = 4096, 6144, 4, 2 / 3


def scenario(kodak: str, images: int, snrs, cbrs) -> dict:
    """ray_scaling.py's BPG + LDPC Kodak sweep, with the scenario's default batching and report."""
    sc = ray_scaling.scenario(kodak, images, snrs, cbrs)
    for key in ("run", "report"):
        sc.pop(key)
    sc.update(name="cli_vs_stock", description="BPG + 5G LDPC 16QAM 2/3 on Kodak (benchmarks/cli_vs_stock.py)")
    return sc


def run_cli(scenario_file: Path, out: Path, cache: Path, extra=()) -> float:
    env = {**os.environ, "NTSCC_SIM_CACHE": str(cache)}
    cmd = [sys.executable, "-m", "ntscc_sim.run", str(scenario_file), "--out", str(out), "--quiet", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"ntscc_sim.run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


def codewords_per_snr(points_csv: Path) -> dict:
    """Codewords each point sent, from its payload and the link's segmentation (checked against its CBR)."""
    from ntscc_sim.link.budget import LENGTH_BITS, channel_bits, segment

    df = pd.read_csv(points_csv)
    out = {}
    for row in df.itertuples():
        if not row.payload_bits:
            continue
        blocks = segment(int(row.payload_bits) + LENGTH_BITS, K, RATE, BPS)
        uses = channel_bits(blocks) / BPS
        assert abs(uses / (3 * row.pixels) - row.cbr) < 1e-9, "segmentation does not match the sent CBR"
        out[row.snr_db] = out.get(row.snr_db, 0) + len(blocks)
    return out


def stock_seconds(cw: dict, sample: int, seed: int) -> tuple[float, bool]:
    import torch
    from ldpc_throughput import build_chains, run_chain

    torch.set_num_threads(1)
    stock = build_chains(K, N, 1)["stock Sionna (BP 20 it)"]
    total, exact = 0.0, sample == 0
    for snr, n in sorted(cw.items()):
        blocks = n if exact else min(sample, n)
        t, _, _ = run_chain(stock, blocks, 16, K, snr, seed)
        total += sum(t.values()) / blocks * n
    return total, exact


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kodak", default=str(REPO.parent / "shared" / "data" / "kodak"))
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--snr", type=float, nargs="+", default=[8.0, 10.0, 12.0, 14.0])
    p.add_argument("--cbr", nargs="+", default=["1/32", "1/16"])
    p.add_argument("--stock-blocks", type=int, default=64, help="stock blocks timed per SNR (0: all)")
    p.add_argument("--cold", action="store_true", help="also report the cold-cache run")
    p.add_argument("--workers", type=int, default=1, help="--workers of our run")
    p.add_argument("--out", help="keep run folders here (default: a temporary folder)")
    p.add_argument("--cache", help="BPG cache to use (default: OUT/bpg_cache); a filled one skips the fill run")
    args = p.parse_args(argv)

    root = Path(args.out or tempfile.mkdtemp(prefix="cli_vs_stock_"))
    root.mkdir(parents=True, exist_ok=True)
    scen = root / "scenario.yaml"
    scen.write_text(yaml.safe_dump(scenario(args.kodak, args.images, args.snr, args.cbr), sort_keys=False))
    cache = Path(args.cache) if args.cache else root / "bpg_cache"
    filled = cache.is_dir() and any(cache.rglob("*.bpg*"))
    load0 = os.getloadavg()[0]
    extra = ("--workers", str(args.workers))
    cold = None if filled else run_cli(scen, root / "cold", cache, extra)
    warm = run_cli(scen, root / "warm", cache, extra)
    same = "n/a (cache already filled)" if filled else (root / "cold" / "points.csv").read_bytes() == (root / "warm" / "points.csv").read_bytes()
    cw = codewords_per_snr(root / "warm" / "points.csv")
    stock, exact = stock_seconds(cw, args.stock_blocks, seed=1)
    load1 = os.getloadavg()[0]

    print(f"BPG + 5G LDPC ({K}, {N}) 16QAM 2/3 on {args.images} Kodak images × {len(args.cbr)} CBRs × "
          f"{len(args.snr)} SNRs; {sum(cw.values())} codewords; load average {load0:.1f} -> {load1:.1f} on "
          f"{os.cpu_count()} CPUs; our --workers {args.workers}")
    print(f"{'run':40s} {'seconds':>9s} {'vs stock':>9s}")
    print("-" * 60)
    print(f"{'stock Sionna chain' + ('' if exact else ' (extrapolated)'):40s} {stock:9.1f} {1.0:8.1f}x")
    if args.cold and cold is not None:
        print(f"{'ours, CLI end to end, cold BPG cache':40s} {cold:9.1f} {stock / cold:8.1f}x")
    print(f"{'ours, CLI end to end, warm BPG cache':40s} {warm:9.1f} {stock / warm:8.1f}x")
    print(f"codewords per SNR: {dict(sorted(cw.items()))}; cold and warm points.csv identical: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
