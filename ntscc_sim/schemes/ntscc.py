"""Scheme ``ntscc``: trained NTSCC models over the scenario channel (docs/ntscc.md).

Parameters
----------
checkpoint : zoo name or path, or a list (one RD curve through all of them).
eta : list of eta values of eq. (28), the test-time CBR axis (default [0.2]).
side_info : ``capacity`` (default: z bits + rate indices sent at ``C = log2(1 + SNR)``
    bits per channel use, no errors) or an MCS (``16qam-2/3`` / ``{modulation, rate}``):
    the side-information bytes go through the real 5G LDPC + QAM link and a CRC
    failure is an outage: the receiver outputs the ``fallback`` image.
fallback : ``grey`` (default) or ``mean`` (the dataset's per-channel mean), as for the
    separation schemes; only an MCS ``side_info`` can fail.
variant : ``null`` (the checkpoint's own), ``full`` or ``comparison-1`` / ``no-z``
    (evaluation-time ablation: refinement and z switched off).
index_code : ``fixed`` (default, the paper: ``kq = log2 |V|`` bits per rate index) or
    ``context``: rANS with ``P(index | index predicted from the hyperprior)`` fitted on
    training images and stored in the checkpoint (:mod:`ntscc_sim.models.index_coding`;
    fit with ``python -m ntscc_sim.train.index_prior``); z and the indices then travel as one
    rANS string.

Each image is processed on its own, padded to the model's multiple (replicate);
CBR = (sum_i k_i / 2 + side-info channel uses) / (3 H W) of the unpadded image;
``side_bits`` = side-information bits (``payload_bits`` is NaN: y goes analog). The channel noise of an image depends only on its
seed. The transmitter's SNR-independent part (``g_a``, hyperprior, z string, and per eta
the rate allocation and ``f_e``) is computed once per (checkpoint, image) and process and
reused for the other SNRs and etas (:mod:`ntscc_sim.schemes.memo`); the numbers are
the same bit for bit. With ``run.rate_maps: true`` a Fig. 8 map per (image, eta) is written to
``<out>/figures/rate_maps/``.
"""

from __future__ import annotations

import numpy as np
import torch

from ntscc_sim.channels import Channel
from ntscc_sim.config import derive_seed
from ntscc_sim.link import CapacityLink, DigitalLink, parse_mcs
from ntscc_sim.fallback import FALLBACKS, dataset_mean_color, fallback_image
from ntscc_sim.metrics import quality
from ntscc_sim.models.index_coding import INDEX_CODES
from ntscc_sim.scenario import Field, ScenarioError
from ntscc_sim.zoo import checkpoint_list_check

from .base import Scheme
from .memo import MEMO_BYTES, MemoCache

__all__ = ["NTSCCScheme"]


_check_checkpoints = checkpoint_list_check("NTSCC")


def _check_side_info(value, key):
    if value == "capacity":
        return "capacity"
    return parse_mcs(value, key).label


