"""Scaling of a sweep on Ray: the same BPG + LDPC Kodak sweep run locally and with 1 and 2 Ray
workers (a local Ray instance with 1 or 2 CPUs), side by side.

Every run is a fresh ``python -m ntscc_sim.run`` process with its own output folder and its own
empty encode cache (so BPG encodes are paid by every run), one torch thread per process. Reported:
wall time of the command (includes Python and Ray start-up), the sweep time from ``run.json``
(``timings.total_s``: units only), the speed-up over 1 Ray worker, the CPU seconds of the whole
process tree and the cores it actually got (CPU s / wall s), whether every ``points.csv`` is
byte-identical, and the machine's load average (other jobs share the cores).

    python benchmarks/ray_scaling.py                  # 24 Kodak images (~15 min on 2 idle cores)
    python benchmarks/ray_scaling.py --images 4       # a quicker look
    python benchmarks/ray_scaling.py --runs local ray1 ray2 --out /tmp/ray_scaling
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RUNS = {
    "local": ["--executor", "local"],
    "ray1": ["--executor", "ray", "--workers", "1"],
    "ray2": ["--executor", "ray", "--workers", "2"],
}


def scenario(kodak: str, images: int, snrs, cbrs) -> dict:
    return {
        "name": "ray_scaling",
        "description": "BPG + 5G LDPC 16QAM 2/3 on Kodak (benchmarks/ray_scaling.py)",
        "seed": 2022,
        "dataset": {"kind": "folder", "path": kodak, "limit": images},
        "channel": {"kind": "awgn"},
        "snr_db": list(snrs),
        "schemes": [{"name": "BPG + LDPC 16QAM 2/3", "kind": "bpg-ldpc", "cbr": list(cbrs),
                     "mcs": {"modulation": "16qam", "rate": "2/3"}, "code": {"k": 4096, "n": 6144}}],
        "run": {"batch_images": 1},
        "report": {"enabled": False},
    }


def run_one(label, scenario_file, out, cache):
    env = {**os.environ, "NTSCC_SIM_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ntscc_sim.run", str(scenario_file), "--out", str(out), "--quiet", "--no-report",
           *RUNS[label]]
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the whole process tree (Ray's too, once reaped)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"{label} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    info = json.loads((out / "run.json").read_text())
    return {"run": label, "wall_s": wall, "sweep_s": info["timings"]["total_s"], "points": info["points"],
            "cpu_s": cpu, "cores_used": cpu / wall,
            "load_before": load, "load_after": os.getloadavg()[0],
            "csv": (out / "points.csv").read_bytes()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kodak", default=str(REPO.parent / "shared" / "data" / "kodak"), help="Kodak PNG folder")
    p.add_argument("--images", type=int, default=24, help="first N Kodak images (default all 24)")
    p.add_argument("--snr", type=float, nargs="+", default=[8.0, 10.0, 12.0, 14.0], help="SNRs in dB")
    p.add_argument("--cbr", nargs="+", default=["1/32", "1/16"], help="target CBRs")
    p.add_argument("--runs", nargs="+", choices=tuple(RUNS), default=list(RUNS),
                   help="which runs, in this order (repeats allowed, e.g. ray1 ray2 ray1 ray2)")
    p.add_argument("--out", help="keep the run folders here (default: a temporary folder)")
    p.add_argument("--json", help="also write the table as JSON to this file")
    args = p.parse_args(argv)

    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="ray_scaling_"))
    root.mkdir(parents=True, exist_ok=True)
    sc = root / "scenario.yaml"
    sc.write_text(yaml.safe_dump(scenario(args.kodak, args.images, args.snr, args.cbr), sort_keys=False))
    units = args.images * len(args.snr) * len(args.cbr)
    print(f"BPG + LDPC 16QAM 2/3 on {args.images} Kodak image(s) x {len(args.snr)} SNR x {len(args.cbr)} CBR "
          f"= {units} one-image units; {os.cpu_count()} cores, load average {os.getloadavg()}", flush=True)
    rows = []
    for i, label in enumerate(args.runs):
        rows.append(run_one(label, sc, root / f"{i}-{label}", root / f"cache-{i}-{label}"))
        r = rows[-1]
        print(f"  {label:6s} wall {r['wall_s']:7.1f} s  sweep {r['sweep_s']:7.1f} s  CPU {r['cpu_s']:7.1f} s  "
              f"load {r['load_before']:.1f} -> {r['load_after']:.1f}", flush=True)
    base = next((r for r in rows if r["run"] == "ray1"), rows[0])
    identical = all(r["csv"] == rows[0]["csv"] for r in rows)
    print(f"\n| run | wall s | sweep s | s / unit | speed-up vs {base['run']} (sweep) | CPU s (all processes) | cores used | "
          "load avg (1 min) before -> after |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['wall_s']:.1f} | {r['sweep_s']:.1f} | {r['sweep_s'] / units:.2f} | "
              f"{base['sweep_s'] / r['sweep_s']:.2f}x | {r['cpu_s']:.1f} | {r['cores_used']:.2f} | "
              f"{r['load_before']:.1f} -> {r['load_after']:.1f} |")
    print(f"\npoints.csv identical across runs: {identical}")
    if args.json:
        Path(args.json).write_text(json.dumps({"units": units, "identical": identical, "cores": os.cpu_count(),
                                               "rows": [{k: v for k, v in r.items() if k != "csv"} for r in rows]},
                                              indent=2) + "\n")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
