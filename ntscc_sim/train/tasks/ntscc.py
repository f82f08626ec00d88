"""Training task ``ntscc`` (Algorithm 1): NTSCC initialised from a pretrained NTC.

Set ``init:`` to an ``ntc`` checkpoint (zoo name or path): :meth:`NTSCCTask.init_from`
copies g_a, g_s, h_a, h_s and the entropy models into ``model.ntc`` (step 1); f_e and
f_d* start random (step 2). Each step minimises (step 6)::

    L = d(x, x_hat_NTSCC) + ntc_weight * d(x, x_hat_NTC) + lambda * CBR

with ``d = 255^2 * MSE`` (``distortion: mse``) or ``1 - MS-SSIM`` (``ms-ssim``) and
``CBR = (k_y + k_z) / (3 H W)``: ``k_y = sum_i k_i / 2`` channel uses with the
straight-through quantised ``k_i = Q'(eta * -log2 p(y~_i | z~))`` (only the FC heads of
the selected rates receive gradients), ``k_z = (-log2 p(z~) + kq bits per patch) / C``
with ``C = log2(1 + SNR)`` at the training SNR (or ``side_capacity``). Larger
``lambda`` -> lower CBR (the paper's convention). ``eta_range: [lo, hi]`` draws eta
log-uniformly per step (all rate heads get trained, so the test-time eta sweep
works); otherwise ``eta`` is fixed.

A ``ntscc`` checkpoint as ``init:`` loads the whole model (fine-tuning a new
lambda from a base model); a ``per-rate`` one into a ``jscc_rate_heads: nested`` model is
converted by :func:`ntscc_sim.models.ntscc.nest_rate_heads`.
"""

from __future__ import annotations

import math

import torch

from ntscc_sim.config import derive_seed
from ntscc_sim.models.ntscc import RATE_HEADS, VARIANTS, build_ntscc, nest_rate_heads
from ntscc_sim.models.rate_allocation import default_rate_values
from ntscc_sim.scenario.errors import ScenarioError
from ntscc_sim.scenario.fields import Field

from .base import Task, eval_snr, make_channel, train_snr
from .ntc import DISTORTIONS, TRANSFORM_PARAMS, aux_step, distortion, main_parameters, psnr_batch, validate_transform

__all__ = ["NTSCCTask", "resolve_rate_values"]


def resolve_rate_values(value, key: str) -> list[int]:
    """``null`` (paper: 16 values 16..256), a list of even integers, or ``{min, max, count}``."""
    if value is None:
        return default_rate_values()
    if isinstance(value, dict):
        unknown = set(value) - {"min", "max", "count"}
        if unknown:
            raise ScenarioError(f"{key}.{sorted(unknown)[0]}", "unknown key; use min, max, count")
        try:
            return default_rate_values(int(value.get("min", 16)), int(value.get("max", 256)), int(value.get("count", 16)))
        except ValueError as exc:
            raise ScenarioError(key, str(exc)) from None
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        if any(v <= 0 or v % 2 for v in value) or len(set(value)) != len(value):
            raise ScenarioError(key, f"rate values must be distinct positive even integers, got {value!r}")
        return sorted(value)
    raise ScenarioError(key, f"expected a list of even integers or {{min, max, count}}, got {value!r}")


def _check_eta_range(value, key):
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, (int, float)) and v > 0 for v in value) or value[0] > value[1]:
        raise ScenarioError(key, f"expected [lo, hi] with 0 < lo <= hi, got {value!r}")
    return [float(v) for v in value]


