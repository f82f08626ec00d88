"""Where a sweep's time goes: run ``python -m ntscc_sim.run`` on a scenario under cProfile
and print the time spent per stage.

Stages are inclusive and may nest (the LDPC chain, BPG decodes and metrics run inside a
scheme's ``run``); "imports" is the time spent importing modules after start-up.

    python benchmarks/sweep_profile.py scenarios/quickstart.yaml
    python benchmarks/sweep_profile.py scenarios/ntscc_kodak.yaml --top 25   # + hottest functions
"""

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

# (label, file suffix, function names): inclusive time of the matching functions
STAGES = (
    ("sweep: all scheme runs", "ntscc_sim/sweep.py", ("run_unit", "_run_unit", "execute_unit")),
    ("  BPG encodes (x265 / bpgenc)", "baselines/bpg.py", ("_encode_x265", "_encode_bpgenc")),
    ("  BPG decodes", "baselines/bpg.py", ("decode",)),
    ("  NTSCC scheme run (forward passes, channel, metrics)", "ntscc_sim/schemes/ntscc.py", ("run",)),
    ("  deep JSCC scheme run (forward passes, channel, metrics)", "baselines/deep_jscc/scheme.py", ("run",)),
    ("  NTC encode / decode", "ntscc_sim/models/ntc_codec.py", ("encode", "decode")),
    ("  LDPC chain (DigitalLink.send)", "baselines/separation/link.py", ("send",)),
    ("    LDPC encode", "ntscc_sim/fec/ldpc.py", ("encode",)),
    ("    LDPC decode", "ntscc_sim/fec/ldpc.py", ("decode",)),
    ("    QAM demap", "ntscc_sim/mapping/qam.py", ("__call__",)),
    ("  metrics (quality)", "ntscc_sim/metrics.py", ("quality",)),
    ("    MS-SSIM", "ntscc_sim/metrics.py", ("ms_ssim_value",)),
    ("report (tables, figures)", "ntscc_sim/report/build.py", ("build_report",)),
    ("imports", "<frozen importlib._bootstrap>", ("_find_and_load",)),
)


def stage_times(stats: pstats.Stats) -> dict:
    """Inclusive seconds per stage label; a function's cumulative time is counted once
    (outermost calls only, as cProfile's cumulative time already is)."""
    out = dict.fromkeys(label for label, _, _ in STAGES)
    for label, suffix, names in STAGES:
        total = 0.0
        found = False
        for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
            if func in names and path.replace(os.sep, "/").endswith(suffix):
                total += ct
                found = True
        out[label] = total if found else None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("--out", help="output folder (default: a temporary one)")
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--top", type=int, default=0, help="also print the N functions with the most own time")
    args = ap.parse_args(argv)

    out = args.out or tempfile.mkdtemp(prefix="sweep_profile_")
    from ntscc_sim.run import main as run_main

    run_args = [args.scenario, "--out", out, "--quiet"] + (["--no-report"] if args.no_report else [])
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    rc = prof.runcall(run_main, run_args)
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    print(f"{args.scenario}: exit {rc}, {wall:.1f} s under cProfile (results in {out}); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'stage (inclusive, nested)':<58} {'seconds':>8} {'share':>6}")
    for label, sec in stage_times(stats).items():
        if sec is not None:
            print(f"{label:<58} {sec:8.2f} {sec / wall:6.1%}")
    if args.top:
        print()
        stats.sort_stats("tottime").print_stats(args.top)
    return rc


if __name__ == "__main__":
    sys.exit(main())
