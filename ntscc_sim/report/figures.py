"""Report figures (PNG + PDF) from aggregated curves, in the forms of the NTSCC paper.

* RD: PSNR / MS-SSIM (dB) vs CBR at each SNR (Fig. 11 / 13a-b).
* PSNR vs SNR at each CBR target (Fig. 12a-b).
* Cliff: PSNR vs test SNR per training SNR (learned) and per fixed MCS (separation) (Fig. 12c).
* Outage rate vs SNR for digital (separation) schemes.

Figures use the object-oriented matplotlib API with the Agg canvas (no pyplot
state). The spread over images is shown so that it stays readable at small n:
95 % t-intervals where a point averages at least :data:`CI_MIN_IMAGES` images,
otherwise each image's value as a small faint marker beside the mean (with
3 images a t-interval is ~4.3 standard deviations wide and hides the curves);
captions and titles say which. Outage rates get Wilson intervals. Figures without
data are skipped; vs-SNR figures need at least two SNRs.

Example
-------
>>> figs = write_figures(curves, "results/x/figures", SchemeStyles(pairs))  # doctest: +SKIP
>>> [f.png.name for f in figs]                                           # doctest: +SKIP
['rd_psnr_snr10dB.png', ...]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .bd import envelope_index
from .data import METRIC_LABELS, best_per_snr, operating_points, scheme_order, target_groups
from .style import LINESTYLES, OVERLAY_STYLE, SchemeStyles, shade

DPI = 150
#: Fewest images per point for which a 95 % t-interval is drawn; below, the images themselves.
CI_MIN_IMAGES = 10


@dataclass(frozen=True)
class FigureInfo:
    """A written figure: report section, caption and file paths."""

    section: str
    caption: str
    png: Path
    pdf: Path


def _stem(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(str(p) for p in parts)).strip("_")


def _new_fig() -> tuple[Figure, object]:
    fig = Figure(figsize=(5.4, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    return fig, ax


def _save(fig: Figure, out_dir: Path, stem: str) -> tuple[Path, Path]:
    png, pdf = out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"
    fig.savefig(png, dpi=DPI, metadata={"Software": None})
    fig.set_layout_engine("none")  # keep the layout just solved: the PDF reuses it (~1/3 of its cost)
    fig.savefig(pdf, metadata={"CreationDate": None, "Producer": None})
    return png, pdf


def _ylabel(metric: str) -> str:
    return f"{METRIC_LABELS.get(metric, metric)} (dB)"


class ImageValues:
    """Per-image metric values of each curve point, from the points table.

    ``ImageValues(points)[(scheme, config, snr_db), metric]`` -> 1-D array (empty when unknown).
    """

    def __init__(self, points: pd.DataFrame | None = None):
        self._groups = {}
        if points is not None and not points.empty:
            for key, g in points.groupby(["scheme", "config", "snr_db"], sort=False, dropna=False):
                self._groups[key] = g

    def get(self, row, metric: str) -> np.ndarray:
        g = self._groups.get((row["scheme"], row["config"], row["snr_db"]))
        if g is None or metric not in g:
            return np.empty(0)
        v = g[metric].to_numpy(float)
        return v[np.isfinite(v)]


def spread_note(curves: pd.DataFrame) -> str:
    """How figures show the spread over images, for captions."""
    n = curves["n_images"].to_numpy(float)
    n = n[np.isfinite(n)]
    if n.size == 0:
        return ""
    if n.min() >= CI_MIN_IMAGES:
        return "error bars: 95 % t-intervals over images"
    if n.max() < CI_MIN_IMAGES:
        return (f"lines: means over images; faint markers: the individual images (n = {n.max():g}); "
                f"95 % intervals only from n >= {CI_MIN_IMAGES}")
    return f"error bars: 95 % t-intervals where n >= {CI_MIN_IMAGES} images, else the individual images as faint markers"


def _title(ax, text: str, rows: pd.DataFrame) -> None:
    """Title plus a short line saying how the spread over images is drawn."""
    n = rows["n_images"].to_numpy(float) if "n_images" in rows else np.empty(0)
    n = n[np.isfinite(n)]
    if n.size and n.max() < CI_MIN_IMAGES:
        sub = f"lines: mean of {n.max():g} images; faint markers: each image"
    elif n.size and n.min() >= CI_MIN_IMAGES:
        sub = f"error bars: 95 % CI over {n.min():g}+ images"
    elif n.size:
        sub = f"error bars: 95 % CI (n >= {CI_MIN_IMAGES}); faint markers: each image (n < {CI_MIN_IMAGES})"
    else:
        sub = ""
    ax.set_title(f"{text}\n{sub}" if sub else text, fontsize=9)


def _errorbar(ax, rows: pd.DataFrame, x: str, metric: str, style: dict, label: str,
              images: ImageValues | None = None, **kw):
    """Means of ``rows`` joined by a line; 95 % intervals where n >= CI_MIN_IMAGES, else
    each image's value as a faint marker at the same x."""
    xs = rows[x].to_numpy(float)
    y = rows[metric].to_numpy(float)
    ci = rows[f"{metric}_ci95"].to_numpy(float)
    n = rows["n_images"].to_numpy(float) if "n_images" in rows else np.full(len(rows), np.inf)
    ci = np.where(np.isfinite(ci) & (n >= CI_MIN_IMAGES), ci, 0.0)
    ax.errorbar(xs, y, yerr=ci if ci.any() else None, label=label,
                color=style["color"], marker=style["marker"], linestyle=style["linestyle"],
                markersize=5, capsize=2.5, linewidth=1.4, zorder=3, **kw)
    if images is None:
        return
    px, py = [], []
    for xi, ni, (_, row) in zip(xs, n, rows.iterrows()):
        if ni < CI_MIN_IMAGES:
            v = images.get(row, metric)
            px += [xi] * len(v)
            py += list(v)
    if px:
        ax.scatter(px, py, s=14, color=style["color"], marker=style["marker"], alpha=0.45,
                   linewidths=0, zorder=2)


