"""Nonlinear transform source-channel coding (NTSCC), paper Sec. III (Figs. 4-7).

Transmitter: ``y = g_a(x)``; ``z = h_a(y)`` is quantised and sent digitally (side
information); ``(mu, sigma) = h_s(z_bar)`` give ``-log2 P(y_bar_i | z_bar)`` per latent
patch, which eq. (28) maps to a bandwidth ``k_i`` in ``V`` (:mod:`.rate_allocation`);
``f_e`` (rate tokens + ``N_e`` shared Transformer blocks + one light FC head per
rate) turns each ``y_i`` into ``k_i`` real symbols; pairs form complex channel
uses, power-normalised per image over the symbols actually sent.
Receiver: ``f_d*`` (per-rate FC back to a common width + rate tokens + ``N_d``
Transformer blocks + a two-layer MLP refinement with ``mu, sigma``, eq. (19)) and
``x_hat = g_s(y_hat)``.

Variants (``variant``): ``full``; ``comparison-1`` (alias ``no-z``: no refinement,
z not sent); ``comparison-2`` (additionally no rate adaptation: every patch gets
``fixed_k`` symbols, no rate tokens, no index bits).

Bandwidth accounting (per image, :meth:`NTSCC.forward`): ``sum_i k_i / 2`` complex
channel uses + side information ``bits / C`` where bits = z bits (the rANS string,
or ``-log2 P(z)`` in training) + ``kq`` bits per patch; CBR divides by ``3 H W``
of the unpadded image.

Example
-------
>>> from ntscc_sim.channels import Channel
>>> model = build_ntscc({"N": 16, "M": 32, "stages": 2, "jscc_dim": 32, "jscc_depth_enc": 1,
...                      "jscc_depth_dec": 1, "jscc_heads": 2, "rate_values": [4, 8, 16, 32]})
>>> out = model(torch.rand(2, 3, 32, 32), Channel("awgn"), 10.0, eta=0.2)
>>> tuple(out["x_hat"].shape), tuple(out["index"].shape), tuple(out["cbr"].shape)
((2, 3, 32, 32), (2, 8, 8), (2,))
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ntscc_sim.channels import Channel, capacity, noise_variance, normalize_power

from ntscc_sim._compressai import compressai  # noqa: F401
from compressai.models import CompressionModel  # noqa: E402

from .ntc import NTC, TRANSFORM_DEFAULTS, build_ntc  # noqa: E402
from .rate_allocation import RateAllocator, default_rate_values, patch_information  # noqa: E402
from .swin import SwinStage  # noqa: E402

__all__ = ["JSCCDecoder", "JSCCEncoder", "NTSCC", "NTSCC_DEFAULTS", "VARIANTS", "build_ntscc", "transmit"]

VARIANTS = {  # name -> (adaptive rate, refinement with mu/sigma, z sent)
    "full": (True, True, True),
    "comparison-1": (True, False, False),
    "no-z": (True, False, False),
    "comparison-2": (False, False, False),
}

NTSCC_DEFAULTS = {
    "jscc_dim": None,  # width of f_e / f_d tokens (default M)
    "jscc_depth_enc": 4,  # N_e
    "jscc_depth_dec": 4,  # N_d
    "jscc_heads": 8,
    "jscc_window": 8,  # attention window over the latent grid
    "rate_values": None,  # V (default: 16 even values 16..256)
    "variant": "full",
    "jscc_rate_heads": "per-rate",  # per-rate FC layers (paper) or one nested FC (prefixes)
    "fixed_k": 64,  # comparison-2: real symbols per patch
}


class JSCCEncoder(nn.Module):
    """f_e: ``y [B, M, h, w]`` + rate indices ``[B, h, w]`` -> symbols ``[B, h*w, K]`` and a send mask.

    ``K = max(V)``; patch i's first ``V[index_i]`` entries are its symbols, the rest
    are zero and masked out. ``rate_heads``: ``per-rate`` (the paper: one FC layer ``dim -> v``
    per rate value) or ``nested`` (one FC layer ``dim -> K`` whose first ``v`` outputs are
    sent: every rate trains the symbols all larger rates share).
    """

    def __init__(self, M: int, dim: int, depth: int, heads: int, window: int, values, rate_tokens: bool = True,
                 rate_heads: str = "per-rate"):
        super().__init__()
        self.values = list(values)
        self.nested = _nested(rate_heads)
        self.inp = nn.Linear(M, dim)
        self.rate_tokens = nn.Parameter(torch.zeros(len(self.values), dim)) if rate_tokens else None
        if rate_tokens:
            nn.init.trunc_normal_(self.rate_tokens, std=0.02)
        self.blocks = SwinStage(dim, depth, heads, window)
        self.norm = nn.LayerNorm(dim)
        if self.nested:
            self.head = nn.Linear(dim, max(self.values))
        else:
            self.heads = nn.ModuleList(nn.Linear(dim, v) for v in self.values)

    def forward(self, y: torch.Tensor, index: torch.Tensor):
        b, _, h, w = y.shape
        t = self.inp(y.permute(0, 2, 3, 1))
        if self.rate_tokens is not None:
            t = t + self.rate_tokens[index]
        t = self.norm(self.blocks(t)).reshape(b * h * w, -1)
        flat = index.reshape(-1)
        kmax = max(self.values)
        lengths = torch.tensor(self.values, device=y.device)[flat]
        mask = torch.arange(kmax, device=y.device)[None] < lengths[:, None]
        if self.nested:
            out = self.head(t).float() * mask  # float32 like the per-rate path (autocast)
        else:
            out = t.new_zeros(b * h * w, kmax)
            for j, (v, head) in enumerate(zip(self.values, self.heads)):
                rows = (flat == j).nonzero().squeeze(1)
                if rows.numel():
                    out = out.index_copy(0, rows, nn.functional.pad(head(t[rows]), (0, kmax - v)))
        return out.view(b, h * w, kmax), mask.view(b, h * w, kmax)


class JSCCDecoder(nn.Module):
    """f_d*: received symbols ``[B, h*w, K]`` + indices -> ``y_hat [B, M, h, w]``.

    Per-rate FC layers (``nested``: one FC layer on the zero-padded ``K`` symbols) lift each
    patch's ``V[index_i]`` symbols to ``dim``; rate tokens are added; ``N_d`` Transformer blocks; FC to ``M`` gives ``y_check``; with
    ``refine`` a two-layer MLP on ``(y_check, mu, sigma)`` adds a correction (eq. (19)).
    """

    def __init__(self, M: int, dim: int, depth: int, heads: int, window: int, values, rate_tokens: bool = True, refine: bool = True,
                 rate_heads: str = "per-rate"):
        super().__init__()
        self.values = list(values)
        self.nested = _nested(rate_heads)
        if self.nested:
            self.head = nn.Linear(max(self.values), dim)
        else:
            self.heads = nn.ModuleList(nn.Linear(v, dim) for v in self.values)
        self.rate_tokens = nn.Parameter(torch.zeros(len(self.values), dim)) if rate_tokens else None
        if rate_tokens:
            nn.init.trunc_normal_(self.rate_tokens, std=0.02)
        self.blocks = SwinStage(dim, depth, heads, window)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, M)
        self.refine = nn.Sequential(nn.Linear(3 * M, 2 * M), nn.GELU(), nn.Linear(2 * M, M)) if refine else None
        self.dim = dim

    def forward(self, s_hat: torch.Tensor, index: torch.Tensor, means=None, scales=None, refine: bool = True):
        b, h, w = index.shape
        flat = index.reshape(-1)
        s = s_hat.reshape(b * h * w, -1)
        if self.nested:  # unsent symbols are zero (transmit masks them)
            t = self.head(s).float()
        else:
            t = s.new_zeros(b * h * w, self.dim)
            for j, (v, head) in enumerate(zip(self.values, self.heads)):
                rows = (flat == j).nonzero().squeeze(1)
                if rows.numel():
                    t = t.index_copy(0, rows, head(s[rows, :v]))
        t = t.view(b, h, w, self.dim)
        if self.rate_tokens is not None:
            t = t + self.rate_tokens[index]
        y_check = self.out(self.norm(self.blocks(t)))  # [B, h, w, M]
        if self.refine is not None and refine:
            mu = torch.zeros_like(y_check) if means is None else means.permute(0, 2, 3, 1)
            sigma = scales.permute(0, 2, 3, 1)
            y_check = y_check + self.refine(torch.cat([y_check, mu, sigma], dim=-1))
        return y_check.permute(0, 3, 1, 2).contiguous()


RATE_HEADS = ("per-rate", "nested")


def _nested(rate_heads: str) -> bool:
    if rate_heads not in RATE_HEADS:
        raise ValueError(f"rate_heads {rate_heads!r}: choose from {list(RATE_HEADS)}")
    return rate_heads == "nested"


def nest_rate_heads(state_dict: dict, values) -> dict:
    """Convert a ``per-rate`` f_e / f_d state dict to ``nested`` (fine-tuning a per-rate model):
    output row (encoder) / input column (decoder) ``r`` of the shared layer is taken from the
    smallest rate value ``v > r`` (the most often trained head that sends symbol ``r``); the
    decoder bias is the mean of the per-rate biases."""
    values = sorted(values)
    out = {k: v for k, v in state_dict.items() if ".heads." not in k}
    for side in ("f_e", "f_d"):
        ws = {v: state_dict[f"{side}.heads.{j}.weight"] for j, v in enumerate(values) if f"{side}.heads.{j}.weight" in state_dict}
        bs = {v: state_dict[f"{side}.heads.{j}.bias"] for j, v in enumerate(values) if f"{side}.heads.{j}.bias" in state_dict}
        if not ws:
            continue
        kmax = values[-1]
        owner = [next(v for v in values if v > r) for r in range(kmax)]
        if side == "f_e":  # weight [v, dim]
            out[f"{side}.head.weight"] = torch.stack([ws[owner[r]][r] for r in range(kmax)])
            out[f"{side}.head.bias"] = torch.stack([bs[owner[r]][r] for r in range(kmax)])
        else:  # weight [dim, v]
            out[f"{side}.head.weight"] = torch.stack([ws[owner[r]][:, r] for r in range(kmax)], dim=1)
            out[f"{side}.head.bias"] = torch.stack(list(bs.values())).mean(0)
    return out


def transmit(s: torch.Tensor, mask: torch.Tensor, channel: Channel, snr_db: float, seeds=None) -> torch.Tensor:
    """Send real symbols ``s [B, L, K]`` (``K`` even, mask ``[B, L, K]``) as complex pairs.

    Each image is power-normalised over its sent symbols (``normalize_power`` with
    the mask) and its sent symbols alone go through ``channel`` (seeded by
    ``seeds[b]`` when given, so an image's noise depends only on its own seed);
    with fading and perfect CSI the receiver equalises
(:meth:`Channel.equalize_analog`: MMSE on fast fading, zero forcing on block fading). Returns the
    received real symbols ``[B, L, K]``, zero where nothing was sent. Differentiable.
    """
    b = s.shape[0]
    xc = torch.complex(s[..., 0::2].contiguous(), s[..., 1::2].contiguous()).reshape(b, -1)
    cmask = mask[..., 0::2].reshape(b, -1)
    xc = normalize_power(xc, cmask)
    rows = []
    for i in range(b):
        sent = xc[i][cmask[i]]
        y, hgain = channel(sent[None], snr_db, seed=None if seeds is None else int(seeds[i]))
        y = channel.equalize_analog(y, hgain, noise_variance(snr_db))
        rows.append(torch.zeros_like(xc[i]).masked_scatter(cmask[i], y[0]))
    yc = torch.stack(rows)
    out = torch.stack([yc.real, yc.imag], dim=-1).reshape(s.shape)
    return out * mask


class NTSCC(CompressionModel):
    """The NTSCC model: an :class:`NTC` (g_a, g_s, h_a, h_s, entropy models) + f_e + f_d*.

    ``forward(x, channel, snr_db, eta=None, seeds=None, pixels=None, z_strings=False)``
    with ``x`` float ``[B, 3, H, W]`` (sides multiples of :attr:`pad_multiple`) returns a
    dict of ``x_hat`` (NTSCC reconstruction), ``x_ntc`` (g_s of the quantisation proxy),
    ``index`` ``[B, h, w]`` (rate indices), ``k`` ``[B, h, w]`` (symbols per patch,
    straight-through in training), ``k_raw`` (``eta * -log2 P``), ``y_uses`` (``sum k / 2``),
    ``z_bits``, ``index_bits``, ``side_bits``, ``side_uses``, ``cbr`` (all ``[B]``), ``z_string``
    (list of bytes or None), ``side_string`` (``index_code: context`` with ``z_strings``: the one
    rANS string per image that carries z and the indices, else None). ``pixels`` ``[B]`` = unpadded ``H*W`` per image (default ``H*W``).
    ``z_strings=True`` counts the real rANS strings of z (eval). ``side_capacity``: bits
    per channel use of the side information (default ``log2(1 + SNR)``). ``variant``
    (``comparison-1``/``no-z``) switches refinement and z off for this call.
    """

    def __init__(self, ntc: NTC, f_e: JSCCEncoder, f_d: JSCCDecoder, allocator: RateAllocator, variant: str = "full", eta: float = 0.2):
        super().__init__()
        self.ntc, self.f_e, self.f_d = ntc, f_e, f_d
        self.allocator = allocator
        self.variant = variant
        self.adaptive, self.refine, self.send_z = VARIANTS[variant]
        self.eta = float(eta)
        # P(index | predicted index) counts for ``index_code="context"`` (all zero: not fitted;
        # :func:`ntscc_sim.models.index_coding.count_indices`, filled after training)
        self.register_buffer("index_counts", torch.zeros(len(allocator), len(allocator), dtype=torch.float64))
        self._index_coder = None

    def load_state_dict(self, state_dict, strict: bool = True, **kwargs):
        """As ``nn.Module``'s; checkpoints written before ``index_counts`` existed load as "not fitted"."""
        if "index_counts" not in state_dict:
            state_dict = {**state_dict, "index_counts": torch.zeros_like(self.index_counts)}
        self._index_coder = None
        return super().load_state_dict(state_dict, strict=strict, **kwargs)

    @property
    def has_index_prior(self) -> bool:
        """Whether ``index_counts`` was fitted, so ``index_code="context"`` can be used."""
        return bool(self.index_counts.sum() > 0)

    def set_index_counts(self, counts: torch.Tensor) -> None:
        """Store fitted ``P(index | predicted index)`` counts ``[V, V]``."""
        self.index_counts.copy_(torch.as_tensor(counts, dtype=torch.float64))
        self._index_coder = None

    @property
    def index_coder(self):
        """The rANS :class:`~ntscc_sim.models.index_coding.IndexCoder` of ``index_counts``."""
        if not self.has_index_prior:
            raise ValueError("this NTSCC checkpoint has no fitted index prior (index_counts); "
                             "fit one with: python -m ntscc_sim.train.index_prior CHECKPOINT")
        if self._index_coder is None:
            from .index_coding import IndexCoder

            self._index_coder = IndexCoder(self.index_counts.cpu())
        return self._index_coder

    @property
    def pad_multiple(self) -> int:
        return self.ntc.pad_multiple

    def allocate(self, y_lik: torch.Tensor, eta: float):
        """Rate indices and symbols per patch: ``(index, k, k_raw)``, each ``[B, h, w]``."""
        k_raw = eta * patch_information(y_lik)
        if not self.adaptive:
            index = torch.zeros_like(k_raw, dtype=torch.long)
            return index, torch.full_like(k_raw, float(self.allocator.values[0])), k_raw
        if self.training:
            index, k = self.allocator.straight_through(k_raw)
        else:
            index, k = self.allocator(k_raw)
        return index, k, k_raw

    def analyse(self, x):
        """The transmitter's channel- and eta-independent part: ``g_a``, the hyperprior and the
        likelihoods of ``y``. Returns a dict of ``y, z, z_lik, means, scales, y_tilde, y_lik``."""
        ntc = self.ntc
        y = ntc.g_a(x)
        z = ntc.h_a(y if ntc.prior == "mean-scale" else torch.abs(y))
        z_hat, z_lik = ntc.entropy_bottleneck(z)
        means, scales = ntc.params(z_hat)
        y_tilde, y_lik = ntc.gaussian_conditional(y, scales, means=means)
        return {"y": y, "z": z, "z_lik": z_lik, "means": means, "scales": scales, "y_tilde": y_tilde, "y_lik": y_lik}

    def forward(self, x, channel: Channel, snr_db: float, eta: float | None = None, seeds=None, pixels=None, z_strings: bool = False,
                side_capacity: float | None = None, variant: str | None = None, memo: dict | None = None,
                index_code: str = "fixed"):
        """``memo`` (evaluation only): a dict kept by the caller for one input ``x`` (same
        tensor values, same batch); the SNR-independent results (:meth:`analyse`, per-eta rate
        allocation and ``f_e`` symbols, the z strings) are stored there and reused by the next
        calls at other SNRs and etas, bit for bit as if recomputed. ``index_code``: ``fixed``
        (``kq`` bits per patch, the paper) or ``context`` (rANS with the fitted index prior,
        :mod:`ntscc_sim.models.index_coding`: z and the indices in one rANS string with
        ``z_strings=True``, whose length is the side bits, checked to decode at the receiver;
        ``-log2 P`` of the indices on top of z's bits otherwise)."""
        if memo is not None and self.training:
            raise ValueError("memo is for evaluation; training recomputes everything")
        memo = {} if memo is None else memo
        eta = self.eta if eta is None else float(eta)
        refine, send_z = self.refine, self.send_z
        if variant is not None:  # evaluation-time ablation: may only switch features off
            adaptive, v_refine, v_send_z = VARIANTS[variant]
            if adaptive != self.adaptive:
                raise ValueError(f"variant {variant!r} changes rate adaptation; this model is {self.variant!r}")
            refine, send_z = refine and v_refine, send_z and v_send_z
        b, _, hh, ww = x.shape
        ntc = self.ntc
        if "analysis" not in memo:
            memo["analysis"] = self.analyse(x)
        a = memo["analysis"]
        y, z, z_lik, means, scales, y_tilde, y_lik = (a[k] for k in ("y", "z", "z_lik", "means", "scales", "y_tilde", "y_lik"))
        if ("embed", eta) not in memo:
            index, k, k_raw = self.allocate(y_lik, eta)
            memo[("embed", eta)] = (index, k, k_raw) + self.f_e(y, index)
        index, k, k_raw, s, mask = memo[("embed", eta)]
        s_hat = transmit(s, mask, channel, snr_db, seeds)
        y_hat = self.f_d(s_hat, index, means, scales, refine=refine)
        x_hat = ntc.g_s(y_hat)
        x_ntc = ntc.g_s(ntc.decoder_input(y, y_tilde, means)) if self.training else None

        strings = None
        if z_strings:
            if "z_strings" not in memo:
                memo["z_strings"] = ntc.entropy_bottleneck.compress(z)
            strings = memo["z_strings"]
            z_bits = torch.tensor([8.0 * len(st) for st in strings], device=x.device)
        else:
            z_bits = -torch.log2(z_lik).flatten(1).sum(1)
        if not send_z:
            z_bits = torch.zeros_like(z_bits)
        patches = index[0].numel()
        side_strings = None
        if index_code == "fixed" or not self.adaptive:
            index_bits = torch.full_like(z_bits, float(patches * self.allocator.bits_per_patch) if self.adaptive else 0.0)
        elif index_code == "context":
            if not send_z:
                raise ValueError("index_code 'context' predicts the indices from z, which this variant does not send")
            side, side_strings = self._context_side_info(memo, a, index, eta, z_strings)
            index_bits = side.to(z_bits) - z_bits if side_strings is not None else side.to(z_bits)
        else:
            raise ValueError(f"index_code must be 'fixed' or 'context', got {index_code!r}")
        side_bits = z_bits + index_bits
        cap = capacity("awgn", snr_db) if side_capacity is None else float(side_capacity)
        side_uses = side_bits / cap
        y_uses = k.flatten(1).sum(1) / 2.0
        if pixels is None:
            pixels = torch.full((b,), float(hh * ww), device=x.device)
        else:
            pixels = torch.as_tensor(pixels, dtype=torch.float32, device=x.device)
        cbr = (y_uses + side_uses) / (3.0 * pixels)
        return {
            "x_hat": x_hat, "x_ntc": x_ntc, "index": index, "k": k, "k_raw": k_raw, "mask": mask,
            "y_uses": y_uses, "z_bits": z_bits, "side_bits": side_bits, "side_uses": side_uses, "cbr": cbr,
            "y_likelihoods": y_lik, "z_likelihoods": z_lik, "z_string": strings if send_z else None,
            "index_bits": index_bits, "side_string": side_strings,
        }

    def _context_side_info(self, memo: dict, a: dict, index, eta: float, real: bool):
        """``index_code: context``. ``real``: ``(side bits [B], strings)`` of the single rANS string
        per image that carries z and the indices (decoded here as the receiver would: z, then the
        contexts from its hyperprior, then the indices); otherwise ``(index bits [B], None)``, the
        ideal ``-log2 P(index | predicted index)``."""
        from .index_coding import decode_side_info, encode_side_info, predicted_index

        key = ("index_code", eta, bool(real))
        if key not in memo:
            coder, eb = self.index_coder, self.ntc.entropy_bottleneck
            pred = predicted_index(self.allocator, a["scales"], eta)
            if not real:
                bits = [coder.ideal_bits(index[i], pred[i]) for i in range(index.shape[0])]
                memo[key] = (torch.tensor(bits), None)
            else:
                strings = encode_side_info(eb, a["z"], index, pred, coder)
                z_size = (1, *a["z"].shape[1:])
                contexts = lambda z_hat: predicted_index(self.allocator, self.ntc.params(z_hat)[1], eta)[0]  # noqa: E731
                for i, st in enumerate(strings):  # the receiver's decode
                    _, got = decode_side_info(eb, st, z_size, contexts, coder)
                    if not torch.equal(got, index[i].cpu()):
                        raise RuntimeError("side-information rANS string does not decode to the sent rate indices")
                memo[key] = (torch.tensor([8.0 * len(st) for st in strings]), strings)
        return memo[key]


def build_ntscc(cfg: dict) -> NTSCC:
    """An :class:`NTSCC` from a ``model:`` config (transform keys + NTSCC_DEFAULTS keys + ``eta``)."""
    c = {**TRANSFORM_DEFAULTS, **NTSCC_DEFAULTS}
    c.update({k: v for k, v in cfg.items() if v is not None})
    variant = c["variant"]
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {list(VARIANTS)}")
    adaptive, refine, _ = VARIANTS[variant]
    ntc = build_ntc(c)
    M = int(c["M"])
    dim = int(c["jscc_dim"] or M)
    if adaptive:
        values = c["rate_values"] or default_rate_values()
    else:
        values = [int(c["fixed_k"])]
    allocator = RateAllocator(values)
    heads, window = int(c["jscc_heads"]), int(c["jscc_window"])
    rate_heads = str(c["jscc_rate_heads"])
    f_e = JSCCEncoder(M, dim, int(c["jscc_depth_enc"]), heads, window, allocator.values, rate_tokens=adaptive, rate_heads=rate_heads)
    f_d = JSCCDecoder(M, dim, int(c["jscc_depth_dec"]), heads, window, allocator.values, rate_tokens=adaptive, refine=refine,
                      rate_heads=rate_heads)
    return NTSCC(ntc, f_e, f_d, allocator, variant, float(c.get("eta", 0.2)))
