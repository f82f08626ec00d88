"""Figures of the banana experiment (NTSCC paper Figs. 9-10), PNG and/or PDF, from result files only.

Reads ``sdr.csv``, ``bound.csv`` and ``maps.npz`` (:mod:`ntscc_sim.banana.evaluate`) of an
output folder and runs no model, so figures can be redrawn at any time::

    python -m ntscc_sim.banana.figures results/banana

* ``fig9a_true_density``, ``fig9b_learned_density``: the source density and the density
  learned by the NTSCC model's transform + factorised prior,
  ``p(x) = p_ỹ(g_a(x)) |det ∂g_a/∂x|``;
* ``fig9c_bandwidth``: allocated channel uses ``k̄(x)/2`` (complex) over the plane;
* ``fig10a_sdr_deep_jscc``, ``fig10b_sdr_ntscc``: per-point SDR
  ``10 log10(||x||² / E_n||x - x̂||²)`` averaged over channel draws;
* ``fig10c_sdr_vs_cbr``: SDR vs average CBR for all schemes with the bound.

Every file is written through :func:`ntscc_sim.files.atomic_write`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from ..files import atomic_write


def _save(fig, fig_dir: Path, stem: str, formats, dpi: int) -> list[str]:
    import matplotlib.pyplot as plt

    names = []
    for ext in formats:
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=dpi, bbox_inches="tight")
        atomic_write(fig_dir / f"{stem}.{ext}", buf.getvalue())
        names.append(f"figures/{stem}.{ext}")
    plt.close(fig)
    return names


def _frac(v) -> str:
    from fractions import Fraction

    f = Fraction(float(v)).limit_denominator(1 << 20)
    return str(f)


# ---------------------------------------------------------------------------
# plotting (arrays in, figures out)
# ---------------------------------------------------------------------------


def plot_map(values: np.ndarray, extent, title: str, label: str, cmap: str = "viridis", vmin=None, vmax=None, contour=None):
    """One heat map ``values`` [G1, G0] (rows = x1) over ``extent = (x0_min, x0_max, x1_min, x1_max)``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    im = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    if contour is not None:
        x0 = np.linspace(extent[0], extent[1], values.shape[1])
        x1 = np.linspace(extent[2], extent[3], values.shape[0])
        ax.contour(x0, x1, contour, levels=[1e-3 * contour.max()], colors="white", linewidths=0.6)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label=label)
    return fig


def plot_sdr_vs_cbr(rows: list[dict], bound_cbr, bound_sdr, snr_db: float, kinds: dict[str, str]):
    """Fig. 10c: ``rows`` with keys scheme, lambda, eta, cbr, sdr_db; ``kinds`` scheme -> kind
    (``ntscc-paper`` for NTSCC without side-information cost, drawn dash-dotted)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    ax.plot(bound_cbr, bound_sdr, "k-", lw=1.6, label="bound: D(R), R = 2 CBR log2(1+SNR)")
    markers = iter(["o", "s", "^", "v", "D", "P", "X", "<", ">", "*"] * 4)
    palette = iter([f"C{i}" for i in range(10)] * 4)
    lam_color: dict = {}  # NTSCC curves of one lambda share a colour across accountings
    styles = {"ntc-capacity": "--", "deep-jscc": ":", "ntscc": "-", "ntscc-paper": "-."}
    for name in dict.fromkeys(r["scheme"] for r in rows):
        sub = [r for r in rows if r["scheme"] == name]
        kind = kinds.get(name, "")
        if kind.startswith("ntscc"):
            for lam in dict.fromkeys(r["lambda"] for r in sub):
                pts = sorted((r for r in sub if r["lambda"] == lam), key=lambda r: r["cbr"])
                etas = ", ".join(f"{r['eta']:g}" for r in pts)
                if lam not in lam_color:
                    lam_color[lam] = (next(palette), next(markers))
                color, marker = lam_color[lam]
                ax.plot([r["cbr"] for r in pts], [r["sdr_db"] for r in pts], styles[kind], color=color, marker=marker, ms=4,
                        mfc="none" if kind == "ntscc-paper" else color, label=f"{name} λ={_frac(lam)} (η {etas})")
        else:
            pts = sorted(sub, key=lambda r: r["cbr"])
            ax.plot([r["cbr"] for r in pts], [r["sdr_db"] for r in pts], styles.get(kind, "-"), color=next(palette),
                    marker=next(markers), ms=4, label=name)
    cbr_max = max([r["cbr"] for r in rows] + [0.5]) * 1.08
    ax.set_xlim(0, cbr_max)
    sel = [s for c, s in zip(bound_cbr, bound_sdr) if c <= cbr_max]
    lo = min([r["sdr_db"] for r in rows] + [0.0])
    ax.set_ylim(lo - 1, max(sel + [r["sdr_db"] for r in rows]) + 2)
    ax.set_xlabel("average CBR (complex channel uses / 2 per 2-D sample)")
    ax.set_ylabel("SDR (dB)")
    ax.set_title(f"Banana source, AWGN, SNR {snr_db:g} dB", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return fig


# ---------------------------------------------------------------------------
# files in, figures out
# ---------------------------------------------------------------------------


def _number(text: str):
    return None if text == "" else float(text)


def read_sdr(path) -> list[dict]:
    """``sdr.csv`` rows: scheme (str), lambda / eta (float or None), cbr, sdr_db (float)."""
    with open(path, newline="") as f:
        return [{"scheme": r["scheme"], **{k: _number(r[k]) for k in ("lambda", "eta", "cbr", "sdr_db")}} for r in csv.DictReader(f)]


def read_bound(path) -> tuple[np.ndarray, np.ndarray]:
    """``bound.csv`` as ``(cbr, sdr_db)`` arrays."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([float(r["cbr"]) for r in rows]), np.array([float(r["sdr_db"]) for r in rows])