class NTSCCTask(Task):
    """NTSCC (:class:`ntscc_sim.models.ntscc.NTSCC`), trained as in Algorithm 1."""

    kind = "ntscc"
    MODEL_PARAMS = {
        **TRANSFORM_PARAMS,
        "jscc_dim": Field("int", default=None, nullable=True, min=1, doc="token width of f_e / f_d (default M)"),
        "jscc_depth_enc": Field("int", default=4, min=0, doc="N_e shared Transformer blocks"),
        "jscc_depth_dec": Field("int", default=4, min=0, doc="N_d shared Transformer blocks"),
        "jscc_heads": Field("int", default=8, min=1),
        "jscc_window": Field("int", default=8, min=1, doc="attention window over the latent grid"),
        "rate_values": Field("any", default=None, nullable=True, doc="V: list of even ints or {min, max, count} (default 16..256, 16 values)"),
        "variant": Field("str", default="full", choices=tuple(VARIANTS)),
        "jscc_rate_heads": Field("str", default="per-rate", choices=RATE_HEADS,
                                 doc="per-rate FC layers (paper) or one nested FC whose first v symbols are sent"),
        "fixed_k": Field("int", default=64, min=2, doc="comparison-2: real symbols per patch"),
        "eta": Field("number", default=0.2, min=0, doc="eta of eq. (28) (training; validation)"),
        "eta_range": Field("any", default=None, nullable=True, check=_check_eta_range, doc="[lo, hi]: eta drawn log-uniformly per step"),
        "lambda": Field("number", min=0, doc="weight of the CBR term (larger -> lower CBR)"),
        "distortion": Field("str", default="mse", choices=DISTORTIONS),
        "ntc_weight": Field("number", default=1.0, min=0, doc="weight of d(x, x_hat_NTC) (Algorithm 1: 1)"),
        "side_capacity": Field("number", default=None, nullable=True, min=0, doc="bits per channel use of the side info in the loss (default log2(1+SNR))"),
        "aux_lr": Field("number", default=1e-3, min=0),
    }

    def validate_model(self, params, path):
        p = validate_transform(params, path)
        p["rate_values"] = resolve_rate_values(p["rate_values"], f"{path}.rate_values")
        if p["fixed_k"] % 2:
            raise ScenarioError(f"{path}.fixed_k", f"symbols per patch must be even (complex pairs), got {p['fixed_k']}")
        dim = p["jscc_dim"] or p["M"]
        if dim % p["jscc_heads"]:
            raise ScenarioError(f"{path}.jscc_heads", f"token width {dim} is not divisible by {p['jscc_heads']} heads")
        return p

    def build(self, config):
        return build_ntscc(config["model"])

    def warnings(self, config):
        """Shifted-window blocks of f_e / f_d only shift when the latent grid exceeds one window:
        crops whose grid fits in one window never train the shifted variant that larger test
        images (Kodak: a 48 x 32 grid) then use."""
        m, data = config["model"], config["data"]
        if data.get("kind") != "folder" or max(m["jscc_depth_enc"], m["jscc_depth_dec"]) < 2:
            return []
        stages = len(m["depths"]) if m["transform"] == "swin" else int(m["stages"])
        grid = int(data["crop"]) // 2 ** stages
        if grid > m["jscc_window"]:
            return []
        return [f"data.crop {data['crop']} gives a {grid}x{grid} latent grid, not larger than model.jscc_window "
                f"{m['jscc_window']}: the shifted-window blocks of f_e / f_d never shift in training, but do on "
                f"larger test images; use crop >= {2 ** stages * (m['jscc_window'] + 1)} for a final phase at least "
                "(docs/ntscc.md)"]

    def parameter_groups(self, model, config):
        return [{"params": main_parameters(model)}]

    @staticmethod
    def step_eta(config, step) -> float:
        m = config["model"]
        if not m.get("eta_range"):
            return float(m["eta"])
        lo, hi = m["eta_range"]
        gen = torch.Generator().manual_seed(derive_seed(config.get("seed", 0), "train-eta", int(step)))
        u = float(torch.rand((), generator=gen))
        return math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))

    def _channel(self, model, config):
        key = (id(model), "channel")
        cache = self.__dict__.setdefault("_channels", {})
        if key not in cache:
            dev = next(model.parameters()).device
            cache[key] = make_channel(config, str(dev))
        return cache[key]

    def loss(self, model, batch, config, step):
        m = config["model"]
        snr = train_snr(config, step)
        eta = self.step_eta(config, step)
        out = model(batch, self._channel(model, config), snr, eta=eta, side_capacity=m["side_capacity"])
        d = distortion(m["distortion"], batch, out["x_hat"])
        d_ntc = distortion(m["distortion"], batch, out["x_ntc"]) if m["ntc_weight"] > 0 else torch.zeros(())
        cbr = out["cbr"].mean()
        loss = d + m["ntc_weight"] * d_ntc + m["lambda"] * cbr
        return loss, {
            "distortion": float(d.detach()), "distortion_ntc": float(d_ntc.detach()), "cbr": float(cbr.detach()), "eta": eta, "snr_db": snr,
            "psnr": psnr_batch(batch, out["x_hat"].detach()), "psnr_ntc": psnr_batch(batch, out["x_ntc"].detach()),
            "side_cbr": float((out["side_uses"].detach() / (3.0 * batch.shape[2] * batch.shape[3])).mean()),
        }

    @torch.no_grad()
    def evaluate(self, model, batch, config):
        m = config["model"]
        out = model(batch, self._channel(model, config), eval_snr(config), eta=m["eta"], side_capacity=m["side_capacity"])
        d = distortion(m["distortion"], batch, out["x_hat"])
        cbr = out["cbr"].mean()
        return {"loss": float(d + m["lambda"] * cbr), "psnr": psnr_batch(batch, out["x_hat"]), "cbr": float(cbr),
                "k_mean": float(out["k"].mean())}

    def after_step(self, model, config, step):
        return aux_step(self, model, config["model"]["aux_lr"])

    def finalize(self, model, config):
        model.update(force=True, update_quantiles=True)

    CALIBRATION_BATCHES = 64
    CALIBRATION_ETAS = 8

    @classmethod
    def calibration_etas(cls, config) -> list[float]:
        """The etas the index prior is counted at: log-spaced over ``eta_range``, else the nominal eta."""
        m = config["model"]
        if not m.get("eta_range"):
            return [float(m["eta"])]
        lo, hi = (math.log(v) for v in m["eta_range"])
        n = cls.CALIBRATION_ETAS
        return [round(math.exp(lo + (hi - lo) * i / (n - 1)), 6) for i in range(n)]

    def calibrate(self, model, data, config, batches: int | None = None):
        """Count ``P(index | predicted index)`` (:mod:`ntscc_sim.models.index_coding`) on the
        first ``batches`` training batches at :meth:`calibration_etas`; stored in
        ``model.index_counts`` for ``index_code: context``."""
        from ntscc_sim.models.index_coding import count_indices

        if not model.adaptive:
            return {}
        n = int(batches or self.CALIBRATION_BATCHES)
        etas = self.calibration_etas(config)
        dev = next(model.parameters()).device
        counts = None
        for step in range(n):
            counts = count_indices(model, data.batch(step).to(dev), etas, counts)
        model.set_index_counts(counts)
        return {"batches": n, "images": n * data.batch_size, "etas": etas, "pairs": int(counts.sum())}

    def init_from(self, model, ckpt, config):
        """Algorithm 1 step 1: NTC weights into ``model.ntc``; or a whole NTSCC checkpoint."""
        src = ckpt["state_dict"]
        if ckpt.get("task") == "ntc":
            try:
                model.ntc.load_state_dict(src)
            except RuntimeError as exc:
                raise ValueError(f"init: the NTC checkpoint does not match this model's transforms ({exc})") from None
            loaded = [f"ntc.{k}" for k in src]
            return {"loaded": loaded, "skipped": [k for k in model.state_dict() if k not in set(loaded)]}
        if ckpt.get("task") == "ntscc":
            if model.f_e.nested and "f_e.head.weight" not in src:  # per-rate -> nested fine-tune
                src = nest_rate_heads(src, model.f_e.values)
            model.load_state_dict(src)
            return {"loaded": list(src), "skipped": []}
        return super().init_from(model, ckpt, config)

    def summary(self, config):
        m = config["model"]
        return {"lambda": m["lambda"], "eta": m["eta"], "snr_db": config["channel"]["snr_db"], "variant": m["variant"]}
