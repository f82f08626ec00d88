"""Separation schemes: source codec (BPG) + 5G LDPC + QAM, or + an ideal capacity-achieving code.

``bpg-ldpc``: real bits through a real LDPC code over the simulated channel.
``bpg-capacity``: the budget is what a capacity-achieving code could carry,
``CBR * 3HW * C`` bits, with no channel simulation (docs/separation.md).
"""

from __future__ import annotations

import math

import numpy as np

from ntscc_sim.channels import Channel
from ntscc_sim.config import derive_seed
from ntscc_sim.link import MCS, CapacityLink, DigitalLink, max_payload_bits, parse_mcs_list
from ntscc_sim.scenario import Field, ScenarioError
from ntscc_sim.scenario.fields import fraction
from ntscc_sim.schemes.base import Scheme, config_key

from .source import Scorer, choose_quality, dataset_mean_color


def _cbr_list(value, key):
    out = []
    for i, v in enumerate(value):
        c = fraction(v, f"{key}[{i}]")
        if not 0 < c <= 3:
            raise ScenarioError(f"{key}[{i}]", f"CBR must be in (0, 3], got {v!r}")
        out.append(c)
    return out


def _check_code(value, key):
    if not isinstance(value, dict):
        raise ScenarioError(key, f"expected {{k: 4096, n: 6144}}, got {value!r}")
    unknown = set(value) - {"k", "n"}
    if unknown:
        raise ScenarioError(f"{key}.{sorted(unknown)[0]}", "unknown key; a code has 'k' and optionally 'n'")
    k = value.get("k", 4096)
    if isinstance(k, bool) or not isinstance(k, int) or not 64 <= k <= 8448:
        raise ScenarioError(f"{key}.k", f"k must be an integer in [64, 8448] (5G LDPC), got {k!r}")
    n = value.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n <= k):
        raise ScenarioError(f"{key}.n", f"n must be an integer > k, got {n!r}")
    return {"k": k, "n": n}


def _make_codec(params, context):
    from baselines.bpg import BPGCodec

    cache = None if context.cache_dir is None else f"{context.cache_dir}/bpg"
    return BPGCodec(backend=params.get("backend", "auto"), cache_dir=cache, compress_level=params.get("compress_level", 8))


class _SeparationBase(Scheme):
    digital = True

    def setup(self) -> None:
        self.codec = self.make_codec()
        mean = dataset_mean_color(self.context.dataset) if self.params.get("fallback") == "mean" else None
        self.scorer = Scorer("ms_ssim" in self.context.metrics, self.params.get("fallback", "grey"), mean)
        self._choice: dict = {}
        self._sizes: dict = {}

    def make_codec(self):
        return _make_codec(self.params, self.context)

    def choose(self, image_id, image, budget_bits):
        """``(quality, bytes)`` of the best encoding that fits ``budget_bits``: the codec's own
        ``choose`` when it has one (NTC), else :func:`choose_quality`. Rate matching starts
        from the image's known sizes: the codec's when it shares them (BPG: every scheme and the
        disk cache), else this scheme's earlier budgets. Only the quality is remembered (the bytes
        come back from the codec's bounded caches), so memory does not grow with the dataset."""
        key = (image_id, budget_bits)
        if key in self._choice:
            q = self._choice[key]
            return q, (None if q is None else self.codec.encode(image, q))
        if hasattr(self.codec, "choose"):  # the codec's own encoder-side choice (NTC)
            q, data = self.codec.choose(image, budget_bits)
            assert data is None or len(data) * 8 <= budget_bits, "rate matching overspent the budget"
        else:
            if hasattr(self.codec, "known_sizes"):
                sizes = self.codec.known_sizes(image)
            else:
                sizes = self._sizes.setdefault((image_id, image.shape), {})
            q, data = choose_quality(self.codec, image, budget_bits, sizes)
        self._choice[key] = q
        return q, data

    def recon_score(self, image_id, image, q, data):
        return self.scorer.score((image_id, q), image, lambda: self.codec.decode(data, image.shape[:2]))