def _legend(ax, extra_axes=()):
    handles, labels = ax.get_legend_handles_labels()
    for a in extra_axes:
        h, lab = a.get_legend_handles_labels()
        handles += h
        labels += lab
    if handles:
        order = sorted(range(len(labels)), key=lambda i: "(overlay" in labels[i])  # overlays last
        ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=7, loc="best")


def _fmt_snr(snr: float) -> str:
    return f"{snr:g} dB"


def rd_figure(curves: pd.DataFrame, snr_db: float, metric: str, styles: SchemeStyles,
              overlays=(), images: ImageValues | None = None) -> Figure | None:
    """Quality vs CBR of all schemes at one SNR; None when there is nothing to draw.

    Each scheme's RD envelope of its operating points is drawn as a line with CI
    error bars; its other (dominated or non-selected) configurations as faint
    hollow markers. Overlays matching the SNR are drawn dotted; bpp overlays on
    a secondary top axis.
    """
    fig, ax = _new_fig()
    drawn = False
    at = curves[np.isclose(curves["snr_db"], snr_db) | (curves["snr_db"] == snr_db)]
    for scheme in scheme_order(at):
        op = operating_points(at, scheme, snr_db, metric)
        if op.empty:
            continue
        st = styles[scheme]
        idx = envelope_index(op["cbr"], op[metric])
        env = op.iloc[idx]
        _errorbar(ax, env, "cbr", metric, st, scheme, images)
        rest = at[(at["scheme"] == scheme) & np.isfinite(at[metric])].drop(index=env.index)
        if not rest.empty:
            ax.scatter(rest["cbr"], rest[metric], s=14, facecolors="none", edgecolors=st["color"],
                       marker=st["marker"], alpha=0.35, linewidths=0.8)
        drawn = True
    ax2 = None
    for k, ov in enumerate(o for o in overlays if o.at_snr(snr_db) and o.metric(metric) is not None):
        y = ov.metric(metric)
        order = np.argsort(ov.x)
        kw = dict(color=OVERLAY_STYLE["color"], linestyle=OVERLAY_STYLE["linestyle"],
                  marker=OVERLAY_STYLE["markers"][k % len(OVERLAY_STYLE["markers"])], markersize=5)
        if ov.x_kind == "cbr":
            ax.plot(ov.x[order], y[order], label=f"{ov.name} (overlay)", **kw)
        else:
            if ax2 is None:
                ax2 = ax.twiny()
                ax2.set_xlabel("bpp (overlays without CBR)", fontsize=8)
            ax2.plot(ov.x[order], y[order], label=f"{ov.name} (overlay, bpp: top axis)", **kw)
        drawn = True
    if not drawn:
        return None
    ax.set_xlabel("average CBR")
    ax.set_ylabel(_ylabel(metric))
    _title(ax, f"{METRIC_LABELS.get(metric, metric)} vs CBR, SNR = {_fmt_snr(snr_db)}", at)
    _legend(ax, [ax2] if ax2 is not None else [])
    return fig


def _finite_snrs(rows: pd.DataFrame) -> np.ndarray:
    s = rows["snr_db"].to_numpy(float)
    return np.unique(s[np.isfinite(s)])


