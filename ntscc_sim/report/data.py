"""Reading a results folder and aggregating per-image rows into RD curves.

Only result files are read (``points.csv``, optional ``run.json``); nothing is
recomputed from images or models.

Example
-------
>>> pts = read_points("results/quickstart")             # doctest: +SKIP
>>> curves = aggregate_curves(pts)                       # doctest: +SKIP
>>> curves[["scheme", "snr_db", "cbr", "psnr", "psnr_ci95"]]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

REQUIRED_COLUMNS = ("scheme", "snr_db", "image", "cbr", "psnr")
NUMERIC_COLUMNS = ("snr_db", "pixels", "cbr", "payload_bits", "side_bits", "psnr", "ms_ssim_db", "outage",
                   "target_cbr", "qp", "eta", "lambda", "train_snr_db", "derived")
TEXT_COLUMNS = ("scheme", "kind", "config", "image", "mcs", "checkpoint")
#: Parameter columns carried from rows to curves (first non-empty value per curve).
PARAM_COLUMNS = ("target_cbr", "mcs", "qp", "eta", "lambda", "checkpoint", "train_snr_db", "derived")
#: Scheme kinds that transmit bits (separation-based); also any row with ``payload_bits``.
DIGITAL_KINDS = frozenset({"bpg-ldpc", "bpg-capacity", "ntc-ldpc", "ntc-capacity"})
METRIC_LABELS = {"psnr": "PSNR", "ms_ssim_db": "MS-SSIM"}
_SNR_TOL = 1e-6


class ReportInputError(ValueError):
    """A results folder, ``points.csv`` or overlay file is missing or malformed."""


def is_digital_kind(kind: str) -> bool:
    """True for separation-based kinds (BPG/NTC + LDPC or capacity)."""
    kind = (kind or "").lower()
    return kind in DIGITAL_KINDS or kind.endswith(("-ldpc", "-capacity"))


def read_points(results_dir) -> pd.DataFrame:
    """Load and validate ``RESULTS_DIR/points.csv``.

    Returns one row per scheme x configuration x SNR x image with all contract
    columns present (missing optional ones added as NaN / ""), numeric columns
    as float64, text columns as str, and a ``config`` key filled in when absent.

    Raises
    ------
    ReportInputError
        Folder or file missing, unreadable, without data rows, or lacking one of
        ``scheme, snr_db, image, cbr, psnr``.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ReportInputError(f"results folder not found: {results_dir}")
    path = results_dir / "points.csv"
    if not path.is_file():
        raise ReportInputError(f"points.csv not found: {path}")
    try:
        df = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"cannot parse {path}: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    _split_legacy_bits(df)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ReportInputError(f"{path} lacks required column(s): {', '.join(missing)}")
    for col in NUMERIC_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64") if col in df else np.nan
    for col in TEXT_COLUMNS:
        df[col] = df[col].fillna("").astype(str).str.strip() if col in df else ""
    df = df[(df["scheme"] != "") & np.isfinite(df["cbr"]) & df["snr_db"].notna()].copy()
    df.loc[~np.isfinite(df["psnr"]), "psnr"] = np.nan
    df.loc[~np.isfinite(df["ms_ssim_db"]), "ms_ssim_db"] = np.nan
    if df.empty:
        raise ReportInputError(f"{path} has no usable data rows")
    _fill_config(df)
    return df.reset_index(drop=True)


def _split_legacy_bits(df: pd.DataFrame) -> None:
    """Files written before the split have one ``bits`` column: the side information for
    ``ntscc`` rows, the payload for every other kind (empty for analog schemes)."""
    if "bits" not in df.columns or "payload_bits" in df.columns:
        return
    side = df["kind"].astype(str).str.strip().eq("ntscc") if "kind" in df.columns else pd.Series(False, index=df.index)
    bits = pd.to_numeric(df["bits"], errors="coerce")
    df["payload_bits"] = bits.where(~side)
    df["side_bits"] = bits.where(side)
    df.drop(columns="bits", inplace=True)


