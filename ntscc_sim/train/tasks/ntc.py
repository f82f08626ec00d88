"""Training task ``ntc``: hyperprior NTC with ``L = R + lambda * D`` (eq. (13), Algorithm 1 step 1).

Config ``model:`` keys (:data:`NTCTask.MODEL_PARAMS`): the transform keys shared with
NTSCC (:data:`TRANSFORM_PARAMS`), ``lambda`` and ``distortion``.

* ``distortion: mse``: ``L = bpp + lambda * 255^2 * MSE`` (CompressAI's convention,
  e.g. lambda = 0.0018 ... 0.0483 for its qualities 1 ... 8);
* ``distortion: ms-ssim``: ``L = bpp + lambda * (1 - MS-SSIM)``.

The EntropyBottleneck quantiles are fitted by CompressAI's auxiliary loss with their
own Adam optimiser (``aux_lr``) in :meth:`NTCTask.after_step`; :meth:`finalize`
calls ``update()`` so the saved model can write real bitstreams.

Example config::

    model: {kind: ntc, transform: conv, N: 64, M: 96, stages: 2, lambda: 0.0067}
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ntscc_sim.models.ntc import build_ntc
from ntscc_sim.scenario.errors import ScenarioError
from ntscc_sim.scenario.fields import Field

from .base import Task

__all__ = ["NTCTask", "TRANSFORM_PARAMS", "aux_step", "distortion", "main_parameters", "ms_ssim_torch", "psnr_batch", "validate_transform"]

TRANSFORM_PARAMS = {
    "transform": Field("str", default="conv", choices=("conv", "swin"), doc="g_a/g_s: conv+GDN or Swin Transformer (Fig. 5)"),
    "N": Field("int", default=128, min=1, doc="hyperprior channels (z)"),
    "M": Field("int", default=192, min=1, doc="latent channels c of y"),
    "stages": Field("int", default=4, min=1, max=6, doc="conv: stride-2 layers of g_a (swin: len(depths))"),
    "conv_channels": Field("int", default=None, nullable=True, min=1, doc="conv: hidden channels (default N)"),
    "dims": Field("list", default=lambda: [128, 192, 256, 320], item=Field("int", min=1), scalar_ok=True, doc="swin: width per stage"),
    "depths": Field("list", default=lambda: [1, 1, 2, 6], item=Field("int", min=0), min_len=1, doc="swin: blocks per stage"),
    "heads": Field("list", default=lambda: [8], item=Field("int", min=1), scalar_ok=True, doc="swin: heads (one, or one per stage)"),
    "window": Field("int", default=8, min=1, doc="swin: attention window"),
    "prior": Field("str", default="mean-scale", choices=("mean-scale", "scale")),
    "quantization": Field("str", default="noise", choices=("noise", "ste"),
                          doc="g_s input in training: uniform noise (eq. (13)) or rounding with a straight-through gradient"),
}

DISTORTIONS = ("mse", "ms-ssim")


def validate_transform(p: dict, path: str) -> dict:
    """Cross-field checks of the transform keys; for swin, ``stages`` becomes ``len(depths)``."""
    if p["transform"] == "swin":
        n = len(p["depths"])
        if len(p["dims"]) not in (1,) and len(p["dims"]) < n:
            raise ScenarioError(f"{path}.dims", f"need one width per stage ({n}), got {p['dims']!r}")
        if len(p["heads"]) not in (1, n):
            raise ScenarioError(f"{path}.heads", f"need one head count or one per stage ({n}), got {p['heads']!r}")
        dims = p["dims"] * n if len(p["dims"]) == 1 else p["dims"][:n]
        heads = p["heads"] * n if len(p["heads"]) == 1 else p["heads"]
        for i, (d, h) in enumerate(zip(dims, heads)):
            if d % h:
                raise ScenarioError(f"{path}.dims[{i}]", f"width {d} is not divisible by {h} heads")
        p["dims"], p["heads"], p["stages"] = dims, heads, n
    return p


def main_parameters(model):
    """Every trainable parameter except EntropyBottleneck quantiles (those follow the aux loss)."""
    return [p for n, p in model.named_parameters() if p.requires_grad and not n.endswith(".quantiles")]


def aux_step(task, model, lr: float) -> dict:
    """One Adam step of CompressAI's auxiliary loss on the quantiles; returns ``{"aux": value}``."""
    opts = task.__dict__.setdefault("_aux_opt", {})
    key = id(model)
    if key not in opts:
        qs = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
        opts[key] = torch.optim.Adam(qs, lr=lr)
    opt = opts[key]
    opt.zero_grad(set_to_none=True)
    aux = model.aux_loss()
    aux.backward()
    opt.step()
    return {"aux": float(aux.detach())}


