"""CLI: ``python -m ntscc_sim.report RESULTS_DIR [options]`` (exit code 2 on bad input)."""

from __future__ import annotations

import argparse
import sys

from .._threads import available_cpus
from .bd import METHODS, check_cbr_range
from .build import FORMATS, build_report
from .data import METRIC_LABELS, ReportInputError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ntscc_sim.report",
                                description="BD-rate tables, figures and report.md/html for a results folder.")
    p.add_argument("results_dir", help="folder holding points.csv (and optionally run.json)")
    p.add_argument("--anchor", default=None, help="BD anchor scheme (default: run.json report.anchor, else first)")
    p.add_argument("--extra-anchor", action="append", default=None, metavar="NAME",
                   help="also compare every scheme with NAME (repeatable; default: run.json report.extra_anchors)")
    p.add_argument("--min-points", type=int, default=None,
                   help="points each RD curve needs for a BD value (>= 3; default: run.json report.min_points, else 4)")
    p.add_argument("--bd-cbr-range", nargs=2, default=None, metavar=("LO", "HI"),
                   help="BD values only over CBR in [LO, HI] (e.g. 1/64 1/16; default: run.json "
                        "report.bd_cbr_range, else the curves' overlap)")
    p.add_argument("--metric", default="psnr", choices=tuple(METRIC_LABELS), help="headline quality metric")
    p.add_argument("--format", default="md,csv,html", help=f"comma list of {','.join(FORMATS)}")
    p.add_argument("--overlay", action="extend", nargs="+", default=[], metavar="FILE",
                   help="CompressAI-style JSON or CSV (cbr, psnr[, name, snr_db]) curves for the RD figures")
    p.add_argument("--method", default="pchip", choices=METHODS, help="BD interpolation")
    p.add_argument("--no-figures", action="store_true", help="skip writing figures")
    p.add_argument("--workers", type=int, default=None, help="processes drawing figures (default: all CPUs)")
    a = p.parse_args(argv)
    if a.workers is not None and a.workers < 1:
        p.error(f"--workers must be >= 1, got {a.workers}")
    if a.min_points is not None and a.min_points < 3:
        p.error(f"--min-points must be >= 3, got {a.min_points}")
    try:
        cbr_range = check_cbr_range(a.bd_cbr_range, "--bd-cbr-range")
    except ValueError as exc:
        p.error(str(exc))
    try:
        out = build_report(a.results_dir, anchor=a.anchor, metric=a.metric, formats=a.format,
                           overlays=a.overlay, method=a.method, figures=not a.no_figures,
                           workers=a.workers or available_cpus(), extra_anchors=a.extra_anchor,
                           min_points=a.min_points, bd_cbr_range=cbr_range)
    except ReportInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad --format
        p.error(str(exc))
    from .tables import bd_display_table

    for anchor in [out["anchor"]] + out["extra_anchors"]:
        for m in out["metrics"]:
            if ((out["bd"]["anchor"] == anchor) & (out["bd"]["metric"] == m)).any():
                t = bd_display_table(out["bd"], m, anchor=anchor, cbr_range=out["bd_cbr_range"])
                print(f"**{t.caption}**\n\n{t.to_markdown()}", end="\n\n")
    for w in out["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    also = f" (also against: {', '.join(out['extra_anchors'])})" if out["extra_anchors"] else ""
    print(f"anchor: {out['anchor']}{also}; {len(out['figures'])} figure(s)")
    for k, v in out["files"].items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
