"""Assemble the report of one results folder: BD tables, curves, figures, report.md/html.

Example
-------
>>> out = build_report("results/quickstart")          # doctest: +SKIP
>>> out["anchor"], out["files"]["bd_csv"]              # doctest: +SKIP
('BPG + LDPC', 'results/quickstart/bd.csv')
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .bd import METHODS, MIN_POINTS, bd_table, check_cbr_range, format_cbr_range
from .data import (METRIC_LABELS, ReportInputError, aggregate_curves, read_points, read_run_info,
                   scheme_order, side_info_notes)
from .figures import find_rate_maps, write_figures
from .overlay import load_overlay
from .render import to_html, to_markdown
from .style import SchemeStyles
from .tables import Table, bd_display_table, curve_table, kv_table

FORMATS = ("md", "csv", "tex", "html")


def _parse_formats(formats) -> set[str]:
    if isinstance(formats, str):
        formats = formats.split(",")
    fmts = {f.strip().lower() for f in formats if f and f.strip()}
    bad = fmts - set(FORMATS)
    if bad:
        raise ValueError(f"unknown format(s) {sorted(bad)}; choose from {FORMATS}")
    return fmts


def _scheme_matcher(curves: pd.DataFrame):
    """``match(name) -> scheme or None``: display name (exact, then case-insensitive) or unique kind."""
    schemes = scheme_order(curves)
    kinds = curves.drop_duplicates("scheme").set_index("scheme")["kind"]

    def match(name: str) -> str | None:
        if name in schemes:
            return name
        for cands in ([s for s in schemes if s.lower() == name.lower()],
                      [s for s in schemes if kinds[s].lower() == name.lower()]):
            if len(cands) == 1:
                return cands[0]
        return None

    return match, schemes


def _report_config(run_info: dict) -> dict:
    scen = run_info.get("scenario") if isinstance(run_info.get("scenario"), dict) else {}
    return scen.get("report") if isinstance(scen.get("report"), dict) else {}


def resolve_anchor(curves: pd.DataFrame, anchor: str | None, run_info: dict) -> tuple[str, list[str]]:
    """Pick the BD anchor: explicit name, else run.json ``scenario.report.anchor``, else first scheme.

    A name matches a scheme display name (exactly, then case-insensitively) or a
    ``kind`` held by exactly one scheme. An explicit unknown anchor raises
    ReportInputError; an unknown run.json anchor falls back with a warning.
    """
    match, schemes = _scheme_matcher(curves)
    if anchor:
        found = match(str(anchor))
        if found is None:
            raise ReportInputError(f"anchor {anchor!r} is not a scheme in points.csv ({', '.join(schemes)})")
        return found, []
    cfg = _report_config(run_info).get("anchor")
    if cfg:
        found = match(str(cfg))
        if found is not None:
            return found, []
        msg = f"run.json anchor {cfg!r} not found among schemes; using {schemes[0]!r}"
        warnings.warn(msg, stacklevel=2)
        return schemes[0], [msg]
    return schemes[0], []


def resolve_extra_anchors(curves: pd.DataFrame, extra, run_info: dict, anchor: str) -> tuple[list[str], list[str]]:
    """Further BD references: explicit names, else run.json ``scenario.report.extra_anchors``.

    Same matching as :func:`resolve_anchor`; an explicit unknown name raises
    ReportInputError, an unknown run.json name is skipped with a warning. The
    headline anchor and repeats are dropped.
    """
    match, schemes = _scheme_matcher(curves)
    explicit = extra is not None
    names = list(extra) if explicit else _report_config(run_info).get("extra_anchors") or []
    if isinstance(names, str):
        names = [names]
    out, warns = [], []
    for name in names:
        found = match(str(name))
        if found is None:
            if explicit:
                raise ReportInputError(f"extra anchor {name!r} is not a scheme in points.csv ({', '.join(schemes)})")
            msg = f"run.json extra anchor {name!r} not found among schemes; skipped"
            warnings.warn(msg, stacklevel=2)
            warns.append(msg)
        elif found != anchor and found not in out:
            out.append(found)
    return out, warns


def resolve_cbr_range(cbr_range, run_info: dict) -> tuple[float, float] | None:
    """BD CBR range: explicit ``(lo, hi)``, else run.json ``scenario.report.bd_cbr_range``, else None.

    Raises ReportInputError naming ``bd_cbr_range`` unless 0 < lo < hi.
    """
    value = cbr_range if cbr_range is not None else _report_config(run_info).get("bd_cbr_range")
    try:
        return check_cbr_range(value, "bd_cbr_range")
    except ValueError as exc:
        where = "" if cbr_range is not None else "run.json report."
        raise ReportInputError(where + str(exc)) from None


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            s = v if isinstance(v, str) else json.dumps(v, default=str)
            out[key] = s if len(s) <= 160 else s[:157] + "..."
    return out


def _blocks(results_dir: Path, info: dict, points: pd.DataFrame, curves: pd.DataFrame, bd: pd.DataFrame,
            pairs_bd: list[tuple[str, str]], anchor: str, method: str, min_points: int,
            cbr_range: tuple[float, float] | None, figs, rate_maps, overlays, warns) -> tuple[list, str]:
    scen = info.get("scenario") if isinstance(info.get("scenario"), dict) else {}
    name = str(scen.get("name") or results_dir.name)
    b = [("h", 1, f"ntscc_sim report: {name}"),
         ("p", f"Results folder: {results_dir}. Built by ntscc_sim.report from result files only "
               f"(points.csv{', run.json' if info else ''}); nothing is recomputed.")]
    b.append(("h", 2, "Scenario"))
    summary = {"schemes": ", ".join(scheme_order(points)),
               "SNRs (dB)": ", ".join(f"{s:g}" for s in sorted(points["snr_db"].unique())),
               "images": points["image"].nunique(), "rows in points.csv": len(points)}
    for k in ("seed", "git_commit"):
        if k in info:
            summary[k] = info[k]
    if cbr_range:
        summary["BD CBR range"] = format_cbr_range(cbr_range, "–")
    b.append(("table", kv_table(summary)))
    if scen:
        b.append(("table", Table(["Scenario field", "Value"],
                                 [[k, v] for k, v in _flatten(scen).items()], align_right=False)))
    b.append(("h", 2, "BD-CBR / BD-quality (Table I form)"))
    others = list(dict.fromkeys(a for a, _ in pairs_bd if a != anchor))
    b.append(("p", f"Anchor: {anchor}" + (f" (also against: {', '.join(others)})" if others else "")
                   + f". Interpolation: {method} (bjontegaard package) over log10 CBR, "
                   "integrated over the overlapping range only. Each curve is the scheme's upper RD "
                   "envelope of its operating points at that SNR"
                   + (f", clipped to CBR {format_cbr_range(cbr_range, '–')} (boundary points by PCHIP)"
                      if cbr_range else "")
                   + f", and needs at least {min_points} points. "
                   "Negative BD-CBR = bandwidth saving; positive BD-quality = gain."))
    for a, m in pairs_bd:
        b.append(("h", 3, f"BD-CBR and BD-{METRIC_LABELS[m]}" + (f" against {a}" if a != anchor else "")))
        b.append(("table", bd_display_table(bd, m, side_info_notes(points, info), anchor=a, cbr_range=cbr_range)))
    if figs:
        b.append(("h", 2, "Figures"))
        for section in dict.fromkeys(f.section for f in figs):
            b.append(("h", 3, section))
            b += [("img", f.png, f.caption) for f in figs if f.section == section]
    if rate_maps:
        b.append(("h", 2, "Rate-allocation maps"))
        b += [("img", p, p.stem) for p in rate_maps]
    if overlays:
        b.append(("h", 2, "Overlays"))
        b.append(("table", Table(["Name", "x", "SNR (dB)", "Points", "Source"],
                                 [[o.name, o.x_kind, "all" if o.snr_db is None else f"{o.snr_db:g}",
                                   str(len(o.x)), o.source] for o in overlays])))
    b.append(("h", 2, "RD points"))
    b.append(("table", curve_table(curves)))
    versions = info.get("versions")
    if isinstance(versions, dict) and versions:
        b.append(("h", 2, "Versions"))
        b.append(("table", kv_table(_flatten(versions), "Package", "Version")))
    timings = info.get("timings")
    if isinstance(timings, dict) and timings:
        b.append(("h", 2, "Run time"))
        b.append(("table", kv_table(_flatten(timings), "Stage", "Time")))
    if warns:
        b.append(("h", 2, "Warnings"))
        b += [("p", w) for w in warns]
    return b, name


def build_report(results_dir, anchor: str | None = None, metric: str = "psnr",
                 formats=("md", "csv", "html"), overlays=(), method: str = "pchip",
                 figures: bool = True, workers: int = 1, extra_anchors=None,
                 min_points: int | None = None, bd_cbr_range=None) -> dict:
    """Build BD tables, curve table, figures and report files for one results folder.

    Parameters
    ----------
    results_dir : path with ``points.csv`` (and optionally ``run.json``).
    anchor : BD anchor scheme (display name or unique kind); default from run.json, else first scheme.
    metric : "psnr" or "ms_ssim_db": the headline metric (the other is added when it has data).
    formats : subset of {"md", "csv", "tex", "html"} (iterable or comma string).
        csv: ``bd.csv``, ``curves.csv``; md: ``bd.md``, ``report.md``; tex: ``bd.tex``;
        html: ``report.html`` (figures inline).
    overlays : paths of overlay files (see :mod:`ntscc_sim.report.overlay`).
    method : BD interpolation, "pchip" | "cubic" | "akima".
    figures : write figures (PNG + PDF) under ``RESULTS_DIR/figures/``.
    workers : processes drawing figures (> 1: forked workers on Linux; same files).
    extra_anchors : further BD references (names as for ``anchor``); every scheme is also
        compared with each. Default from run.json ``report.extra_anchors``, else none.
    min_points : points each RD envelope needs for a BD value (>= 3; default from run.json
        ``report.min_points``, else 4).
    bd_cbr_range : ``(lo, hi)``, 0 < lo < hi: BD values only over CBR in [lo, hi] (see
        :mod:`ntscc_sim.report.bd`); default from run.json ``report.bd_cbr_range``, else none.

    Returns
    -------
    dict with ``anchor``, ``extra_anchors``, ``min_points``, ``bd_cbr_range`` (tuple or None), ``metrics``,
    ``method``, ``bd`` (DataFrame, bd.csv columns),
    ``curves`` (DataFrame), ``figures`` (list of PNG paths), ``files`` (name -> path),
    ``warnings`` (list of str).

    Raises
    ------
    ReportInputError
        Missing folder / points.csv / required columns, bad overlay, unknown anchor,
        bad ``bd_cbr_range``, or no values of the requested metric.
    """
    results_dir = Path(results_dir)
    fmts = _parse_formats(formats)
    if metric not in METRIC_LABELS:
        raise ValueError(f"metric must be one of {tuple(METRIC_LABELS)}, got {metric!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    points = read_points(results_dir)
    info = read_run_info(results_dir)
    ovs = [o for p in overlays for o in load_overlay(p)]
    curves = aggregate_curves(points)
    if not np.isfinite(curves[metric]).any():
        raise ReportInputError(f"{results_dir / 'points.csv'} has no {metric} values")
    anchor_name, warns = resolve_anchor(curves, anchor, info)
    extras, more = resolve_extra_anchors(curves, extra_anchors, info, anchor_name)
    warns += more
    if min_points is None:
        min_points = _report_config(info).get("min_points") or MIN_POINTS
    if int(min_points) < 3:
        raise ValueError(f"min_points must be >= 3, got {min_points}")
    min_points = int(min_points)
    cbr_range = resolve_cbr_range(bd_cbr_range, info)
    metrics = [metric]
    for m in METRIC_LABELS:
        if m != metric and np.isfinite(curves[m]).any():
            if np.isfinite(curves.loc[curves["scheme"] == anchor_name, m]).any():
                metrics.append(m)
            else:
                warns.append(f"BD for {METRIC_LABELS[m]} skipped: anchor {anchor_name!r} has no "
                             f"{METRIC_LABELS[m]} values (figures still drawn)")
    pairs_bd = [(anchor_name, m) for m in metrics]
    for a in extras:
        for m in metrics:
            if np.isfinite(curves.loc[curves["scheme"] == a, m]).any():
                pairs_bd.append((a, m))
            else:
                warns.append(f"BD for {METRIC_LABELS[m]} against {a!r} skipped: no {METRIC_LABELS[m]} values")
    bd = pd.concat([bd_table(curves, a, m, method, min_points, cbr_range) for a, m in pairs_bd],
                   ignore_index=True)

    pairs = list(curves.drop_duplicates("scheme")[["scheme", "kind"]].itertuples(index=False, name=None))
    fig_metrics = [metric] + [m for m in METRIC_LABELS if m != metric and np.isfinite(curves[m]).any()]
    figs = (write_figures(curves, results_dir / "figures", SchemeStyles(pairs), ovs, fig_metrics, points,
                          workers=workers) if figures else [])
    rate_maps = find_rate_maps(results_dir)

    files: dict[str, str] = {}

    def write(key: str, fname: str, text: str):
        path = results_dir / fname
        path.write_text(text, encoding="utf-8")
        files[key] = str(path)

    if "csv" in fmts:
        bd.to_csv(results_dir / "bd.csv", index=False)
        files["bd_csv"] = str(results_dir / "bd.csv")
        curves.to_csv(results_dir / "curves.csv", index=False)
        files["curves_csv"] = str(results_dir / "curves.csv")
    tables = [bd_display_table(bd, m, side_info_notes(points, info), anchor=a, cbr_range=cbr_range)
              for a, m in pairs_bd]
    if "md" in fmts:
        write("bd_md", "bd.md", "\n\n".join(f"**{t.caption}**\n\n{t.to_markdown()}" for t in tables) + "\n")
    if "tex" in fmts:
        write("bd_tex", "bd.tex", "\n\n".join(t.to_latex() for t in tables) + "\n")
    if fmts & {"md", "html"}:
        blocks, title = _blocks(results_dir, info, points, curves, bd, pairs_bd, anchor_name, method,
                                min_points, cbr_range, figs, rate_maps, ovs, warns)
        if "md" in fmts:
            write("report_md", "report.md", to_markdown(blocks, results_dir))
        if "html" in fmts:
            write("report_html", "report.html", to_html(blocks, f"ntscc_sim report: {title}"))
    return {"results_dir": str(results_dir), "anchor": anchor_name, "extra_anchors": extras,
            "min_points": min_points, "bd_cbr_range": cbr_range, "metrics": metrics, "method": method,
            "bd": bd, "curves": curves, "figures": [str(f.png) for f in figs], "files": files,
            "warnings": warns}