def snr_figure(rows: pd.DataFrame, label: str, metric: str, styles: SchemeStyles,
               images: ImageValues | None = None) -> Figure | None:
    """Quality vs SNR at one CBR target (one point per scheme and SNR: its best operating point)."""
    if len(_finite_snrs(rows)) < 2:
        return None
    fig, ax = _new_fig()
    drawn = False
    for scheme in scheme_order(rows):
        pts = best_per_snr(rows, scheme, metric)
        if pts.empty:
            continue
        pts = pts[np.isfinite(pts["snr_db"].astype(float))]
        if pts.empty:
            continue
        name = f"{scheme} (CBR {pts['cbr'].mean():.3g})"
        _errorbar(ax, pts, "snr_db", metric, styles[scheme], name, images)
        drawn = True
    if not drawn:
        return None
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel(_ylabel(metric))
    _title(ax, f"{METRIC_LABELS.get(metric, metric)} vs SNR, {label}", rows)
    _legend(ax)
    return fig


def _per_snr_best(sub: pd.DataFrame, metric: str) -> pd.DataFrame:
    sub = sub[np.isfinite(sub[metric]) & np.isfinite(sub["snr_db"])]
    if sub.empty:
        return sub
    return sub.loc[sub.groupby("snr_db")[metric].idxmax()].sort_values("snr_db")


def cliff_figure(rows: pd.DataFrame, label: str, metric: str, styles: SchemeStyles,
                 images: ImageValues | None = None) -> Figure | None:
    """Quality vs test SNR: learned models per training SNR, separation per fixed MCS."""
    if len(_finite_snrs(rows)) < 2:
        return None
    curves = []  # (scheme, sub-label, rows)
    learned = rows[rows["train_snr_db"].notna() & ~rows["digital"].astype(bool)]
    for scheme in scheme_order(learned):
        s = learned[learned["scheme"] == scheme]
        for t in sorted(s["train_snr_db"].unique()):
            curves.append((scheme, f"train {t:g} dB", s[s["train_snr_db"] == t]))
    fixed = rows[rows["digital"].astype(bool) & (rows["mcs"] != "") & (rows["derived"].fillna(0) != 1)]
    for scheme in scheme_order(fixed):
        s = fixed[fixed["scheme"] == scheme]
        for mcs in dict.fromkeys(s["mcs"]):
            curves.append((scheme, mcs, s[s["mcs"] == mcs]))
    curves = [(sch, lab, _per_snr_best(r, metric)) for sch, lab, r in curves]
    curves = [c for c in curves if len(c[2]) >= 2]
    if not curves:
        return None
    fig, ax = _new_fig()
    per_scheme = {s: [c for c in curves if c[0] == s] for s in dict.fromkeys(c[0] for c in curves)}
    for scheme, group in per_scheme.items():
        base = styles[scheme]
        for i, (_, lab, pts) in enumerate(group):
            st = dict(base, color=shade(base["color"], i, len(group)),
                      linestyle=LINESTYLES[i % len(LINESTYLES)])
            _errorbar(ax, pts, "snr_db", metric, st, scheme if lab in scheme else f"{scheme} ({lab})", images)
    ax.set_xlabel("test SNR (dB)")
    ax.set_ylabel(_ylabel(metric))
    _title(ax, f"Cliff effect, {label}", rows)
    _legend(ax)
    return fig