def ms_ssim_torch(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Differentiable MS-SSIM per image, [B], for images in [0, 1] of any size >= 8 px.

    Uses as many of the 5 standard scales as fit (weights renormalised), as
    :func:`ntscc_sim.metrics.ms_ssim_value` does for evaluation (same values, tests/test_metrics.py).
    """
    from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

    short = min(x.shape[-2:])
    levels = 1
    while levels < 5 and short > 10 * 2**levels:
        levels += 1
    win_size = 11 if short >= 11 else (short if short % 2 == 1 else short - 1)
    win = _fspecial_gauss_1d(win_size, 1.5).repeat(x.shape[1], 1, 1, 1).to(x)
    w = x.new_tensor((0.0448, 0.2856, 0.3001, 0.2363, 0.1333)[:levels])
    w = w / w.sum()
    vals = []
    for i in range(levels):
        ssim_c, cs = _ssim(x, y, win=win, data_range=1.0, size_average=False)
        if i < levels - 1:
            vals.append(torch.relu(cs))
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    vals.append(torch.relu(ssim_c))
    return torch.prod(torch.stack(vals) ** w.view(-1, 1, 1), dim=0).mean(1)


def distortion(kind: str, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Mean distortion of a batch: ``255^2 * MSE`` (mse) or ``1 - MS-SSIM`` (ms-ssim)."""
    if kind == "mse":
        return 255.0**2 * F.mse_loss(x_hat, x)
    return (1.0 - ms_ssim_torch(x_hat.clamp(0, 1), x)).mean()


def psnr_batch(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Mean over images of the PSNR (dB) of the clamped, uint8-rounded reconstruction."""
    q = torch.round(x_hat.clamp(0, 1) * 255.0)
    ref = torch.round(x * 255.0)
    mse = ((q - ref) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(255.0**2 / mse)).mean())


class NTCTask(Task):
    """Hyperprior NTC (:class:`ntscc_sim.models.ntc.NTC`)."""

    kind = "ntc"
    MODEL_PARAMS = {
        **TRANSFORM_PARAMS,
        "lambda": Field("number", min=0, doc="rate-distortion weight: L = bpp + lambda * D"),
        "distortion": Field("str", default="mse", choices=DISTORTIONS),
        "aux_lr": Field("number", default=1e-3, min=0, doc="Adam learning rate of the quantile (aux) loss"),
    }

    def validate_model(self, params, path):
        return validate_transform(params, path)

    def build(self, config):
        return build_ntc(config["model"])

    def parameter_groups(self, model, config):
        return [{"params": main_parameters(model)}]

    def _terms(self, model, x, config):
        out = model(x)
        pixels = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = sum(-torch.log2(l).sum() for l in out["likelihoods"].values()) / pixels
        d = distortion(config["model"]["distortion"], x, out["x_hat"])
        return out, bpp, d

    def loss(self, model, batch, config, step):
        out, bpp, d = self._terms(model, batch, config)
        loss = bpp + config["model"]["lambda"] * d
        return loss, {"bpp": float(bpp.detach()), "distortion": float(d.detach()), "psnr": psnr_batch(batch, out["x_hat"].detach())}

    @torch.no_grad()
    def evaluate(self, model, batch, config):
        out, bpp, d = self._terms(model, batch, config)
        return {"loss": float(bpp + config["model"]["lambda"] * d), "bpp": float(bpp), "psnr": psnr_batch(batch, out["x_hat"])}

    def after_step(self, model, config, step):
        return aux_step(self, model, config["model"]["aux_lr"])

    def finalize(self, model, config):
        model.update(force=True, update_quantiles=True)

    def init_from(self, model, ckpt, config):
        """Start from another NTC checkpoint (e.g. fine-tuning a new lambda)."""
        if ckpt.get("task") != "ntc":
            return super().init_from(model, ckpt, config)
        model.load_state_dict(ckpt["state_dict"])
        return {"loaded": list(ckpt["state_dict"]), "skipped": []}

    def summary(self, config):
        m = config["model"]
        return {"lambda": m["lambda"], "distortion": m["distortion"], "transform": m["transform"]}

