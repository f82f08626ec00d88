"""Memory and time of large images: a sweep over 2048-pixel-wide photos through NTSCC, deep JSCC
and BPG + LDPC 16QAM 2/3, one scheme per ``python -m ntscc_sim.run`` process, side by side.

The photos are Kodak images upscaled with PIL's LANCZOS filter (768x512 -> 2048x1365 by
default), written to a temporary folder (never to the repository). Every scheme runs as its
own process with one torch thread and its own empty BPG encode cache (a cold start, as a new
user gets it). Reported per scheme: the process's peak resident memory (``ru_maxrss`` from
``os.wait4``: the process and its reaped children), the wall time of the command (process
start-up and imports included), its CPU seconds, CPU seconds per image (more stable than
wall time on a shared machine), the sweep time from ``run.json`` and the load average.

    python benchmarks/large_images.py                        # 2 images, 2048 px wide, 2 SNRs
    python benchmarks/large_images.py --schemes deep-jscc ntscc bpg-ldpc all   # + the three in one process
    python benchmarks/large_images.py --images 4 --width 3072
    python benchmarks/large_images.py --schemes ntscc --batch-images 1 2 --out /tmp/large
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMES = {
    "ntscc": {"name": "NTSCC", "kind": "ntscc", "checkpoint": ["ntscc-bsds500-awgn10-lam1500"], "eta": [0.2]},
    "deep-jscc": {"name": "deep JSCC", "kind": "deep-jscc", "checkpoint": ["deepjscc-bsds500-awgn10-c3"]},
    "bpg-ldpc": {"name": "BPG + LDPC 16QAM 2/3", "kind": "bpg-ldpc", "cbr": ["1/16"],
                 "mcs": {"modulation": "16qam", "rate": "2/3"}, "code": {"k": 4096, "n": 6144}},
}


def make_images(kodak: Path, folder: Path, count: int, width: int) -> list[tuple[str, tuple]]:
    """Upscale the first ``count`` Kodak PNGs to ``width`` pixels wide (aspect kept, LANCZOS)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for src in sorted(kodak.glob("*.png"))[:count]:
        with Image.open(src) as im:
            im = im.convert("RGB")
            height = round(im.height * width / im.width)
            im.resize((width, height), Image.LANCZOS).save(folder / src.name, compress_level=1)
        made.append((src.name, (width, height)))
    if len(made) < count:
        sys.exit(f"only {len(made)} PNG(s) in {kodak}, asked for {count}")
    return made


def scenario(scheme: str, images: Path, snrs, batch_images: int) -> dict:
    """One scheme, or ``all`` three in one process (as a new user would run them)."""
    schemes = list(SCHEMES.values()) if scheme == "all" else [SCHEMES[scheme]]
    return {
        "name": f"large_{scheme}",
        "description": f"{', '.join(s['name'] for s in schemes)} on upscaled Kodak photos (benchmarks/large_images.py)",
        "seed": 2022,
        "device": "cpu",
        "dataset": {"kind": "folder", "path": str(images)},
        "channel": {"kind": "awgn"},
        "snr_db": list(snrs),
        "schemes": schemes,
        "run": {"batch_images": batch_images},
        "report": {"enabled": False},
    }


def run_one(label: str, scenario_file: Path, out: Path, cache: Path) -> dict:
    """One ``python -m ntscc_sim.run`` process; its own peak RSS and CPU time from ``os.wait4``."""
    env = {**os.environ, "NTSCC_SIM_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ntscc_sim.run", str(scenario_file), "--out", str(out), "--quiet", "--no-report"]
    load = os.getloadavg()[0]
    log = out.with_suffix(".log")
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{label} failed (exit {proc.returncode}):\n{log.read_text()[-3000:]}")
    info = json.loads((out / "run.json").read_text())
    # ru_maxrss is in KiB on Linux (bytes on macOS)
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {"scheme": label, "peak_rss_gb": rss / 1e9, "wall_s": wall, "sweep_s": info["timings"]["total_s"],
            "cpu_s": usage.ru_utime + usage.ru_stime, "points": info["points"],
            "load_before": load, "load_after": os.getloadavg()[0]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kodak", default=str(REPO.parent / "shared" / "data" / "kodak"), help="Kodak PNG folder")
    p.add_argument("--images", type=int, default=2, help="first N Kodak images, upscaled (default 2)")
    p.add_argument("--width", type=int, default=2048, help="width of the upscaled photos in pixels (default 2048)")
    p.add_argument("--snr", type=float, nargs="+", default=[8.0, 12.0], help="SNRs in dB")
    p.add_argument("--schemes", nargs="+", choices=(*SCHEMES, "all"), default=list(SCHEMES),
                   help="which schemes, in this order, one process each; 'all': the three in one process")
    p.add_argument("--batch-images", type=int, nargs="+", default=[8],
                   help="run.batch_images; several values run every scheme once per value (memory must not grow with it)")
    p.add_argument("--out", help="keep images, scenarios and run folders here (default: a temporary folder, removed)")
    p.add_argument("--json", help="also write the table as JSON to this file")
    args = p.parse_args(argv)

    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="large_images_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        made = make_images(Path(args.kodak), root / "images", args.images, args.width)
        sizes = sorted({s for _, s in made})
        print(f"{args.images} Kodak image(s) upscaled to {', '.join(f'{w}x{h}' for w, h in sizes)} in {root / 'images'}; "
              f"SNR {args.snr} dB; {os.cpu_count()} cores, load average {os.getloadavg()}", flush=True)
        rows = []
        for batch in args.batch_images:
            for name in args.schemes:
                label = name if len(args.batch_images) == 1 else f"{name} (batch_images {batch})"
                sc = root / f"scenario-{name}-b{batch}.yaml"
                sc.write_text(yaml.safe_dump(scenario(name, root / "images", args.snr, batch), sort_keys=False))
                rows.append(run_one(label, sc, root / f"run-{name}-b{batch}", root / f"cache-{name}-b{batch}"))
                r = rows[-1]
                print(f"  {label:28s} peak RSS {r['peak_rss_gb']:5.2f} GB  wall {r['wall_s']:7.1f} s  "
                      f"CPU {r['cpu_s']:7.1f} s  load {r['load_before']:.1f} -> {r['load_after']:.1f}", flush=True)
        print(f"\n| scheme | images | points | peak RSS (GB) | wall s | sweep s | CPU s | CPU s / image | CPU s / point | "
              "load avg (1 min) before -> after |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['scheme']} | {args.images} | {r['points']} | {r['peak_rss_gb']:.2f} | {r['wall_s']:.1f} | "
                  f"{r['sweep_s']:.1f} | {r['cpu_s']:.1f} | {r['cpu_s'] / args.images:.1f} | {r['cpu_s'] / r['points']:.1f} | "
                  f"{r['load_before']:.1f} -> {r['load_after']:.1f} |")
        if args.json:
            Path(args.json).write_text(json.dumps({"images": args.images, "sizes": sizes, "snr_db": args.snr,
                                                   "cores": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    finally:
        if not args.out:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
