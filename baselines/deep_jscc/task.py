"""Training task ``model.kind: deep-jscc`` (see :mod:`ntscc_sim.train.tasks`).

Loss: MSE between the input and the reconstruction after the channel at the
training SNR (:func:`ntscc_sim.train.tasks.train_snr`). Validation: PSNR per image on
the uint8-rounded output (averaged in dB), CBR and MSE at :func:`~ntscc_sim.train.tasks.eval_snr`.

Model keys (``model:`` section)::

    kind: deep-jscc
    c: 8                 # complex symbols per latent position (CBR = c/48), or
    cbr: 1/6             # the target CBR instead (c = 48 * cbr must be an integer)
    filters: [16, 32, 32, 32]
    kernel: 5
    gdn: false
    snr_input: false
"""

from __future__ import annotations

from fractions import Fraction

import torch
import torch.nn.functional as F

from ntscc_sim.channels import Channel
from ntscc_sim.scenario import Field, ScenarioError
from ntscc_sim.train.tasks import Task, eval_snr, train_snr

from .model import DOWNSAMPLE, DeepJSCC

_PER_POSITION = 3 * DOWNSAMPLE * DOWNSAMPLE  # real pixel values per latent position (48)


def _check_filters(value, key):
    if len(value) != 4:
        raise ScenarioError(key, f"expected the 4 hidden-layer widths, e.g. [16, 32, 32, 32], got {value!r}")
    return value


def _check_kernel(value, key):
    if value % 2 == 0:
        raise ScenarioError(key, f"kernel size must be odd, got {value}")
    return value


def psnr_per_image(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """PSNR (dB, peak 255) per image of uint8-rounded images; [B] float64, capped at 100 dB."""
    a = torch.round(x.double().clamp(0, 1) * 255.0)
    b = torch.round(x_hat.double().clamp(0, 1) * 255.0)
    mse = (a - b).pow(2).flatten(1).mean(1)
    return torch.where(mse > 0, 10.0 * torch.log10(255.0**2 / mse.clamp_min(1e-30)), torch.full_like(mse, 100.0))


class DeepJSCCTask(Task):
    """Bourtsoulatze et al. 2019 deep JSCC trained end to end through the channel."""

    kind = "deep-jscc"
    MODEL_PARAMS = {
        "c": Field("int", default=None, nullable=True, min=1, doc="complex symbols per latent position; CBR = c/48"),
        "cbr": Field("fraction", default=None, nullable=True, min=0, doc="target CBR instead of c (48*cbr must be an integer)"),
        "filters": Field("list", default=lambda: [16, 32, 32, 32], item=Field("int", min=1), check=_check_filters),
        "kernel": Field("int", default=5, min=1, check=_check_kernel),
        "gdn": Field("bool", default=False, doc="GDN/IGDN after hidden layers (Kurka & Gunduz)"),
        "snr_input": Field("bool", default=False, doc="SNR as an extra encoder/decoder input plane"),
    }

    def validate_model(self, params: dict, path: str) -> dict:
        c, cbr = params["c"], params["cbr"]
        if c is None and cbr is None:
            raise ScenarioError(f"{path}.c", "give c (complex symbols per latent position) or cbr")
        if cbr is not None:
            frac = Fraction(cbr).limit_denominator(10000) * _PER_POSITION
            if frac.denominator != 1 or frac < 1:
                raise ScenarioError(f"{path}.cbr", f"48 * cbr must be a positive integer (cbr = c/48), got cbr = {cbr:g}")
            if c is not None and c != int(frac):
                raise ScenarioError(f"{path}.cbr", f"cbr {cbr:g} disagrees with c = {c} (cbr = c/48)")
            params["c"] = int(frac)
        return params

    def build(self, config: dict) -> DeepJSCC:
        m = config["model"]
        ch = config.get("channel", {})
        channel = Channel(ch.get("kind", "awgn"), ch.get("csi", "perfect"), ch.get("coherence"))
        return DeepJSCC(m["c"], tuple(m["filters"]), m["kernel"], m["gdn"], m["snr_input"], channel)

    def loss(self, model, batch, config, step):
        out = model(batch, train_snr(config, step))
        mse = F.mse_loss(out["x_hat"], batch)
        return mse, {"psnr": float(10.0 * torch.log10(1.0 / mse.detach().clamp_min(1e-10)))}

    @torch.no_grad()
    def evaluate(self, model, batch, config):
        out = model(batch, eval_snr(config))
        return {"loss": float(F.mse_loss(out["x_hat"], batch)),
                "psnr": float(psnr_per_image(batch, out["x_hat"]).mean()),
                "cbr": float(out["cbr"])}

    def summary(self, config: dict) -> dict:
        return {"cbr": config["model"]["c"] / _PER_POSITION}
