"""Bjontegaard deltas (BD-CBR, BD-PSNR) between RD curves, via the ``bjontegaard`` package.

The rate axis is the CBR on a log10 scale; the integral runs over the overlap of
the two curves only (the package's definition). BD-CBR is the average CBR
change of the test curve at equal quality (negative = bandwidth saving);
BD-PSNR the average quality gain at equal CBR (dB; for ``ms_ssim_db`` it is a
BD-MS-SSIM in dB).

With ``cbr_range=(lo, hi)`` each envelope is first clipped to [lo, hi] on the CBR
axis: points inside are kept and, where the envelope spans a boundary, a point at
that boundary is added (quality by PCHIP on log10 CBR over the whole envelope).
BD-PSNR then integrates over [max(lo, overlap start), min(hi, overlap end)] in
log-CBR, BD-CBR over the quality overlap of the clipped curves. Envelope points
outside the range, except the two nearest on each side (they shape the PCHIP
boundary value), then no longer move the values.

Example
-------
>>> import numpy as np
>>> cbr = np.array([0.02, 0.04, 0.08, 0.16]); q = np.array([26.0, 29.0, 31.5, 33.0])
>>> r = bd_metrics(cbr, q, 0.8 * cbr, q)
>>> round(r.bd_cbr_pct, 6), round(r.bd_psnr_db, 3) > 0
(-20.0, True)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import bjontegaard
import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

from ..scenario.fields import cbr_range
from .data import METRIC_LABELS, operating_points, scheme_order

METHODS = ("pchip", "cubic", "akima")
MIN_POINTS = 4
#: Below this relative overlap a BD value is still given, with a note.
LOW_OVERLAP = 0.75
_RTOL = 1e-9  # CBR this close (relative) to a range boundary counts as on it
BD_COLUMNS = ["scheme", "anchor", "snr_db", "metric", "bd_cbr_pct", "bd_psnr_db", "note"]


@dataclass(frozen=True)
class BDResult:
    """BD values of a test curve against an anchor; ``None`` where not computable."""

    bd_cbr_pct: float | None
    bd_psnr_db: float | None
    note: str = ""


def envelope_index(cbr, quality) -> np.ndarray:
    """Indices of the upper RD envelope: points not dominated by one with lower-or-equal CBR.

    Parameters: 1-D float arrays of equal length (NaN / non-positive CBR never kept).
    Returns int indices ordered by CBR; CBR and quality are strictly increasing along them.
    """
    cbr = np.asarray(cbr, dtype=float)
    quality = np.asarray(quality, dtype=float)
    ok = np.flatnonzero(np.isfinite(cbr) & (cbr > 0) & np.isfinite(quality))
    order = ok[np.lexsort((-quality[ok], cbr[ok]))]
    keep, best = [], -np.inf
    for i in order:
        if quality[i] > best and not (keep and cbr[i] == cbr[keep[-1]]):
            keep.append(i)
            best = quality[i]
    return np.array(keep, dtype=int)


def rd_envelope(cbr, quality) -> tuple[np.ndarray, np.ndarray]:
    """(cbr, quality) of the upper RD envelope (see :func:`envelope_index`), sorted by CBR."""
    idx = envelope_index(cbr, quality)
    return np.asarray(cbr, dtype=float)[idx], np.asarray(quality, dtype=float)[idx]


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Overlap of the ranges of a and b relative to their union (0 when disjoint)."""
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    span = max(a.max(), b.max()) - min(a.min(), b.min())
    return max(hi - lo, 0.0) / span if span > 0 else 0.0


def check_cbr_range(value, name: str = "cbr_range") -> tuple[float, float] | None:
    """``(lo, hi)`` as floats with 0 < lo < hi (numbers or strings such as ``"1/64"``); None passes.

    Raises ValueError naming ``name`` and the value (``ntscc_sim.scenario.fields.cbr_range``).
    """
    return None if value is None else cbr_range(value, name)


def format_cbr_range(cbr_range: tuple[float, float], sep: str = "-") -> str:
    """``0.0156-0.0625``: the range as shown in notes (``sep="–"`` in captions)."""
    return f"{cbr_range[0]:.3g}{sep}{cbr_range[1]:.3g}"