def _wilson(p: np.ndarray, n: np.ndarray, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def outage_figure(rows: pd.DataFrame, label: str, styles: SchemeStyles) -> Figure | None:
    """Outage rate vs SNR of digital schemes, one curve per (scheme, MCS or config)."""
    dig = rows[rows["digital"].astype(bool) & rows["outage_rate"].notna()]
    if len(_finite_snrs(dig)) < 2:
        return None
    fig, ax = _new_fig()
    drawn = False
    for scheme in scheme_order(dig):
        s = dig[dig["scheme"] == scheme]
        keys = list(dict.fromkeys(s["config"]))
        for i, cfg in enumerate(keys):
            pts = s[s["config"] == cfg].sort_values("snr_db")
            pts = pts[np.isfinite(pts["snr_db"])]
            if pts.empty:
                continue
            first = pts.iloc[0]
            sub = "envelope" if first["derived"] == 1 else (first["mcs"] or cfg)
            st = dict(styles[scheme], color=shade(styles[scheme]["color"], i, len(keys)))
            x, p, n = pts["snr_db"].to_numpy(float), pts["outage_rate"].to_numpy(float), \
                pts["n_images"].to_numpy(float)
            lo, hi = _wilson(p, n)
            bars = ax.errorbar(x, p, yerr=np.maximum(np.vstack([p - lo, hi - p]), 0.0), color=st["color"],
                               marker=st["marker"], linestyle=st["linestyle"], markersize=4,
                               linewidth=1.2, capsize=2, elinewidth=0.7,
                               label=f"{scheme} ({sub})" if len(keys) > 1 and sub not in scheme else scheme)
            for col in bars[2]:
                col.set_alpha(0.35)
            drawn = True
    if not drawn:
        return None
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("outage rate")
    ax.set_title(f"Outage rate vs SNR, {label}", fontsize=10)
    _legend(ax)
    return fig


@dataclass(frozen=True)
class _FigureJob:
    """One figure to draw: ``build(*args)`` -> Figure or None, then saved as ``stem``."""

    build: object
    args: tuple
    section: str
    caption: str
    stem: str


_JOBS: list = []  # the jobs of the write_figures call in progress (inherited by forked workers)


def _render(i: int, out_dir: Path):
    job = _JOBS[i]
    fig = job.build(*job.args)
    return None if fig is None else _save(fig, out_dir, job.stem)


def _render_all(jobs, out_dir: Path, workers: int) -> list:
    """(png, pdf) or None per job; with ``workers > 1`` in forked processes (Linux), else here."""
    global _JOBS
    _JOBS = list(jobs)
    try:
        if workers > 1 and len(jobs) >= 4:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor
            from concurrent.futures.process import BrokenProcessPool

            if "fork" in mp.get_all_start_methods():
                try:
                    # fork: the workers inherit the jobs (nothing pickled but indices and paths)
                    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=mp.get_context("fork")) as pool:
                        return list(pool.map(_render, range(len(jobs)), [out_dir] * len(jobs)))
                except (BrokenProcessPool, OSError):
                    pass  # draw them here instead
        return [_render(i, out_dir) for i in range(len(jobs))]
    finally:
        _JOBS = []


def write_figures(curves: pd.DataFrame, out_dir, styles: SchemeStyles, overlays=(),
                  metrics=("psnr", "ms_ssim_db"), points: pd.DataFrame | None = None,
                  workers: int = 1) -> list[FigureInfo]:
    """Write all figures that have data under ``out_dir``; returns what was written.

    ``metrics`` lists the quality metrics for RD and vs-SNR figures; one
    without finite values is skipped. The cliff figure uses the first metric.
    ``points`` (per-image rows) lets points averaging fewer than
    :data:`CI_MIN_IMAGES` images show their images instead of an interval.
    ``workers`` > 1 draws figures in that many forked processes (same files).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = ImageValues(points)
    note = spread_note(curves)
    jobs: list[_FigureJob] = []

    def add(build, args, section, caption, stem, spread=True):
        if spread and note:
            caption = f"{caption} ({note})"
        jobs.append(_FigureJob(build, args, section, caption, stem))

    metrics = [m for m in metrics if np.isfinite(curves[m]).any()]
    snrs = sorted(curves["snr_db"].unique())
    for m in metrics:
        name = METRIC_LABELS.get(m, m)
        for snr in snrs:
            add(rd_figure, (curves, snr, m, styles, overlays, images), f"{name} vs CBR",
                f"{name} vs CBR at SNR = {_fmt_snr(snr)}", _stem("rd", m, f"snr{snr:g}dB"))
    groups = target_groups(curves)
    for m in metrics:
        name = METRIC_LABELS.get(m, m)
        for label, rows in groups:
            add(snr_figure, (rows, label, m, styles, images), f"{name} vs SNR", f"{name} vs SNR, {label}",
                _stem("vs_snr", m, label))
    if metrics:
        for label, rows in groups:
            add(cliff_figure, (rows, label, metrics[0], styles, images), "Cliff effect",
                f"{METRIC_LABELS.get(metrics[0])} vs test SNR, {label}", _stem("cliff", metrics[0], label))
    for label, rows in groups:
        add(outage_figure, (rows, label, styles), "Outage", f"Outage rate vs SNR, {label} (Wilson 95 % intervals)",
            _stem("outage", label), spread=False)
    saved = _render_all(jobs, out_dir, workers)
    return [FigureInfo(j.section, j.caption, *paths) for j, paths in zip(jobs, saved) if paths is not None]


def find_rate_maps(results_dir) -> list[Path]:
    """PNG rate-allocation maps already written under ``RESULTS_DIR/figures/rate_maps/``."""
    d = Path(results_dir) / "figures" / "rate_maps"
    return sorted(d.glob("*.png")) if d.is_dir() else []
