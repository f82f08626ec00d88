"""Scheme ``deep-jscc``: trained deep JSCC checkpoints evaluated over the scenario channel.

Scenario keys::

    - name: deep JSCC
      kind: deep-jscc
      checkpoint: [deepjscc-cifar10-awgn10-c4, deepjscc-cifar10-awgn10-c8]   # zoo names or paths

Each checkpoint is one configuration (row columns ``checkpoint``, ``train_snr_db``
— NaN for models trained on an SNR range — and ``target_cbr`` = c/48). The model is
run over the *scenario's* channel (kind, csi, coherence), whatever it was trained on.
Images of any size are coded fully convolutionally; same-size images are batched
in passes of a fixed size, and the channel noise of every image is drawn from its
own seed, so rows do not depend on the batching (bit for bit). Without ``snr_input`` the
encoder output of a pass is computed once per process and reused at the other SNRs. ``cbr`` counts the
complex symbols actually sent over the unpadded 3HW; ``payload_bits`` and
``side_bits`` are NaN (analog scheme, nothing digital) and ``outage`` 0.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import torch

from ntscc_sim.metrics import quality, to_uint8
from ntscc_sim.scenario import Field, ScenarioError
from ntscc_sim.schemes.base import Scheme

# Network passes have a fixed shape so that every image sees the same numerics whatever
# the grouping (oneDNN may pick a different convolution algorithm for another batch size,
# changing the last bits): small images go in passes of exactly PASS_IMAGES (the last
# pass is padded with copies), images of LARGE_PIXELS or more one at a time.
PASS_IMAGES = 16
LARGE_PIXELS = 256 * 256


def _train_snr(config: dict) -> float:
    spec = config["channel"]["snr_db"]
    return float("nan") if isinstance(spec, (list, tuple)) else float(spec)


class DeepJSCCScheme(Scheme):
    """Deep JSCC (Bourtsoulatze et al. 2019) from one or more trained checkpoints."""

    kind = "deep-jscc"
    uses_gpu = True
    version = "2"  # 2: MMSE (not zero-forcing) equalisation on rayleigh-fast
    PARAMS = {
        "checkpoint": Field("list", item=Field("str"), min_len=1, scalar_ok=True,
                            doc="zoo names or checkpoint paths (model.pt or a run folder); one configuration each"),
    }
    PARAM_COLUMNS = ("checkpoint", "train_snr_db", "target_cbr")

    @classmethod
    def check_params(cls, params, path, scenario):
        from ntscc_sim import zoo

        seen = set()
        for i, name in enumerate(params["checkpoint"]):
            key = f"{path}.checkpoint[{i}]"
            if name in seen:
                raise ScenarioError(key, f"checkpoint {name!r} is listed twice")
            seen.add(name)
            try:
                ckpt = zoo.read(name)
            except (OSError, ValueError, RuntimeError, pickle.UnpicklingError) as exc:
                raise ScenarioError(key, str(exc)) from None
            if ckpt["task"] != "deep-jscc":
                raise ScenarioError(key, f"{name!r} is a {ckpt['task']!r} checkpoint, not deep-jscc")
        return params

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        self._configs: dict[str, dict] = {}
        self._models: dict[str, torch.nn.Module] = {}

    def fingerprint(self):
        return {k: v for k, v in self.params.items() if k != "checkpoint"}

    def _train_config(self, name: str) -> dict:
        if name not in self._configs:
            from ntscc_sim import zoo

            self._configs[name] = zoo.read(name)["config"]
        return self._configs[name]

    def configurations(self):
        out = []
        for name in self.params["checkpoint"]:
            cfg = self._train_config(name)
            out.append({"checkpoint": name, "train_snr_db": _train_snr(cfg), "target_cbr": cfg["model"]["c"] / 48})
        return out

    def model(self, name: str):
        """The model of checkpoint ``name`` on the scenario device, set to the scenario channel."""
        if name not in self._models:
            from ntscc_sim.zoo import load

            _, model, _, _ = load(name, self.context.device)
            ch = self.context.channel
            model.set_channel(ch.get("kind", "awgn"), ch.get("csi", "perfect"), ch.get("coherence"))
            self._models[name] = model
        return self._models[name]

    def setup(self):
        from ntscc_sim.schemes.memo import MEMO_BYTES, MemoCache

        for name in self.params["checkpoint"]:
            self.model(name)
        self._memos = MemoCache(MEMO_BYTES // 4)

    @torch.no_grad()
    def run(self, config, snr_db, images, seeds):
        model = self.model(config["checkpoint"])
        device = self.context.device
        want_ms = "ms_ssim" in self.context.metrics
        groups: dict[tuple, list[int]] = {}
        for i, (_, img) in enumerate(images):
            groups.setdefault(img.shape[:2], []).append(i)
        rows: list[dict | None] = [None] * len(images)
        for (h, w), idx in groups.items():
            per_pass = 1 if h * w >= LARGE_PIXELS else PASS_IMAGES
            for start in range(0, len(idx), per_pass):
                part = idx[start : start + per_pass]
                fill = part + [part[-1]] * (per_pass - len(part))
                x = torch.from_numpy(np.stack([images[i][1] for i in fill])).to(device)
                x = x.permute(0, 3, 1, 2).float() / 255.0
                memo = self._memos.get((config["checkpoint"], tuple(images[i][0] for i in fill), (h, w)))
                out = model(x, float(snr_db), seeds=[seeds[i] for i in fill], memo=memo)
                self._memos.settle()
                sent = out["symbols"]
                for j, i in enumerate(part):
                    img = images[i][1]
                    q = quality(img, to_uint8(out["x_hat"][j]), ms_ssim=want_ms)
                    rows[i] = {"cbr": sent / (3 * h * w), "payload_bits": math.nan, "side_bits": math.nan, "psnr": q["psnr"],
                               "ms_ssim_db": q["ms_ssim_db"], "outage": 0}
        return rows
