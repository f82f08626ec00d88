"""Where a sweep's time goes: run ``python -m ntscc_sim.run`` on a scenario under cProfile
and print the CPU time spent per stage.

The profiler's clock is this process's CPU time (``time.process_time``), so the numbers do not
depend on how busy a shared machine is; the wall time and the load average are printed too.
Stages are inclusive and may nest (the LDPC chain, BPG decodes and metrics run inside a
scheme's ``run``); "imports" is the time spent importing modules after start-up. The sweep runs
in this process (one worker).

    python benchmarks/sweep_profile.py scenarios/quickstart.yaml
    python benchmarks/sweep_profile.py scenarios/ntscc_kodak.yaml --top 25   # + hottest functions
    python benchmarks/sweep_profile.py scenarios/kodak_full.yaml --limit 2 --cold --no-report
    python benchmarks/sweep_profile.py scenarios/kodak_full.yaml --limit 2 --schemes "BPG + capacity"

``--limit N`` keeps the first N images, ``--schemes`` only the named schemes, ``--cold`` starts
from an empty BPG cache (a temporary ``NTSCC_SIM_CACHE``); the BPG encodes actually run are
counted.
"""

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # profile this checkout's ntscc_sim and baselines, not an installed copy

# (label, file suffix, function names): inclusive time of the matching functions
STAGES = (
    ("sweep: all scheme runs", "ntscc_sim/sweep.py", ("run_unit", "_run_unit", "execute_unit")),
    ("  BPG encodes (x265 / bpgenc)", "baselines/bpg.py", ("_encode_x265", "_encode_bpgenc")),
    ("  BPG decodes", "baselines/bpg.py", ("decode",)),
    ("  rate matching (QP search, encodes included)", "baselines/separation/source.py", ("choose_quality",)),
    ("  NTSCC scheme run (forward passes, channel, metrics)", "ntscc_sim/schemes/ntscc.py", ("run",)),
    ("  deep JSCC scheme run (forward passes, channel, metrics)", "baselines/deep_jscc/scheme.py", ("run",)),
    ("  NTC encode / decode", "baselines/separation/ntc_codec.py", ("encode", "decode")),
    ("  LDPC chain (DigitalLink.send)", "ntscc_sim/link/digital.py", ("send",)),
    ("    LDPC encode", "ntscc_sim/fec/ldpc.py", ("encode",)),
    ("    LDPC decode", "ntscc_sim/fec/ldpc.py", ("decode",)),
    ("    QAM map + demap", "ntscc_sim/mapping/qam.py", ("__call__",)),
    ("  metrics (quality)", "ntscc_sim/metrics.py", ("quality",)),
    ("    MS-SSIM", "ntscc_sim/metrics.py", ("ms_ssim_value",)),
    ("report (tables, figures)", "ntscc_sim/report/build.py", ("build_report",)),
    ("imports", "<frozen importlib._bootstrap>", ("_find_and_load",)),
)
ENCODE_FUNCS = ("_encode_x265", "_encode_bpgenc")


def _matches(path: str, suffix: str) -> bool:
    return path.replace(os.sep, "/").endswith(suffix)


def stage_times(stats: pstats.Stats) -> dict:
    """Inclusive seconds per stage label; a function's cumulative time is counted once
    (outermost calls only, as cProfile's cumulative time already is)."""
    out = dict.fromkeys(label for label, _, _ in STAGES)
    for label, suffix, names in STAGES:
        total = 0.0
        found = False
        for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
            if func in names and _matches(path, suffix):
                total += ct
                found = True
        out[label] = total if found else None
    return out


def bpg_encodes(stats: pstats.Stats) -> int:
    """Number of BPG encodes actually run (cache misses)."""
    return sum(nc for (path, _l, func), (_cc, nc, *_rest) in stats.stats.items()
               if func in ENCODE_FUNCS and _matches(path, "baselines/bpg.py"))


def reduced_scenario(path: str, limit: int | None, schemes: list[str] | None, folder: str) -> str:
    """A copy of the scenario with ``dataset.limit`` and only the named schemes (or ``path``)."""
    if limit is None and not schemes:
        return path
    import yaml

    raw = yaml.safe_load(Path(path).read_text())
    if limit is not None:
        raw["dataset"]["limit"] = limit
    if schemes:
        missing = set(schemes) - {s["name"] for s in raw["schemes"]}
        if missing:
            raise SystemExit(f"--schemes: no scheme named {sorted(missing)} in {path}")
        raw["schemes"] = [s for s in raw["schemes"] if s["name"] in schemes]
        anchor = (raw.get("report") or {}).get("anchor")
        if anchor is not None and anchor not in schemes:
            raw["report"].pop("anchor")
    out = Path(folder) / Path(path).name
    out.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("--out", help="output folder (default: a temporary one)")
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--limit", type=int, help="only the first N images of the dataset")
    ap.add_argument("--schemes", help="comma-separated scheme names to keep (default: all)")
    ap.add_argument("--cold", action="store_true", help="empty BPG cache (a temporary NTSCC_SIM_CACHE)")
    ap.add_argument("--top", type=int, default=0, help="also print the N functions with the most own time")
    args = ap.parse_args(argv)

    work = tempfile.mkdtemp(prefix="sweep_profile_")
    out = args.out or os.path.join(work, "out")
    if args.cold:
        os.environ["NTSCC_SIM_CACHE"] = os.path.join(work, "cache")
    names = [s.strip() for s in args.schemes.split(",")] if args.schemes else None
    scenario = reduced_scenario(args.scenario, args.limit, names, work)
    from ntscc_sim.run import main as run_main

    run_args = [scenario, "--out", out, "--quiet"] + (["--no-report"] if args.no_report else [])
    load0 = os.getloadavg()[0]
    prof = cProfile.Profile(time.process_time)
    t0, c0 = time.perf_counter(), time.process_time()
    rc = prof.runcall(run_main, run_args)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stats = pstats.Stats(prof)
    print(f"{args.scenario} (limit {args.limit}, schemes {names or 'all'}, {'cold' if args.cold else 'warm'} BPG cache): "
          f"exit {rc}; {cpu:.1f} CPU s under cProfile, {wall:.1f} s wall (results in {out}); "
          f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    import ntscc_sim

    print(f"code: {Path(ntscc_sim.__file__).parent}; BPG encodes run: {bpg_encodes(stats)}")
    print(f"{'stage (inclusive, nested; CPU seconds)':<58} {'seconds':>8} {'share':>6}")
    for label, sec in stage_times(stats).items():
        if sec is not None:
            print(f"{label:<58} {sec:8.2f} {sec / cpu:6.1%}")
    if args.top:
        print()
        stats.sort_stats("tottime").print_stats(args.top)
    return rc


if __name__ == "__main__":
    sys.exit(main())