class NTSCCScheme(Scheme):
    """Trained NTSCC checkpoints; one configuration per (checkpoint, eta)."""

    kind = "ntscc"
    uses_gpu = True
    version = "2"  # 2: MMSE (not zero-forcing) equalisation on rayleigh-fast
    PARAMS = {
        "checkpoint": Field("any", check=_check_checkpoints, doc="NTSCC checkpoint(s): zoo name or path, or a list"),
        "eta": Field("list", default=lambda: [0.2], item=Field("number", min=1e-6, max=100), min_len=1, scalar_ok=True,
                     doc="eta of eq. (28): the test-time CBR axis"),
        "side_info": Field("any", default="capacity", check=_check_side_info, doc="capacity | an MCS for z + rate indices"),
        "fallback": Field("str", default="grey", choices=FALLBACKS, doc="receiver output when the side information is lost"),
        "variant": Field("str", default=None, nullable=True, choices=("full", "comparison-1", "no-z"),
                         doc="evaluation-time ablation (default: the checkpoint's variant)"),
        "index_code": Field("str", default="fixed", choices=INDEX_CODES,
                            doc="rate indices: fixed kq bits (paper) | context (rANS with the fitted index prior)"),
    }
    PARAM_COLUMNS = ("checkpoint", "eta", "lambda", "train_snr_db")
    _configs: dict = {}

    @classmethod
    def check_params(cls, params, path, scenario):
        if params["side_info"] == "capacity" and scenario["channel"]["kind"] == "rayleigh-block":
            raise ScenarioError(f"{path}.side_info", "capacity side information is undefined on rayleigh-block fading; give an MCS, e.g. 4qam-1/2")
        if params["index_code"] == "context":
            for name in params["checkpoint"]:
                variant = params["variant"] or cls._checkpoint(name)["config"]["model"].get("variant", "full")
                if variant != "full":
                    raise ScenarioError(f"{path}.index_code", f"context coding predicts the rate indices from z, which variant "
                                        f"{variant!r} does not send (checkpoint {name!r}); use index_code: fixed")
                counts = cls._checkpoint(name)["state_dict"].get("index_counts")
                if counts is None or float(counts.sum()) <= 0:
                    raise ScenarioError(f"{path}.index_code", f"checkpoint {name!r} has no fitted index prior; fit one with "
                                        f"`python -m ntscc_sim.train.index_prior {name}` or use index_code: fixed")
        return params

    def fingerprint(self):
        # capacity side information never fails, so the fallback cannot change a result;
        # index_code: fixed is what every result before the parameter existed used
        drop = ("checkpoint", "eta") + (("fallback",) if self.params["side_info"] == "capacity" else ())
        context = self.params.get("index_code", "fixed") == "context"
        drop += () if context else ("index_code",)
        fp = {k: v for k, v in self.params.items() if k not in drop}
        if context:  # z and the indices in one rANS string (earlier context results: two strings + length)
            fp["side_stream"] = "single"
        return fp

    # --- configurations -------------------------------------------------------------
    @classmethod
    def _train_config(cls, name: str) -> dict:
        return cls._checkpoint(name)["config"]

    @classmethod
    def _checkpoint(cls, name: str) -> dict:
        from ntscc_sim import zoo

        path = zoo.resolve(name)
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)  # a rewritten file (e.g. a fitted index prior) is read again
        if key not in cls._configs:
            ckpt = zoo.read(path)
            if ckpt.get("task") != "ntscc":
                raise ValueError(f"{name}: a {ckpt.get('task')!r} checkpoint, expected an ntscc one")
            cls._configs[key] = {"config": ckpt["config"], "state_dict": {"index_counts": ckpt["state_dict"].get("index_counts")}}
        return cls._configs[key]

    def configurations(self):
        out = []
        for ck in self.params["checkpoint"]:
            cfg = self._train_config(ck)
            snr = cfg["channel"]["snr_db"]
            train_snr = float(snr) if not isinstance(snr, (list, tuple)) else None
            for eta in self.params["eta"]:
                out.append({"checkpoint": ck, "eta": float(eta), "lambda": float(cfg["model"]["lambda"]), "train_snr_db": train_snr})
        return out

    # --- running --------------------------------------------------------------------
    def setup(self):
        ch = self.context.channel
        self.device = self.context.device
        self.channel = Channel(ch["kind"], ch["csi"], ch["coherence"], self.device)
        self.ms_ssim = "ms_ssim" in self.context.metrics
        self.rate_maps = bool(self.context.options.get("rate_maps")) and self.context.out_dir is not None
        self._maps_written: set = set()  # one map per (entry, image, eta) and run: the SNR does not change it
        self.multi = len(self.params["checkpoint"]) > 1
        self.fallback = self.params.get("fallback", "grey")
        digital = self.params["side_info"] != "capacity"
        self.mean_color = dataset_mean_color(self.context.dataset) if digital and self.fallback == "mean" else None
        # shared with the other ntscc entries of the run: the same checkpoint and image give the
        # same analysis, symbols and strings whatever the side-info mode, index code or variant
        self._memos = self.context.shared.setdefault("ntscc-memos", MemoCache(MEMO_BYTES))

    def _model(self, name):
        from ntscc_sim import zoo

        return zoo.load(name, self.device, kind="ntscc", cache=True)[1]

    def _side_link(self, snr_db):
        return DigitalLink(parse_mcs(self.params["side_info"], "side_info"), Channel(self.channel.kind, self.channel.csi, self.channel.coherence, "cpu"))

    @staticmethod
    def _index_bytes(index: torch.Tensor, bits: int) -> bytes:
        if bits == 0:
            return b""
        idx = index.reshape(-1).cpu().numpy().astype(np.uint32)
        shifts = np.arange(bits - 1, -1, -1, dtype=np.uint32)
        return np.packbits(((idx[:, None] >> shifts) & 1).astype(np.uint8).reshape(-1)).tobytes()

    @torch.no_grad()
    def run(self, config, snr_db, images, seeds):
        model = self._model(config["checkpoint"])
        eta = float(config["eta"])
        variant = self.params["variant"]
        if variant == "full":
            variant = None
        digital = self.params["side_info"] != "capacity"
        index_code = self.params.get("index_code", "fixed")
        ideal = None if digital else CapacityLink.for_channel(self.channel.kind, snr_db)
        cap = None if digital else ideal.design
        rows = []
        from ntscc_sim.models.ntc import pad_to

        for (image_id, img), seed in zip(images, seeds):
            h, w = img.shape[:2]
            x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float().div(255.0).to(self.device)
            x = pad_to(x, model.pad_multiple)
            out = model(x, self.channel, snr_db, eta=eta, seeds=[derive_seed(seed, "analog")], pixels=[h * w],
                        z_strings=True, side_capacity=cap if cap is not None else 1.0, variant=variant,
                        memo=self._memos.get((config["checkpoint"], image_id, img.shape)), index_code=index_code)
            three_hw = 3 * h * w
            y_uses = float(out["y_uses"][0])
            outage = 0
            if digital:
                z = out["z_string"][0] if out["z_string"] is not None else b""
                if not model.adaptive:
                    payload = z
                elif index_code == "context":  # z and the indices in one rANS string
                    payload = out["side_string"][0]
                else:  # the paper: z string, then kq bits per patch
                    payload = z + self._index_bytes(out["index"][0], model.allocator.bits_per_patch)
                side_bits = 8 * len(payload)
                if payload:
                    link = self._side_link(snr_db)
                    received, txs = link.send([payload], snr_db, [derive_seed(seed, "side-info")])
                    side_uses = float(txs[0].symbols)
                    outage = int(received[0] != payload)
                else:
                    side_uses = 0.0
            else:
                side_bits = float(out["side_bits"][0])
                side_uses = ideal.channel_uses(side_bits)
            if outage:
                rec = fallback_image(img, self.fallback, self.mean_color)
            else:
                x_hat = out["x_hat"][0, :, :h, :w].clamp(0, 1)
                rec = np.clip(np.rint(x_hat.permute(1, 2, 0).cpu().numpy() * 255.0), 0, 255).astype(np.uint8)
            score = quality(img, rec, ms_ssim=self.ms_ssim)
            rows.append({
                "cbr": (y_uses + side_uses) / three_hw, "payload_bits": float("nan"), "side_bits": side_bits, "psnr": score["psnr"],
                "ms_ssim_db": score["ms_ssim_db"], "outage": outage,
            })
            if self.rate_maps:
                self._write_map(config, image_id, img, out, model, eta)
            self._memos.settle()
        return rows

    def _write_map(self, config, image_id, img, out, model, eta):
        from pathlib import Path

        from ntscc_sim.models.rate_map import rate_map_path, save_rate_map

        name = self.name if not self.multi else f"{self.name}-{Path(str(config['checkpoint'])).stem}"
        path = rate_map_path(self.context.out_dir, name, image_id, eta)
        if path in self._maps_written:
            return  # a file left by an earlier run (other weights, perhaps) is replaced, not kept
        self._maps_written.add(path)
        k = out["k"][0].cpu().numpy()
        patch = 2**model.ntc.stages
        title = f"{config['checkpoint']}  lambda={config['lambda']:g}  eta={eta:g}  CBR(y)={float(out['y_uses'][0]) / (3 * img.shape[0] * img.shape[1]):.4f}"
        save_rate_map(path, img, k, patch, values=model.allocator.values, title=title)

    def describe(self):
        return f"{self.name} (ntscc: {', '.join(self.params['checkpoint'])})"

