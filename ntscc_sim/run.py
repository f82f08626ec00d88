"""Run a scenario sweep: ``python -m ntscc_sim.run SCENARIO.yaml``.

Exit codes: 0 success, 2 invalid scenario or arguments (nothing written),
1 runtime failure, 130 interrupted (rerun to resume).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

from .config import resolve_device
from .datasets import DatasetError, build_dataset
from .executors import ExecutorError, get_executor
from .scenario import ScenarioError, load_scenario
from .files import atomic_write_json
from .store import ResultStore, snr_text

RUN_JSON = "run.json"
SUMMARY = "summary.csv"


class UsageError(Exception):
    """Invalid input detected before anything is written (exit code 2)."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m ntscc_sim.run",
        description="Run an SNR x CBR sweep described by a YAML scenario (docs/scenarios.md).",
    )
    p.add_argument("scenario", help="scenario YAML file, e.g. scenarios/quickstart.yaml")
    p.add_argument("--out", help="output folder (default: runs/<scenario name>/; the committed references live in results/)")
    p.add_argument("--overwrite", action="store_true",
                   help="recompute rows computed under another fingerprint (changed weights, code version or parameters) instead of stopping")
    p.add_argument("--prune", action="store_true",
                   help="drop the folder's rows this scenario would not compute (removed schemes, checkpoints, SNRs, "
                        "images) and forget their fingerprints, so the folder holds exactly this sweep")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override the scenario's device")
    p.add_argument("--workers", type=int, help="worker processes (local, default 1) or CPUs of a local Ray instance / "
                   "tasks in flight on a cluster (ray); results do not depend on it")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where work units run: this machine (default) or Ray tasks (docs/scaling.md)")
    p.add_argument("--address", help="ray: the cluster to join ('auto' = the one started on this machine with "
                   "`ray start --head`, or HOST:PORT); default: start a local Ray instance")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1: predictable on shared machines)")
    p.add_argument("--dry-run", action="store_true", help="validate and print the expanded sweep, compute nothing")
    p.add_argument("--no-report", action="store_true", help="skip tables and figures at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        p.error(f"--workers must be >= 1, got {args.workers}")
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    if args.address and args.executor != "ray":
        p.error("--address needs --executor ray")
    return args


def package_versions() -> dict:
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for name in ("ntscc_sim", "torch", "sionna-no-rt", "compressai", "numpy", "scipy", "av", "numba", "pytorch-msssim", "bjontegaard", "pandas", "matplotlib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5
        ).stdout.strip() or None
    except Exception:
        return None


def fingerprint(scenario: dict, schemes) -> dict:
    """What must match for results in the same folder to be comparable (see ntscc_sim.provenance)."""
    from .provenance import fingerprint as _fingerprint

    return _fingerprint(scenario, schemes)


def check_compatible(out_dir: Path, fp: dict, overwrite: bool = False):
    """Refuse to mix rows computed under another fingerprint into ``out_dir``.

    Returns what ``--overwrite`` must drop before computing: ``None`` (nothing), ``"all"``
    (seed/dataset/channel changed) or the set of stale scheme names. Without ``overwrite``
    a conflict raises :class:`UsageError` naming the scheme and what changed.
    """
    from .provenance import conflicts, read_fingerprint

    old = read_fingerprint(out_dir / RUN_JSON)
    points = out_dir / "points.csv"
    if old is None and points.is_file() and points.read_text().count("\n") > 1:
        global_change, stale = f"{points} has rows but {out_dir / RUN_JSON} records no fingerprint", {}
    else:
        global_change, stale = conflicts(old, fp)
    if not global_change and not stale:
        return None
    if overwrite:
        return "all" if global_change else set(stale)
    hint = f"rerun with --overwrite to recompute them, or choose a new --out (results in {out_dir})"
    if global_change:
        raise UsageError(f"{global_change} since the rows already in {out_dir} were computed; {hint}")
    name, change = next(iter(stale.items()))
    more = f" (and {len(stale) - 1} more scheme(s))" if len(stale) > 1 else ""
    raise UsageError(f"scheme {name!r}: {change}{more}; {hint}")


def write_summary(out_dir: Path, param_columns) -> None:
    """Per scheme x configuration x SNR: means over images (PSNR averaged in dB).

    ``param_columns`` (configuration parameters such as ``target_cbr``, ``mcs``, ``eta``) are
    grouped by, never averaged; per-image choices (``qp``, ``ntc_lambda``) are left out.
    """
    import pandas as pd

    df = pd.read_csv(out_dir / "points.csv")
    if df.empty:
        return
    params = [c for c in param_columns if c in df.columns and df[c].notna().any()]
    keys = ["scheme", "kind", "config", "snr_db"]
    spec = {
        "images": ("image", "count"),
        "cbr": ("cbr", "mean"),
        "payload_bits": ("payload_bits", "mean"),
        "side_bits": ("side_bits", "mean"),
        "psnr": ("psnr", "mean"),
        "psnr_std": ("psnr", "std"),
        "ms_ssim_db": ("ms_ssim_db", "mean"),
        "outage_rate": ("outage", "mean"),
    }
    agg = df.groupby(keys + params, sort=False, dropna=False).agg(**spec).reset_index()
    agg[keys + list(spec) + params].to_csv(out_dir / SUMMARY, index=False, float_format="%.6g")


def _banana_dispatch(args):
    """A scenario with ``experiment: banana`` (the banana-source experiment) has its own runner."""
    import yaml

    try:
        raw = yaml.safe_load(Path(args.scenario).read_text()) if Path(args.scenario).is_file() else None
    except yaml.YAMLError:
        return None
    if not (isinstance(raw, dict) and "experiment" in raw):
        return None  # an SNR x CBR sweep
    try:
        from . import banana

        if raw["experiment"] != banana.EXPERIMENT:
            raise ScenarioError("experiment", f"invalid value {raw['experiment']!r}; choose from {[banana.EXPERIMENT]} "
                                "(omit the key for an SNR x CBR sweep)")
        data = banana.validate_banana_scenario(raw)
        if args.device:
            data["device"] = args.device
        device = resolve_device(data.get("device", "auto"))
        out_dir = Path(args.out) if args.out else Path("runs") / data["name"]
        if args.dry_run:
            print(banana.describe(data))
            return 0
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        banana.run_banana(data, out_dir, device, progress=not args.quiet)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        traceback.print_exc()
        print(f"error: run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"done: {out_dir}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    banana = _banana_dispatch(args)
    if banana is not None:
        return banana
    try:
        scenario = load_scenario(args.scenario)
        data = scenario.data
        if args.device:
            data["device"] = args.device
        try:
            dataset = build_dataset(data["dataset"])
        except DatasetError as exc:
            raise ScenarioError(exc.key, str(exc)) from None
        device = resolve_device(data["device"]) if data["device"] != "cuda" else data["device"]
        from .sweep import build_schemes, default_cache_dir, expand

        out_dir = Path(args.out) if args.out else Path("runs") / scenario.name
        cache_dir = default_cache_dir()
        schemes = build_schemes(data, device, out_dir, cache_dir)
        units, order = expand(data, schemes, dataset.ids, data["run"]["batch_images"])
        if args.dry_run:
            print(f"scenario {scenario.name!r}: {len(dataset)} image(s), {len(data['snr_db'])} SNR(s) {data['snr_db']} dB, channel {data['channel']['kind']}")
            total = 0
            for s in schemes:
                n_cfg = len(s.configurations())
                n = n_cfg * len(data["snr_db"]) * len(dataset)
                total += n
                print(f"  {s.name} [{s.kind}]: {n_cfg} configuration(s) x {len(data['snr_db'])} SNR x {len(dataset)} image(s) = {n} points")
            print(f"total: {total} points in {len(units)} work units -> {out_dir}")
            return 0
        fp = fingerprint(data, schemes)
        drop = check_compatible(out_dir, fp, args.overwrite)
        if data["device"] == "cuda" and args.executor == "local":
            resolve_device("cuda")
        executor = get_executor(args.executor, workers=args.workers, threads=args.threads, address=args.address)
        if data["device"] == "cuda" and args.executor == "ray" and not executor.gpus:
            executor.close()
            raise UsageError("device: 'cuda' was asked for but the Ray cluster has no GPU")
    except (ScenarioError, UsageError, ExecutorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    try:
        return _execute(args, scenario, data, dataset, schemes, units, order, out_dir, cache_dir, device, fp, executor, drop)
    except ExecutorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished points are saved in {out_dir}/points.csv — rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # runtime failure
        traceback.print_exc()
        print(f"error: run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        executor.close()


def _row_filter(drop):
    """Predicate on a row's ``scheme`` cell for :meth:`ResultStore.open` (None: keep all)."""
    if not drop:
        return None
    if drop == "all":
        return lambda scheme: True
    return lambda scheme: any(scheme == n or scheme.startswith(f"{n} [") for n in drop)


def _execute(args, scenario, data, dataset, schemes, units, order, out_dir, cache_dir, device, fp, executor, drop=None) -> int:
    from tqdm import tqdm

    from .executors import SweepJob
    from .schemes.base import BASE_COLUMNS
    from .sweep import columns_for

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    from .provenance import merge, read_fingerprint

    if drop:
        print(f"--overwrite: dropping the rows of {'every scheme' if drop == 'all' else sorted(drop)} in {out_dir}", file=sys.stderr)
    old_fp = None if drop == "all" or args.prune else read_fingerprint(out_dir / RUN_JSON)
    store = ResultStore(out_dir, columns_for(schemes)).open(drop=_row_filter(drop), keep_keys=set(order) if args.prune else None)
    if args.prune:
        print(f"--prune: {out_dir} keeps only the rows of this sweep", file=sys.stderr)
    fp = merge(old_fp, fp)
    run_info = {
        "status": "running",
        "scenario": data,
        "scenario_file": scenario.path,
        "seed": data["seed"],
        "device": device,
        "workers": args.workers,
        "executor": args.executor,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "fingerprint": fp,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_json(out_dir / RUN_JSON, run_info)

    pending = []
    for u in units:
        todo = tuple(i for i in u.images if not store.has(u.scheme, u.config_key, u.snr_db, i))
        if todo:
            pending.append(type(u)(u.scheme_index, u.scheme, u.kind, u.config, u.snr_db, todo))
    n_points = sum(len(u.images) for u in pending)
    print(f"{scenario.name}: {len(order)} points, {len(order) - n_points} already done, {n_points} to compute -> {out_dir}", file=sys.stderr)

    scheme_seconds: dict[str, float] = {}
    bar = tqdm(total=n_points, unit="pt", disable=args.quiet, dynamic_ncols=True, file=sys.stderr)
    job = SweepJob(data, device, str(out_dir), cache_dir, args.threads, dataset, schemes)
    ts = time.time()
    for u, rows in executor.map_units(pending, job):
        scheme_seconds[u.scheme] = scheme_seconds.get(u.scheme, 0.0) + time.time() - ts
        ts = time.time()
        store.append(rows)
        bar.set_postfix_str(f"{executor.status()} | {u.scheme} {u.config_key} {snr_text(u.snr_db)} dB", refresh=False)
        bar.update(len(rows))
    bar.close()

    # derived rows (e.g. MCS envelopes), canonical order, summary, report
    import pandas as pd

    points = pd.read_csv(out_dir / "points.csv", keep_default_na=True)
    derived = []
    for s in schemes:
        derived.extend(s.derived_rows(points))
    store.finalize(order, derived)
    per_image = {c for s in schemes for c in s.PER_IMAGE_COLUMNS}
    param_cols = [c for c in store.columns if c not in (*BASE_COLUMNS, "derived", *per_image)]
    write_summary(out_dir, param_cols)
    run_info.update(
        status="complete",
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        timings={"total_s": round(time.time() - t0, 3), "per_scheme_s": {k: round(v, 3) for k, v in scheme_seconds.items()}},
        points=len(order),
    )
    atomic_write_json(out_dir / RUN_JSON, run_info)
    if not args.no_report and data["report"]["enabled"]:
        from ._threads import available_cpus
        from .report import build_report

        try:
            build_report(out_dir, anchor=data["report"]["anchor"], metric=data["report"]["metric"],
                         formats=tuple(data["report"]["formats"]), overlays=tuple(data["report"]["overlay"]),
                         workers=available_cpus(), extra_anchors=data["report"]["extra_anchors"],
                         min_points=data["report"]["min_points"], bd_cbr_range=data["report"]["bd_cbr_range"])
        except Exception as exc:
            print(f"error: the sweep is complete but the report failed ({type(exc).__name__}: {exc}); "
                  f"rerun: python -m ntscc_sim.report {out_dir}", file=sys.stderr)
            return 1
    print(f"done: {out_dir}/points.csv ({len(order)} points), summary.csv, run.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