def read_maps(path) -> tuple[dict, dict]:
    """``maps.npz`` as ``(arrays, meta)``."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"]))
    return arrays, meta


def make_figures(out_dir, log=None) -> list[str]:
    """Draw every figure of the result files in ``out_dir`` into ``out_dir/figures``; returns the
    written names (relative to ``out_dir``)."""
    out_dir = Path(out_dir)
    rows = read_sdr(out_dir / "sdr.csv")
    bound_cbr, bound_sdr = read_bound(out_dir / "bound.csv")
    maps, meta = read_maps(out_dir / "maps.npz")
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    formats, dpi = meta["formats"], meta["dpi"]
    written: list[str] = []
    written += _save(plot_sdr_vs_cbr(rows, bound_cbr, bound_sdr, meta["snr_db"], meta["kinds"]), fig_dir, "fig10c_sdr_vs_cbr", formats, dpi)

    extent = tuple(float(v) for v in maps["extent"])
    true_density = maps["true_density"]
    written += _save(plot_map(true_density, extent, "(a) true density", "p(x)", cmap="magma"), fig_dir, "fig9a_true_density", formats, dpi)
    eta, lam_txt, cbr_map = meta["map_eta"], _frac(meta["map_lambda"]), meta["cbr_map"]
    if "learned_density" in maps:
        written += _save(plot_map(maps["learned_density"], extent, f"(b) learned density (NTSCC λ={lam_txt})", "p(x)", cmap="magma",
                                  vmin=0, vmax=float(true_density.max())), fig_dir, "fig9b_learned_density", formats, dpi)
        written += _save(plot_map(maps["channel_uses"], extent, f"(c) channel uses per sample (λ={lam_txt}, η={eta:g}, data CBR {cbr_map:.2f})",
                                  "complex channel uses $\\bar k/2$", cmap="viridis", contour=true_density),
                         fig_dir, "fig9c_bandwidth", formats, dpi)
    sdr_maps = [maps[k] for k in ("sdr_jscc", "sdr_ntscc") if k in maps]
    if sdr_maps:
        vmin = float(min(np.percentile(m, 1) for m in sdr_maps))
        vmax = float(max(np.percentile(m, 99.5) for m in sdr_maps))
        if "sdr_jscc" in maps:
            written += _save(plot_map(maps["sdr_jscc"], extent, f"(a) deep JSCC, CBR {meta['jscc_cbr']:g}", "SDR (dB)", cmap="viridis",
                                      vmin=vmin, vmax=vmax, contour=true_density), fig_dir, "fig10a_sdr_deep_jscc", formats, dpi)
        if "sdr_ntscc" in maps:
            written += _save(plot_map(maps["sdr_ntscc"], extent, f"(b) NTSCC λ={lam_txt}, η={eta:g}, data CBR {cbr_map:.2f}",
                                      "SDR (dB)", cmap="viridis", vmin=vmin, vmax=vmax, contour=true_density),
                             fig_dir, "fig10b_sdr_ntscc", formats, dpi)
    if log is not None:
        log(f"figures: {len(written)} files in {fig_dir}")
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m ntscc_sim.banana.figures OUT_DIR")
    try:
        names = make_figures(sys.argv[1])
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    print("\n".join(names))