def _fill_config(df: pd.DataFrame) -> None:
    """Derive ``config`` where empty: parameter columns, else CBR to 3 significant digits."""
    empty = df["config"] == ""
    if not empty.any():
        return
    used = [c for c in PARAM_COLUMNS if c != "derived" and _has_values(df.loc[empty, c])]

    def key(row) -> str:
        parts = [f"{c}={_fmt_param(row[c])}" for c in used if _fmt_param(row[c]) != ""]
        return ";".join(parts) if parts else "cbr=" + _fmt_param(float(f"{row['cbr']:.3g}"))

    df.loc[empty, "config"] = df.loc[empty].apply(key, axis=1)


def _has_values(s: pd.Series) -> bool:
    return bool((s.astype(str).str.len() > 0).any()) if s.dtype == object else bool(s.notna().any())


def _fmt_param(v) -> str:
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{float(v):g}"


def read_run_info(results_dir) -> dict:
    """Return ``run.json`` as a dict ({} when absent or unreadable)."""
    path = Path(results_dir) / "run.json"
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _mode_label(mode) -> str:
    if isinstance(mode, dict) and {"modulation", "rate"} <= set(mode):
        return f"{mode['modulation']}-{mode['rate']}"
    return str(mode)


def side_info_notes(points: pd.DataFrame, run_info: dict) -> dict[str, str]:
    """One note per NTSCC scheme of ``points``: how its side information (z + rate indices) was sent.

    The mode is the scheme's ``side_info`` in run.json's scenario (``capacity`` when the key is
    absent, the scheme's default); without a run.json entry the note says it is unknown.
    """
    scen = run_info.get("scenario") if isinstance(run_info.get("scenario"), dict) else {}
    specs = {str(s.get("name")): s for s in scen.get("schemes") or [] if isinstance(s, dict)}
    kinds = points.drop_duplicates("scheme").set_index("scheme")["kind"]
    notes = {}
    for scheme, kind in kinds.items():
        if str(kind) != "ntscc":
            continue
        spec = specs.get(str(scheme))
        if spec is None:
            notes[scheme] = f"{scheme}: side-information mode unknown (no run.json entry for this scheme)"
            continue
        mode = _mode_label(spec.get("side_info", "capacity"))
        if mode == "capacity":
            notes[scheme] = (f"{scheme}: side information (z + rate indices) sent error-free at "
                             "capacity log2(1 + SNR) (side_info: capacity)")
        else:
            notes[scheme] = (f"{scheme}: side information (z + rate indices) sent over 5G LDPC with "
                             f"{mode}; a decoding failure is an outage (side_info: {mode})")
    return notes


def _ci95(std: pd.Series, n: pd.Series) -> pd.Series:
    """Half width of the two-sided 95 % t-interval; NaN where n < 2."""
    n = n.astype(float)
    t = pd.Series(stats.t.ppf(0.975, np.maximum(n - 1, 1)), index=n.index)
    half = t * std / np.sqrt(n)
    return half.where(n >= 2)


