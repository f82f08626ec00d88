"""Reporting layer: BD-rate tables and figures from a results folder.

Reads only result files (``points.csv``, optional ``run.json``), never recomputes.
See ``docs/reports.md``.

Example
-------
>>> from ntscc_sim.report import build_report
>>> out = build_report("results/quickstart", formats=("md", "csv", "html"))  # doctest: +SKIP
>>> out["bd"].head()                                                         # doctest: +SKIP

Command line::

    python -m ntscc_sim.report RESULTS_DIR [--anchor NAME] [--metric psnr|ms_ssim_db]
        [--format md,csv,tex,html] [--overlay FILE.json ...] [--method pchip|cubic|akima]
"""

from .bd import BDResult, bd_metrics, bd_table, envelope_index, rd_envelope
from .build import build_report, resolve_anchor
from .data import ReportInputError, aggregate_curves, read_points, read_run_info
from .overlay import Overlay, load_overlay
from .style import SchemeStyles

__all__ = ["build_report", "resolve_anchor", "bd_metrics", "bd_table", "BDResult", "rd_envelope",
           "envelope_index", "aggregate_curves", "read_points", "read_run_info", "ReportInputError",
           "load_overlay", "Overlay", "SchemeStyles"]
