"""External reference curves drawn on the RD figures (``--overlay``).

Accepted files:

* CompressAI-style JSON ``{"name": ..., "results": {"cbr" | "bpp": [...],
  "psnr-rgb" | "psnr": [...], "ms-ssim-rgb" | "ms-ssim" | "ms_ssim_db": [...]}}``
  with optional ``"snr_db"`` (top level or in ``results``; scalar or per point).
  ``cbr`` is preferred as x; if it is missing, ``bpp`` is used and drawn on a
  secondary (top) x axis labelled bpp, never mixed with the CBR axis.
  MS-SSIM values in [0, 1] are converted to dB (-10 log10(1 - MS-SSIM)).
* CSV with columns ``cbr, psnr`` (+ optional ``name``, ``snr_db``, ``ms_ssim_db``).

An overlay without ``snr_db`` is drawn on the RD figure of every SNR.

Example
-------
>>> ovs = load_overlay("compressai_bmshj2018.json")   # doctest: +SKIP
>>> ovs[0].name, ovs[0].x_kind                        # doctest: +SKIP
('bmshj2018-factorized', 'bpp')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .data import ReportInputError, snr_close


@dataclass
class Overlay:
    """One external curve: ``x`` (CBR or bpp, float64 [N]) with quality arrays [N]."""

    name: str
    x: np.ndarray
    x_kind: str  # "cbr" | "bpp"
    psnr: np.ndarray | None
    ms_ssim_db: np.ndarray | None
    snr_db: float | None
    source: str

    def at_snr(self, snr_db: float) -> bool:
        """True when the overlay belongs on the figure for ``snr_db``."""
        return self.snr_db is None or bool(snr_close(self.snr_db, snr_db))

    def metric(self, metric: str) -> np.ndarray | None:
        return self.psnr if metric == "psnr" else self.ms_ssim_db


def _arr(v) -> np.ndarray | None:
    if v is None:
        return None
    a = np.asarray(v, dtype=float).ravel()
    return a if a.size else None


def _msssim_db(v) -> np.ndarray | None:
    a = _arr(v)
    if a is None:
        return None
    if np.nanmax(a) <= 1.0:
        with np.errstate(divide="ignore"):
            a = -10.0 * np.log10(1.0 - a)
    return a


def _split_by_snr(name, x, kind, psnr, ms, snr, source) -> list[Overlay]:
    if snr is None or np.ndim(snr) == 0:
        s = None if snr is None else float(snr)
        return [Overlay(name, x, kind, psnr, ms, s, source)]
    snr = np.asarray(snr, dtype=float)
    out = []
    for s in np.unique(snr):
        m = snr == s
        out.append(Overlay(name, x[m], kind, None if psnr is None else psnr[m],
                           None if ms is None else ms[m], float(s), source))
    return out


def _from_json(path: Path) -> list[Overlay]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError("top level must be an object")
    res = data.get("results", data)
    name = str(data.get("name") or path.stem)
    if "cbr" in res:
        x, kind = _arr(res["cbr"]), "cbr"
    elif "bpp" in res:
        x, kind = _arr(res["bpp"]), "bpp"
    else:
        raise ValueError("results need a 'cbr' or 'bpp' list")
    psnr = _arr(res.get("psnr-rgb", res.get("psnr")))
    ms = res.get("ms_ssim_db")
    ms = _arr(ms) if ms is not None else _msssim_db(res.get("ms-ssim-rgb", res.get("ms-ssim")))
    for q in (psnr, ms):
        if q is not None and len(q) != len(x):
            raise ValueError("x and quality lists differ in length")
    if psnr is None and ms is None:
        raise ValueError("results need 'psnr-rgb'/'psnr' or an MS-SSIM list")
    return _split_by_snr(name, x, kind, psnr, ms, data.get("snr_db", res.get("snr_db")), str(path))


def _from_csv(path: Path) -> list[Overlay]:
    df = pd.read_csv(path)
    if "cbr" not in df or ("psnr" not in df and "ms_ssim_db" not in df):
        raise ValueError("CSV needs columns cbr and psnr (or ms_ssim_db)")
    if "name" not in df:
        df["name"] = path.stem
    if "snr_db" not in df:
        df["snr_db"] = np.nan
    out = []
    for (name, snr), g in df.groupby(["name", "snr_db"], dropna=False, sort=False):
        g = g.sort_values("cbr")
        out.append(Overlay(str(name), g["cbr"].to_numpy(float), "cbr",
                           g["psnr"].to_numpy(float) if "psnr" in g else None,
                           g["ms_ssim_db"].to_numpy(float) if "ms_ssim_db" in g else None,
                           None if pd.isna(snr) else float(snr), str(path)))
    return out


def load_overlay(path) -> list[Overlay]:
    """Read one overlay file (JSON or CSV, by extension) into one or more curves.

    Raises ReportInputError (naming the path) when missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"overlay file not found: {path}")
    try:
        return _from_csv(path) if path.suffix.lower() == ".csv" else _from_json(path)
    except (ValueError, KeyError, TypeError, pd.errors.ParserError) as exc:
        raise ReportInputError(f"bad overlay file {path}: {exc}") from None