def clip_curve(cbr: np.ndarray, quality: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """An RD envelope (sorted, increasing) clipped to CBR in [lo, hi].

    Points inside are kept; where the envelope spans ``lo`` or ``hi`` a point at that
    CBR is added, its quality interpolated by PCHIP on log10 CBR over the whole
    envelope. A point within a relative 1e-9 of a boundary counts as on it (kept, no
    point added). Empty arrays when no envelope point or segment lies in [lo, hi].
    """
    inside = (cbr >= lo * (1 - _RTOL)) & (cbr <= hi * (1 + _RTOL))
    c, q = list(cbr[inside]), list(quality[inside])
    ends = [x for x in (lo, hi) if len(cbr) >= 2 and cbr[0] < x < cbr[-1]
            and not np.isclose(cbr, x, rtol=_RTOL, atol=0).any()]
    if ends:
        f = PchipInterpolator(np.log10(cbr), quality)
        c += ends
        q += [float(f(np.log10(x))) for x in ends]
    order = np.argsort(c)
    return np.asarray(c, float)[order], np.asarray(q, float)[order]


def _clip_notes(curves: dict, cbr_range: tuple[float, float], min_points: int) -> list[str]:
    """Notes on curves ({who: (cbr, q)} after clipping) that are short of points or of the range."""
    rng, notes = format_cbr_range(cbr_range), []
    for who, (c, _) in curves.items():
        if len(c) == 0:
            notes.append(f"{who} outside CBR range {rng}")
        elif len(c) < min_points:
            notes.append(f"{who} has {len(c)} point{'s' if len(c) != 1 else ''} in CBR range {rng} (<{min_points})")
        elif c[0] > cbr_range[0] * (1 + _RTOL) or c[-1] < cbr_range[1] * (1 - _RTOL):
            notes.append(f"{who} covers CBR {format_cbr_range((c[0], c[-1]))} of {rng}")
    return notes


def bd_metrics(anchor_cbr, anchor_q, test_cbr, test_q, method: str = "pchip",
               min_points: int = MIN_POINTS, quality_label: str = "PSNR",
               cbr_range: tuple[float, float] | None = None) -> BDResult:
    """BD-CBR (%) and BD-quality (dB) of a test RD curve against an anchor.

    Both curves are first reduced to their upper RD envelope (see
    :func:`rd_envelope`); each needs at least ``min_points`` points. With
    ``cbr_range=(lo, hi)`` the envelopes are clipped to that CBR interval first
    (see :func:`clip_curve`; the point count applies to the clipped curves). A
    value is ``None`` (with a note saying why) when a curve has too few points,
    misses the CBR range, or the curves do not overlap along the integration axis
    (quality for BD-CBR, log-CBR for BD-PSNR).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    cbr_range = check_cbr_range(cbr_range)
    n_in = (int(np.isfinite(np.asarray(anchor_q, float)).sum()),
            int(np.isfinite(np.asarray(test_q, float)).sum()))
    ac, aq = rd_envelope(anchor_cbr, anchor_q)
    tc, tq = rd_envelope(test_cbr, test_q)
    notes = []
    for who, n_raw, n_env in (("anchor", n_in[0], len(ac)), ("test", n_in[1], len(tc))):
        if n_env < min_points:
            extra = f" on RD envelope of {n_raw}" if n_env < n_raw else ""
            notes.append(f"{who} has {n_env} point{'s' if n_env != 1 else ''}{extra} (<{min_points})")
        elif n_env < n_raw:
            notes.append(f"{who}: {n_raw - n_env} dominated point(s) dropped")
    if any(n < min_points for n in (len(ac), len(tc))):
        return BDResult(None, None, "; ".join(notes))
    if cbr_range is not None:
        (ac, aq), (tc, tq) = clip_curve(ac, aq, *cbr_range), clip_curve(tc, tq, *cbr_range)
        notes += _clip_notes({"anchor": (ac, aq), "test": (tc, tq)}, cbr_range, min_points)
        if any(n < min_points for n in (len(ac), len(tc))):
            return BDResult(None, None, "; ".join(notes))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bd_cbr = bd_psnr = None
        ov_q = _overlap(aq, tq)
        if ov_q > 0:
            bd_cbr = float(bjontegaard.bd_rate(ac, aq, tc, tq, method=method,
                                               require_matching_points=False, min_overlap=0))
            if ov_q < LOW_OVERLAP:
                notes.append(f"{quality_label} overlap {ov_q:.0%}")
        else:
            notes.append(f"no {quality_label} overlap: BD-CBR undefined")
        ov_r = _overlap(np.log10(ac), np.log10(tc))
        if ov_r > 0:
            bd_psnr = float(bjontegaard.bd_psnr(ac, aq, tc, tq, method=method,
                                                require_matching_points=False, min_overlap=0))
            if ov_r < LOW_OVERLAP:
                notes.append(f"CBR overlap {ov_r:.0%}")
        else:
            notes.append(f"no CBR overlap: BD-{quality_label} undefined")
    bd_cbr = bd_cbr if bd_cbr is not None and np.isfinite(bd_cbr) else None
    bd_psnr = bd_psnr if bd_psnr is not None and np.isfinite(bd_psnr) else None
    return BDResult(bd_cbr, bd_psnr, "; ".join(notes))


def bd_table(curves: pd.DataFrame, anchor: str, metric: str = "psnr", method: str = "pchip",
             min_points: int = MIN_POINTS, cbr_range: tuple[float, float] | None = None) -> pd.DataFrame:
    """BD values of every scheme against ``anchor`` at every SNR (Table I form, long).

    Input: curves from :func:`~ntscc_sim.report.data.aggregate_curves`.
    Output columns: ``scheme, anchor, snr_db, metric, bd_cbr_pct, bd_psnr_db, note``;
    numbers are float or NaN (NaN always comes with a note). Each scheme's curve
    at an SNR is :func:`~ntscc_sim.report.data.operating_points`; ``cbr_range``
    as in :func:`bd_metrics`.
    """
    label = METRIC_LABELS.get(metric, metric)
    rows = []
    snrs = sorted(curves["snr_db"].unique())
    for scheme in scheme_order(curves):
        for snr in snrs:
            test = operating_points(curves, scheme, snr, metric)
            ref = operating_points(curves, anchor, snr, metric)
            if test.empty and ref.empty:
                continue
            if test.empty:
                res = BDResult(None, None, f"no {label} points at this SNR")
            elif ref.empty:
                res = BDResult(None, None, f"anchor has no {label} points at this SNR")
            else:
                res = bd_metrics(ref["cbr"], ref[metric], test["cbr"], test[metric],
                                 method, min_points, label, cbr_range)
            note = res.note
            if scheme == anchor:
                note = "anchor" + (f"; {note}" if note else "")
            rows.append({"scheme": scheme, "anchor": anchor, "snr_db": float(snr), "metric": metric,
                         "bd_cbr_pct": np.nan if res.bd_cbr_pct is None else res.bd_cbr_pct,
                         "bd_psnr_db": np.nan if res.bd_psnr_db is None else res.bd_psnr_db,
                         "note": note})
    return pd.DataFrame(rows, columns=BD_COLUMNS)
