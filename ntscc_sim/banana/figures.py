"""Figures of the banana experiment (NTSCC paper Figs. 9-10), PNG and/or PDF.

* ``fig9a_true_density``, ``fig9b_learned_density``: the source density and the density
  learned by the NTSCC model's transform + factorised prior,
  ``p(x) = p_ỹ(g_a(x)) |det ∂g_a/∂x|``;
* ``fig9c_bandwidth``: allocated channel uses ``k̄(x)/2`` (complex) over the plane;
* ``fig10a_sdr_deep_jscc``, ``fig10b_sdr_ntscc``: per-point SDR
  ``10 log10(||x||² / E_n||x - x̂||²)`` averaged over channel draws;
* ``fig10c_sdr_vs_cbr``: SDR vs average CBR for all schemes with the bound.

Every file is written through a temporary file and an atomic rename.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import torch

from ..config import derive_seed


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _save(fig, fig_dir: Path, stem: str, formats, dpi: int) -> list[str]:
    import matplotlib.pyplot as plt

    names = []
    for ext in formats:
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=dpi, bbox_inches="tight")
        atomic_write_bytes(fig_dir / f"{stem}.{ext}", buf.getvalue())
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
# computing the maps from trained models
# ---------------------------------------------------------------------------


def _grid(extent, g: int):
    x0 = np.linspace(extent[0], extent[1], g)
    x1 = np.linspace(extent[2], extent[3], g)
    xx0, xx1 = np.meshgrid(x0, x1)  # rows = x1
    return np.stack([xx0.ravel(), xx1.ravel()], axis=1)


@torch.no_grad()
def _sdr_map(link, pts: torch.Tensor, draws: int, seed: int, tag: str) -> np.ndarray:
    """Per-point SDR (dB) of ``link(x, seed) -> x_hat`` averaged over ``draws`` channel draws."""
    err = torch.zeros(pts.shape[0], dtype=torch.float64)
    for m in range(draws):
        x_hat = link(pts, derive_seed(seed, "map", tag, m))
        err += (pts - x_hat).double().pow(2).sum(1).cpu()
    err /= draws
    energy = pts.double().pow(2).sum(1).cpu()
    return (10 * torch.log10(energy.clamp_min(1e-12) / err.clamp_min(1e-12))).numpy()


def make_figures(data, fig_dir: Path, src, rows, bound_cbr, bound_sdr, jscc_models, ntscc_models, snr_db, channel,
                 seed, device, log, x_test=None) -> list[str]:
    """Compute the maps and write all figures; returns the written file names."""
    from .experiment import _eval_ntscc, _jscc_link

    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    rep = data["report"]
    formats, dpi = rep["formats"], rep["dpi"]
    kinds = {s["name"]: s["kind"] + ("-paper" if s.get("side_info") == "none" else "") for s in data["schemes"]}
    written: list[str] = []
    written += _save(plot_sdr_vs_cbr(rows, bound_cbr, bound_sdr, snr_db, kinds), fig_dir, "fig10c_sdr_vs_cbr", formats, dpi)

    extent = src.extent()
    g = rep["map_grid"]
    pts_np = _grid(extent, g)
    pts = torch.as_tensor(pts_np, dtype=torch.float32, device=device)
    true_density = src.pdf(pts_np).reshape(g, g)
    written += _save(plot_map(true_density, extent, "(a) true density", "p(x)", cmap="magma"), fig_dir, "fig9a_true_density", formats, dpi)

    ntscc_names = [s["name"] for s in data["schemes"] if s["kind"] == "ntscc"]
    map_name = rep["map_scheme"] or (ntscc_names[0] if ntscc_names else None)
    map_model = None
    if map_name is not None:
        key = next((k for k in ntscc_models if k[0] == map_name and math.isclose(k[1], rep["map_lambda"])), None)
        map_model = ntscc_models.get(key)
    eta = rep["map_eta"]
    calib = x_test if x_test is not None else torch.as_tensor(src.sample(100_000, seed=derive_seed(seed, "map-calibration")),
                                                             dtype=torch.float32, device=device)
    cbr_map = None
    if map_model is not None:
        lam_txt = _frac(rep["map_lambda"])
        learned = np.exp2(map_model.ntc.log2_density(pts).cpu().numpy()).reshape(g, g)
        written += _save(plot_map(learned, extent, f"(b) learned density (NTSCC λ={lam_txt})", "p(x)", cmap="magma",
                                  vmin=0, vmax=float(true_density.max())), fig_dir, "fig9b_learned_density", formats, dpi)
        _, idx_cal, scale, _ = _eval_ntscc(map_model, calib, eta, snr_db, derive_seed(seed, "map-cal"), channel)
        cbr_map = float(torch.tensor(map_model.dims, dtype=torch.float64)[idx_cal.cpu()].mean()) / 4.0
        with torch.no_grad():
            y = map_model.ntc.g_a(pts)
            _, lik = map_model.ntc.entropy(y, training=False)
            idx = map_model.allocate(-torch.log2(lik).sum(1), eta)
        uses = (torch.tensor(map_model.dims, dtype=torch.float64)[idx.cpu()] / 2.0).numpy().reshape(g, g)
        written += _save(plot_map(uses, extent, f"(c) channel uses per sample (λ={lam_txt}, η={eta:g}, data CBR {cbr_map:.2f})",
                                  "complex channel uses $\\bar k/2$", cmap="viridis", contour=true_density),
                         fig_dir, "fig9c_bandwidth", formats, dpi)
        sdr_ntscc = _sdr_map(lambda x, sd: _eval_ntscc(map_model, x, eta, snr_db, sd, channel, scale)[0],
                             pts, rep["map_noise_draws"], seed, "ntscc").reshape(g, g)
    jscc_names = [s["name"] for s in data["schemes"] if s["kind"] == "deep-jscc"]
    jname = rep["map_jscc"] or (jscc_names[0] if jscc_names else None)
    sdr_jscc = None
    if jname is not None:
        jmodel = jscc_models[jname]
        spec = next(s for s in data["schemes"] if s["name"] == jname)
        target = cbr_map if cbr_map is not None else spec["cbr"][len(spec["cbr"]) // 2]
        j = int(np.argmin([abs(c - target) for c in spec["cbr"]]))
        idx_c = torch.full((calib.shape[0],), j, dtype=torch.long, device=device)
        _, jscale, _ = _jscc_link(jmodel, calib, idx_c, snr_db, derive_seed(seed, "map-cal-jscc"), channel)

        def jlink(x, sd):
            idx_p = torch.full((x.shape[0],), j, dtype=torch.long, device=device)
            return _jscc_link(jmodel, x, idx_p, snr_db, sd, channel, jscale)[0]

        sdr_jscc = _sdr_map(jlink, pts, rep["map_noise_draws"], seed, "jscc").reshape(g, g)
        jcbr = spec["cbr"][j]
    if map_model is not None or sdr_jscc is not None:
        maps = [m for m in (sdr_jscc, sdr_ntscc if map_model is not None else None) if m is not None]
        vmin = float(min(np.percentile(m, 1) for m in maps))
        vmax = float(max(np.percentile(m, 99.5) for m in maps))
        if sdr_jscc is not None:
            written += _save(plot_map(sdr_jscc, extent, f"(a) deep JSCC, CBR {jcbr:g}", "SDR (dB)", cmap="viridis", vmin=vmin, vmax=vmax,
                                      contour=true_density), fig_dir, "fig10a_sdr_deep_jscc", formats, dpi)
        if map_model is not None:
            written += _save(plot_map(sdr_ntscc, extent, f"(b) NTSCC λ={_frac(rep['map_lambda'])}, η={eta:g}, data CBR {cbr_map:.2f}",
                                      "SDR (dB)", cmap="viridis", vmin=vmin, vmax=vmax, contour=true_density),
                             fig_dir, "fig10b_sdr_ntscc", formats, dpi)
    log(f"figures: {len(written)} files in {fig_dir}")
    return written