class BPGLDPCScheme(_SeparationBase):
    """BPG + 5G LDPC + QAM over the scenario channel (fixed MCS or an MCS envelope)."""

    kind = "bpg-ldpc"
    PARAMS = {
        "cbr": Field("list", item=Field("any"), min_len=1, scalar_ok=True, check=_cbr_list, doc="target CBRs"),
        "mcs": Field("any", default="envelope", doc="{modulation, rate} | 'envelope' | list of MCS"),
        "code": Field("any", default=lambda: {"k": 4096, "n": None}, check=_check_code, doc="{k: 4096, n: 6144}"),
        "fallback": Field("str", default="grey", choices=("grey", "mean")),
        "decoder": Field("str", default="minsum", choices=("minsum", "sionna-bp")),
        "num_iter": Field("int", default=20, min=1, max=200),
        "demapper": Field("str", default="app", choices=("app", "maxlog", "sionna-app"), doc="QAM LLRs: exact (ours), max-log, or Sionna's Demapper('app')"),
        "residual_errors": Field("bool", default=False, doc="pass CRC-failed bits to the BPG decoder"),
        "backend": Field("str", default="auto", choices=("auto", "bpgenc", "x265")),
        "compress_level": Field("int", default=8, min=1, max=9, doc="bpgenc -m (8 = its default, x265 veryslow)"),
    }
    PARAM_COLUMNS = ("target_cbr", "mcs", "qp", "code_k")
    PER_IMAGE_COLUMNS = ("qp",)

    @classmethod
    def check_params(cls, params, path, scenario):
        mcs = parse_mcs_list(params["mcs"], f"{path}.mcs")
        n = params["code"]["n"]
        if n is not None:
            if len(mcs) != 1:
                raise ScenarioError(f"{path}.code.n", "code.n fixes the rate, so it needs a single MCS (the rate comes from mcs.rate otherwise)")
            if abs(params["code"]["k"] / n - mcs[0].rate) > 1e-3:
                raise ScenarioError(f"{path}.code.n", f"k/n = {params['code']['k']}/{n} does not match mcs rate {mcs[0].rate:.4f}")
        return params

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        self.mcs_list: list[MCS] = parse_mcs_list(params["mcs"], "mcs")

    def fingerprint(self):
        return {k: v for k, v in self.params.items() if k not in ("cbr", "mcs")}

    @property
    def envelope(self) -> bool:
        return len(self.mcs_list) > 1

    def configurations(self):
        return [{"target_cbr": c, "mcs": m.label} for c in self.params["cbr"] for m in self.mcs_list]

    def row_name(self, config):
        return f"{self.name} [{config['mcs']}]" if self.envelope else self.name

    def setup(self):
        super().setup()
        self.channel = Channel(self.context.channel["kind"], self.context.channel["csi"], self.context.channel["coherence"], "cpu")
        self._mcs = {m.label: m for m in self.mcs_list}

    def run(self, config, snr_db, images, seeds):
        mcs = self._mcs[config["mcs"]]
        k = self.params["code"]["k"]
        link = DigitalLink(mcs, self.channel, k=k, decoder=self.params["decoder"], num_iter=self.params["num_iter"], demapper=self.params.get("demapper", "app"))
        plan = []
        for image_id, img in images:
            uses = math.floor(config["target_cbr"] * 3 * img.shape[0] * img.shape[1])
            budget = max_payload_bits(uses, k, mcs.rate, mcs.bits_per_symbol)
            q, data = self.choose(image_id, img, budget)
            plan.append((q, data, budget))
        send_idx = [i for i, (q, _, _) in enumerate(plan) if q is not None]
        received, txs = ({}, {})
        if send_idx:
            rx, tx = link.send([plan[i][1] for i in send_idx], snr_db, [seeds[i] for i in send_idx], self.params["residual_errors"])
            received = dict(zip(send_idx, rx))
            txs = dict(zip(send_idx, tx))
        rows = []
        for i, (image_id, img) in enumerate(images):
            q, data, budget = plan[i]
            three_hw = 3 * img.shape[0] * img.shape[1]
            row = {"qp": q, "code_k": k, "payload_bits": len(data) * 8 if data else 0}
            if q is None:  # nothing fits: outage, nothing sent
                row.update(cbr=0.0, outage=1, **self._metrics(self.scorer.score_fallback(image_id, img)))
            else:
                sent = txs[i].symbols
                assert sent <= math.floor(config["target_cbr"] * three_hw), "link overspent its budget"
                row["cbr"] = sent / three_hw
                rx = received[i]
                if rx == data:
                    row.update(outage=0, **self._metrics(self.recon_score(image_id, img, q, data)))
                else:
                    score = None
                    if rx is not None:  # residual-error mode or an undetected error
                        try:
                            from ntscc_sim.metrics import quality

                            score = quality(img, self.codec.decode(rx, img.shape[:2]), ms_ssim=self.scorer.ms_ssim)
                        except Exception:
                            score = None
                    if score is None:
                        row.update(outage=1, **self._metrics(self.scorer.score_fallback(image_id, img)))
                    else:
                        row.update(outage=1, **self._metrics(score))
            rows.append(row)
        return rows

    @staticmethod
    def _metrics(score):
        return {"psnr": score["psnr"], "ms_ssim_db": score["ms_ssim_db"]}

    def derived_rows(self, points):
        """The MCS envelope: per (SNR, target CBR), the member MCS with the best mean PSNR."""
        if not self.envelope or points.empty:
            return []
        names = {self.row_name({"mcs": m.label}) for m in self.mcs_list}
        df = points[points["scheme"].isin(names)]
        out = []
        for (snr, cbr), grp in df.groupby(["snr_db", "target_cbr"], sort=True):
            means = grp.groupby("mcs")["psnr"].mean()
            best = means.idxmax()
            for _, r in grp[grp["mcs"] == best].iterrows():
                row = r.to_dict()
                row.update(scheme=self.name, config=config_key({"target_cbr": float(cbr), "mcs": "envelope"}), derived=1)
                out.append(row)
        return out