def aggregate_curves(points: pd.DataFrame) -> pd.DataFrame:
    """Average per-image rows into one RD point per (scheme, config, snr_db).

    Returns a DataFrame with columns ``scheme, kind, config, snr_db, <params>,
    n_images, cbr, cbr_std, psnr, psnr_ci95, ms_ssim_db, ms_ssim_db_ci95,
    outage_rate, digital``. ``cbr`` is the mean actual CBR, ``psnr`` and
    ``ms_ssim_db`` are means of per-image dB values, ``*_ci95`` the half width of
    the 95 % t-interval over images (NaN when fewer than 2 images).
    """
    keys = ["scheme", "config", "snr_db"]
    g = points.groupby(keys, sort=False, dropna=False)
    out = g.agg(kind=("kind", "first"),
                n_images=("image", "size"),
                cbr=("cbr", "mean"), cbr_std=("cbr", "std"),
                psnr=("psnr", "mean"), psnr_std=("psnr", "std"), psnr_n=("psnr", "count"),
                ms_ssim_db=("ms_ssim_db", "mean"), ms_std=("ms_ssim_db", "std"),
                ms_n=("ms_ssim_db", "count"),
                outage_rate=("outage", "mean"),
                has_bits=("payload_bits", lambda s: bool(s.notna().any())))
    params = g[list(PARAM_COLUMNS)].first()
    for col in ("mcs", "checkpoint"):
        params[col] = params[col].fillna("")
    out = out.join(params).reset_index()
    out["psnr_ci95"] = _ci95(out["psnr_std"], out["psnr_n"])
    out["ms_ssim_db_ci95"] = _ci95(out["ms_std"], out["ms_n"])
    out["digital"] = out["has_bits"] | out["kind"].map(is_digital_kind)
    order = {s: i for i, s in enumerate(scheme_order(points))}
    out["_o"] = out["scheme"].map(order)
    out = out.sort_values(["_o", "snr_db", "cbr"], kind="stable").reset_index(drop=True)
    cols = ["scheme", "kind", "config", "snr_db", *PARAM_COLUMNS, "n_images", "cbr", "cbr_std",
            "psnr", "psnr_ci95", "ms_ssim_db", "ms_ssim_db_ci95", "outage_rate", "digital"]
    return out[cols]


def scheme_order(df: pd.DataFrame) -> list[str]:
    """Scheme names in order of first appearance."""
    return list(dict.fromkeys(df["scheme"].tolist()))


def snr_close(a, b) -> np.ndarray | bool:
    """Element-wise SNR equality with a small tolerance (inf == inf)."""
    return np.isclose(a, b, rtol=0.0, atol=_SNR_TOL) | (np.asarray(a) == b)


def operating_points(curves: pd.DataFrame, scheme: str, snr_db: float,
                     metric: str = "psnr") -> pd.DataFrame:
    """Curve points of one scheme at one SNR that form its RD curve.

    Rows without a finite positive CBR or a finite ``metric`` are dropped. If the
    scheme has derived rows (e.g. an MCS envelope) at this SNR, only those are
    used; else, for learned models, rows whose ``train_snr_db`` equals the test
    SNR are preferred when any exist (matched training, as in the paper).
    """
    sub = curves[(curves["scheme"] == scheme) & snr_close(curves["snr_db"], snr_db)]
    sub = sub[np.isfinite(sub["cbr"]) & (sub["cbr"] > 0) & np.isfinite(sub[metric])]
    derived = sub["derived"].fillna(0) == 1
    if derived.any():
        return sub[derived]
    matched = sub["train_snr_db"].notna() & snr_close(sub["train_snr_db"].fillna(np.inf), snr_db)
    if matched.any():
        return sub[matched]
    return sub


def target_groups(curves: pd.DataFrame, tol: float = 0.05) -> list[tuple[str, pd.DataFrame]]:
    """Split curves by CBR target for vs-SNR plots.

    Returns ``[(label, rows)]``: one group per distinct ``target_cbr`` (rounded to
    6 digits) when that column has values, else one per ``config``. Rows without
    a ``target_cbr`` join a target when their mean CBR is within ``tol`` (relative)
    of it.
    """
    if not curves["target_cbr"].notna().any():
        return [(f"config {c}", curves[curves["config"] == c]) for c in dict.fromkeys(curves["config"])]
    key = curves["target_cbr"].round(6)
    free = key.isna()
    groups = []
    for v in sorted(key.dropna().unique()):
        near = free & (np.abs(curves["cbr"] - v) <= tol * v)
        groups.append((f"target CBR {v:g}", curves[(key == v) | near]))
    return groups


def best_per_snr(rows: pd.DataFrame, scheme: str, metric: str = "psnr") -> pd.DataFrame:
    """One point per SNR for ``scheme``: its operating points, then the best ``metric``."""
    picks = []
    for snr in sorted(rows.loc[rows["scheme"] == scheme, "snr_db"].unique()):
        op = operating_points(rows, scheme, snr, metric)
        if not op.empty:
            picks.append(op.loc[op[metric].idxmax()])
    return pd.DataFrame(picks)
