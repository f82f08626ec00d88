"""Evaluating trained banana models over AWGN: the test-set links and the maps of Figs. 9-10.

* :func:`jscc_link`, :func:`analyse`, :func:`eval_ntscc` -- one pass of a batch of 2-D samples
  through a (rate-adaptive) JSCC link or through NTSCC, with seeded channel noise;
* :func:`compute_maps` -- densities, allocated bandwidth and per-point SDR on a grid over the
  plane; :func:`write_maps` stores them in ``maps.npz``, which
  :func:`ntscc_sim.banana.figures.make_figures` plots without running any model.

``maps.npz`` holds float64 arrays ``extent`` [4] (``x0_min, x0_max, x1_min, x1_max``),
``true_density`` [G, G] (rows = x1) and, when the scenario has the schemes,
``learned_density``, ``channel_uses``, ``sdr_ntscc`` and ``sdr_jscc`` [G, G], plus ``meta``:
a JSON string with ``snr_db``, ``kinds`` (scheme -> kind, ``ntscc-paper`` without side
information), ``formats``, ``dpi``, ``map_lambda``, ``map_eta``, ``cbr_map`` and ``jscc_cbr``.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import torch

from ..config import derive_seed
from ..files import atomic_write
from ..models.banana import NTSCC, RateAdaptiveJSCC, awgn_complex, power_scale

__all__ = ["MAPS_FILE", "analyse", "compute_maps", "eval_ntscc", "jscc_link", "write_maps"]

MAPS_FILE = "maps.npz"


@torch.no_grad()
def jscc_link(codec: RateAdaptiveJSCC, v, idx, snr_db, seed, channel, scale=None):
    """``(v_hat, power scale, mask)`` of ``v`` [B, d] sent with rate heads ``idx`` [B] at ``snr_db``."""
    s, mask = codec.encode(v, idx)
    if scale is None:
        scale = power_scale(s, mask)
    s_hat = awgn_complex(s * scale, mask, snr_db, seed, channel)
    return codec.decode(s_hat, idx), float(scale), mask


@torch.no_grad()
def analyse(model: NTSCC, x):
    """Latent ``y`` [B, 2] and code length of ``round(y)`` [B] (bits)."""
    y = model.ntc.g_a(x)
    _, lik_q = model.ntc.entropy(y, training=False)
    return y, -torch.log2(lik_q).sum(1)


@torch.no_grad()
def eval_ntscc(model: NTSCC, x, eta, snr_db, seed, channel, scale=None, analysed=None):
    """``(x_hat, rate index [B], power scale, latent bits [B])`` of ``x`` [B, 2] through NTSCC at ``eta``."""
    y, bits = analysed if analysed is not None else analyse(model, x)
    idx = model.allocate(bits, eta)
    y_hat, scale, mask = jscc_link(model.jscc, y, idx, snr_db, seed, channel, scale)
    return model.ntc.g_s(y_hat), idx, scale, bits


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


def compute_maps(data, src, jscc_models, ntscc_models, snr_db, channel, seed, device, x_test=None) -> tuple[dict, dict]:
    """The arrays and metadata of ``maps.npz`` (see the module docstring) from the trained models.

    ``jscc_models``: deep-jscc scheme name -> model; ``ntscc_models``: (scheme name, lambda) -> model.
    """
    rep = data["report"]
    extent = src.extent()
    g = rep["map_grid"]
    pts_np = _grid(extent, g)
    pts = torch.as_tensor(pts_np, dtype=torch.float32, device=device)
    maps = {"extent": np.asarray(extent, dtype=np.float64), "true_density": src.pdf(pts_np).reshape(g, g)}
    meta = {
        "snr_db": float(snr_db),
        "kinds": {s["name"]: s["kind"] + ("-paper" if s.get("side_info") == "none" else "") for s in data["schemes"]},
        "formats": list(rep["formats"]), "dpi": rep["dpi"], "map_lambda": rep["map_lambda"], "map_eta": rep["map_eta"],
        "cbr_map": None, "jscc_cbr": None,
    }

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
        maps["learned_density"] = np.exp2(map_model.ntc.log2_density(pts).cpu().numpy()).reshape(g, g)
        _, idx_cal, scale, _ = eval_ntscc(map_model, calib, eta, snr_db, derive_seed(seed, "map-cal"), channel)
        cbr_map = float(torch.tensor(map_model.dims, dtype=torch.float64)[idx_cal.cpu()].mean()) / 4.0
        with torch.no_grad():
            y = map_model.ntc.g_a(pts)
            _, lik = map_model.ntc.entropy(y, training=False)
            idx = map_model.allocate(-torch.log2(lik).sum(1), eta)
        maps["channel_uses"] = (torch.tensor(map_model.dims, dtype=torch.float64)[idx.cpu()] / 2.0).numpy().reshape(g, g)
        maps["sdr_ntscc"] = _sdr_map(lambda x, sd: eval_ntscc(map_model, x, eta, snr_db, sd, channel, scale)[0],
                                     pts, rep["map_noise_draws"], seed, "ntscc").reshape(g, g)
        meta["cbr_map"] = cbr_map
    jscc_names = [s["name"] for s in data["schemes"] if s["kind"] == "deep-jscc"]
    jname = rep["map_jscc"] or (jscc_names[0] if jscc_names else None)
    if jname is not None:
        jmodel = jscc_models[jname]
        spec = next(s for s in data["schemes"] if s["name"] == jname)
        target = cbr_map if cbr_map is not None else spec["cbr"][len(spec["cbr"]) // 2]
        j = int(np.argmin([abs(c - target) for c in spec["cbr"]]))
        idx_c = torch.full((calib.shape[0],), j, dtype=torch.long, device=device)
        _, jscale, _ = jscc_link(jmodel, calib, idx_c, snr_db, derive_seed(seed, "map-cal-jscc"), channel)

        def jlink(x, sd):
            idx_p = torch.full((x.shape[0],), j, dtype=torch.long, device=device)
            return jscc_link(jmodel, x, idx_p, snr_db, sd, channel, jscale)[0]

        maps["sdr_jscc"] = _sdr_map(jlink, pts, rep["map_noise_draws"], seed, "jscc").reshape(g, g)
        meta["jscc_cbr"] = float(spec["cbr"][j])
    return maps, meta


def write_maps(path, maps: dict, meta: dict) -> None:
    """``maps.npz`` (arrays as float64 plus ``meta`` as a JSON string), written atomically."""
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **{k: np.asarray(v, dtype=np.float64) for k, v in maps.items()})
    atomic_write(path, buf.getvalue())
