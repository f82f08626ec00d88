"""Report tables (BD in the paper's Table I form, curve table) rendered to md / tex / html.

Example
-------
>>> t = Table(["Method", "BD-CBR"], [["NTSCC", "-17.96%"]])
>>> print(t.to_markdown())
| Method | BD-CBR |
|:--|--:|
| NTSCC | -17.96% |
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .bd import format_cbr_range
from .data import METRIC_LABELS, scheme_order

_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "–": "--"}


def tex_escape(s: str) -> str:
    """Escape LaTeX special characters."""
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(s))


@dataclass
class Table:
    """A small table of strings.

    ``groups`` optionally spans header groups over columns: ``[(label, span), ...]``
    with spans summing to ``len(columns)``; ``footnotes`` are numbered [1], [2], ...
    """

    columns: list[str]
    rows: list[list[str]]
    groups: list[tuple[str, int]] | None = None
    caption: str = ""
    footnotes: list[str] = field(default_factory=list)
    align_right: bool = True  # numeric columns (all but the first) right-aligned

    def _flat_columns(self) -> list[str]:
        if not self.groups:
            return list(self.columns)
        names, i = [], 0
        for label, span in self.groups:
            for c in self.columns[i:i + span]:
                names.append(f"{label} {c}".strip())
            i += span
        return names

    def _notes(self, fmt) -> list[str]:
        return [fmt(f"[{k}] {n}") for k, n in enumerate(self.footnotes, 1)]

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown (header groups flattened into column names)."""
        cols = self._flat_columns()
        esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
        lines = ["| " + " | ".join(esc(c) for c in cols) + " |",
                 "|" + "|".join([":--"] + ["--:" if self.align_right else ":--"] * (len(cols) - 1)) + "|"]
        lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in self.rows]
        if self.footnotes:
            lines += [""] + self._notes(lambda s: s + "  ")
        return "\n".join(lines)

    def to_latex(self) -> str:
        """A booktabs ``table`` with multicolumn header groups."""
        n = len(self.columns)
        out = [r"\begin{table}[t]", r"\centering"]
        if self.caption:
            out.append(r"\caption{" + tex_escape(self.caption) + "}")
        out += [r"\begin{tabular}{l" + "r" * (n - 1) + "}", r"\toprule"]
        if self.groups:
            cells, rules, i = [], [], 1
            for label, span in self.groups:
                cells.append(r"\multicolumn{%d}{c}{%s}" % (span, tex_escape(label)) if span > 1
                             else tex_escape(label))
                if label and span > 1:
                    rules.append(r"\cmidrule(lr){%d-%d}" % (i, i + span - 1))
                i += span
            out += [" & ".join(cells) + r" \\", " ".join(rules)]
        out.append(" & ".join(tex_escape(c) for c in self.columns) + r" \\")
        out.append(r"\midrule")
        out += [" & ".join(tex_escape(c) for c in r) + r" \\" for r in self.rows]
        out += [r"\bottomrule", r"\end{tabular}"]
        if self.footnotes:
            out.append(r"\par\footnotesize " + r"\\ ".join(tex_escape(s) for s in self._notes(str)))
        out.append(r"\end{table}")
        return "\n".join(out)

    def to_html(self) -> str:
        """An HTML ``<table>`` with colspan header groups."""
        e = html.escape
        out = ["<table>"]
        if self.caption:
            out.append(f"<caption>{e(self.caption)}</caption>")
        out.append("<thead>")
        if self.groups:
            out.append("<tr>" + "".join(f'<th colspan="{s}">{e(g)}</th>' for g, s in self.groups) + "</tr>")
        out.append("<tr>" + "".join(f"<th>{e(c)}</th>" for c in self.columns) + "</tr></thead><tbody>")
        for r in self.rows:
            out.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>")
        out.append("</tbody></table>")
        if self.footnotes:
            out.append('<p class="notes">' + "<br>".join(e(s) for s in self._notes(str)) + "</p>")
        return "\n".join(out)


