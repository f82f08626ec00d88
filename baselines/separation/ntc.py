"""NTC + LDPC and NTC + capacity: the separation links with a trained NTC as source codec.

Identical to ``bpg-ldpc`` / ``bpg-capacity`` with
:class:`baselines.separation.ntc_codec.NTCCodec` instead of BPG. ``checkpoint`` is a zoo
name / path or a list of them (the qualities, numbered by lambda, largest first). Rate
matching is the codec's encoder-side choice (:meth:`NTCCodec.choose`): of the streams that
fit the budget, the one whose reconstruction is best, so mixed checkpoint families are safe.
The ``qp`` column holds the quality index, ``ntc_lambda`` its lambda.
"""

from __future__ import annotations

import numpy as np

from ntscc_sim.zoo import checkpoint_list_check
from ntscc_sim.scenario import Field

from .schemes import BPGCapacityScheme, BPGLDPCScheme


_check_checkpoints = checkpoint_list_check("NTC")


CHECKPOINT_FIELD = Field("any", check=_check_checkpoints, doc="NTC checkpoint(s): zoo name or path, or a list (the qualities)")


class _NTCMixin:
    def make_codec(self):
        from .ntc_codec import NTCCodec

        return NTCCodec(self.params["checkpoint"], device="cpu")

    def setup(self):
        super().setup()
        # ntc-capacity and ntc-ldpc entries over the same checkpoints share one codec and scorer
        # (encodings and decoded scores) per run: the bitstreams do not depend on the link
        ckpts = self.params["checkpoint"]
        sc = self.scorer
        key = ("ntc-source", tuple([ckpts] if isinstance(ckpts, str) else ckpts), sc.ms_ssim, sc.fallback,
               None if sc.mean_color is None else tuple(np.asarray(sc.mean_color).ravel().tolist()))
        self.codec, self.scorer = self.context.shared.setdefault(key, (self.codec, self.scorer))

    def fingerprint(self):
        # results of the former choice (largest fitting lambda) are never reused
        return super().fingerprint() | {"ntc_choice": "best-fitting-reconstruction"}

    def run(self, config, snr_db, images, seeds):
        rows = super().run(config, snr_db, images, seeds)
        for r in rows:
            q = r.get("qp")
            r["ntc_lambda"] = self.codec.lambdas[q] if q is not None else None
        return rows


class NTCLDPCScheme(_NTCMixin, BPGLDPCScheme):
    """NTC + 5G LDPC + QAM over the scenario channel (fixed MCS or an MCS envelope)."""

    kind = "ntc-ldpc"
    PARAMS = {k: v for k, v in BPGLDPCScheme.PARAMS.items() if k != "backend"} | {"checkpoint": CHECKPOINT_FIELD}
    PARAM_COLUMNS = BPGLDPCScheme.PARAM_COLUMNS + ("ntc_lambda",)
    PER_IMAGE_COLUMNS = ("qp", "ntc_lambda")


class NTCCapacityScheme(_NTCMixin, BPGCapacityScheme):
    """NTC + an ideal capacity-achieving channel code (no channel simulation)."""

    kind = "ntc-capacity"
    PARAMS = {k: v for k, v in BPGCapacityScheme.PARAMS.items() if k != "backend"} | {"checkpoint": CHECKPOINT_FIELD}
    PARAM_COLUMNS = BPGCapacityScheme.PARAM_COLUMNS + ("ntc_lambda",)
    PER_IMAGE_COLUMNS = ("qp", "ntc_lambda")