class BPGCapacityScheme(_SeparationBase):
    """BPG + an ideal capacity-achieving channel code (no channel simulation)."""

    kind = "bpg-capacity"
    PARAMS = {
        "cbr": Field("list", item=Field("any"), min_len=1, scalar_ok=True, check=_cbr_list, doc="target CBRs"),
        "fallback": Field("str", default="grey", choices=("grey", "mean")),
        "backend": Field("str", default="auto", choices=("auto", "bpgenc", "x265")),
        "compress_level": Field("int", default=8, min=1, max=9, doc="bpgenc -m (8 = its default, x265 veryslow)"),
    }
    PARAM_COLUMNS = ("target_cbr", "qp")
    PER_IMAGE_COLUMNS = ("qp",)

    def fingerprint(self):
        return {k: v for k, v in self.params.items() if k != "cbr"}

    def configurations(self):
        return [{"target_cbr": c} for c in self.params["cbr"]]

    def run(self, config, snr_db, images, seeds):
        kind = self.context.channel["kind"]
        rows = []
        for (image_id, img), seed in zip(images, seeds):
            three_hw = 3 * img.shape[0] * img.shape[1]
            uses = math.floor(config["target_cbr"] * three_hw)
            # rayleigh-block: the code is designed at the AWGN rate; outage when |h|^2 is too small
            gain = float(np.random.default_rng(derive_seed(seed, "block-gain")).exponential(1.0)) if kind == "rayleigh-block" else None
            link = CapacityLink.for_channel(kind, snr_db, gain)
            budget = link.budget_bits(uses)
            q, data = self.choose(image_id, img, budget)
            if q is None:
                rows.append({"qp": None, "payload_bits": 0, "cbr": 0.0, "outage": 1, **BPGLDPCScheme._metrics(self.scorer.score_fallback(image_id, img))})
                continue
            bits = len(data) * 8
            needed_uses = link.channel_uses(bits)
            assert needed_uses <= uses + 1e-9
            row = {"qp": q, "payload_bits": bits, "cbr": needed_uses / three_hw}
            if link.outage(bits):
                row.update(outage=1, **BPGLDPCScheme._metrics(self.scorer.score_fallback(image_id, img)))
            else:
                row.update(outage=0, **BPGLDPCScheme._metrics(self.recon_score(image_id, img, q, data)))
            rows.append(row)
        return rows