def _num(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def bd_display_table(bd: pd.DataFrame, metric: str = "psnr", scheme_notes: dict | None = None,
                     anchor: str | None = None, cbr_range: tuple[float, float] | None = None) -> Table:
    """BD results (long form, one metric) as the paper's Table I: schemes x (SNR x {BD-CBR, BD-q}).

    Cells without a number read ``n/a [k]`` with footnote k giving the reason;
    numbers that carry a note (e.g. partial overlap) get a footnote marker too.
    ``scheme_notes`` (scheme -> text, e.g. :func:`~ntscc_sim.report.data.side_info_notes`)
    footnotes the method name. ``anchor`` selects the rows of one anchor (default: the first).
    ``cbr_range``: the CBR range the BD values were restricted to, named in the caption.
    """
    label = METRIC_LABELS.get(metric, metric)
    sub = bd[bd["metric"] == metric]
    if anchor is None:
        anchor = sub["anchor"].iloc[0] if len(sub) else ""
    sub = sub[sub["anchor"] == anchor]
    snrs = sorted(sub["snr_db"].unique())
    notes: list[str] = []

    def mark(note: str) -> str:
        if note not in notes:
            notes.append(note)
        return f"[{notes.index(note) + 1}]"

    rows = []
    for scheme in scheme_order(sub):
        row = [scheme + (" (anchor)" if scheme == anchor else "")]
        if scheme_notes and scheme in scheme_notes:
            row[0] += " " + mark(scheme_notes[scheme])
        for snr in snrs:
            r = sub[(sub["scheme"] == scheme) & (sub["snr_db"] == snr)]
            if r.empty:
                row += ["", ""]
                continue
            r = r.iloc[0]
            note = str(r.get("note", "") or "")
            note = "; ".join(p for p in note.split("; ") if p and p != "anchor")
            cbr = f"{r['bd_cbr_pct']:.2f}%" if _num(r["bd_cbr_pct"]) else "n/a"
            q = f"{r['bd_psnr_db']:.2f}" if _num(r["bd_psnr_db"]) else "n/a"
            if note:
                m = mark(note)
                if cbr == "n/a" or q != "n/a":
                    cbr += f" {m}"
                if q == "n/a":
                    q += f" {m}"
            row += [cbr, q]
        rows.append(row)
    cols = ["Method"] + [c for _ in snrs for c in ("BD-CBR", f"BD-{label} (dB)")]
    groups = [("", 1)] + [(f"SNR = {s:g} dB", 2) for s in snrs]
    where = f"overlap within CBR {format_cbr_range(cbr_range, '–')}" if cbr_range else "overlap range only"
    cap = f"BD-CBR and BD-{label} against {anchor} (log-CBR axis, {where})"
    return Table(cols, rows, groups, cap, notes)


def _f(v, fmt: str) -> str:
    return format(v, fmt) if _num(v) and np.isfinite(v) else ""


def curve_table(curves: pd.DataFrame) -> Table:
    """One row per curve point: scheme, SNR, config, n, CBR, PSNR +- CI, MS-SSIM +- CI, outage."""
    has_ms = bool(np.isfinite(curves["ms_ssim_db"]).any())
    has_out = bool(curves["outage_rate"].notna().any())
    cols = ["Scheme", "SNR (dB)", "Config", "n", "CBR", "PSNR (dB)", "PSNR CI95"]
    cols += ["MS-SSIM (dB)", "MS-SSIM CI95"] if has_ms else []
    cols += ["Outage"] if has_out else []
    rows = []
    for _, r in curves.iterrows():
        row = [r["scheme"], f"{r['snr_db']:g}", r["config"] + (" (derived)" if r["derived"] == 1 else ""),
               str(int(r["n_images"])), _f(r["cbr"], ".4f"), _f(r["psnr"], ".2f"),
               ("±" + _f(r["psnr_ci95"], ".2f")) if _num(r["psnr_ci95"]) else ""]
        if has_ms:
            row += [_f(r["ms_ssim_db"], ".2f"),
                    ("±" + _f(r["ms_ssim_db_ci95"], ".2f")) if _num(r["ms_ssim_db_ci95"]) else ""]
        if has_out:
            row += [_f(r["outage_rate"], ".3f")]
        rows.append(row)
    return Table(cols, rows, caption="RD points (mean over images; CI95: 95 % t-interval half width)")


def kv_table(items: dict, key: str = "Field", value: str = "Value") -> Table:
    """Two-column table from a flat dict."""
    return Table([key, value], [[str(k), str(v)] for k, v in items.items()], align_right=False)
