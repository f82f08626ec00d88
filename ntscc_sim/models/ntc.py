"""Nonlinear transform coding (NTC): Ballé et al. 2018 scale / Minnen et al. 2018 mean-scale hyperprior.

Built on CompressAI's entropy models (``EntropyBottleneck`` for the factorised
prior of z, ``GaussianConditional`` for y | z) with exchangeable transforms:

* ``conv``: the Ballé/Minnen conv + GDN transforms with ``stages`` stride-2 layers;
* ``swin``: the paper's Swin Transformer transforms (Fig. 5, :mod:`.swin`).

The hyperprior h_a / h_s is the conv network of Fig. 6 (3x3 conv, two 5x5 stride-2
convs; mirrored transposed convs predicting ``(sigma, mu)``). Tensors: images
float ``[B, 3, H, W]`` in [0, 1] with ``H, W`` multiples of :attr:`NTC.pad_multiple`;
``y`` ``[B, M, H/2^S, W/2^S]``; ``z`` ``[B, N, H/2^(S+2), W/2^(S+2)]``.

Example
-------
>>> model = build_ntc({"transform": "conv", "N": 16, "M": 24, "stages": 2})
>>> out = model(torch.rand(2, 3, 32, 32))
>>> sorted(out["likelihoods"]), tuple(out["x_hat"].shape)
(['y', 'z'], (2, 3, 32, 32))
>>> _ = model.eval(); _ = model.update(force=True)
>>> enc = model.compress(torch.rand(1, 3, 32, 32))
>>> tuple(model.decompress(enc["strings"], enc["shape"])["x_hat"].shape)
(1, 3, 32, 32)
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ntscc_sim._compressai import compressai  # noqa: F401  (installs the torchvision shim)
from compressai.entropy_models import EntropyBottleneck, GaussianConditional  # noqa: E402
from compressai.layers import GDN  # noqa: E402
from compressai.models import CompressionModel  # noqa: E402
from compressai.models.utils import conv, deconv  # noqa: E402

from .swin import SwinAnalysis, SwinSynthesis  # noqa: E402

__all__ = ["NTC", "build_ntc", "conv_analysis", "conv_synthesis", "hyper_analysis", "hyper_synthesis", "pad_to", "TRANSFORM_DEFAULTS"]

# Defaults of the ``model:`` keys that describe the transforms (shared by NTC and NTSCC configs).
TRANSFORM_DEFAULTS = {
    "transform": "conv",  # conv | swin
    "N": 128,  # hyperprior channels (z)
    "M": 192,  # latent channels c (y)
    "stages": 4,  # conv: number of stride-2 layers in g_a (swin: len(depths))
    "conv_channels": None,  # conv: hidden channels of g_a / g_s (default N)
    "dims": [128, 192, 256, 320],  # swin: width of each stage
    "depths": [1, 1, 2, 6],  # swin: blocks per stage (paper: Kodak/CLIC [1,1,2,6], CIFAR [2,6])
    "heads": 8,  # swin: attention heads (int or one per stage)
    "window": 8,  # swin: attention window
    "prior": "mean-scale",  # mean-scale | scale
    "quantization": "noise",  # training input of g_s: noise (eq. (13)) | ste (rounding, straight-through)
}


def conv_analysis(hidden: int, out_ch: int, stages: int) -> nn.Sequential:
    """g_a: ``stages`` x (5x5 conv stride 2) with GDN in between: [B,3,H,W] -> [B,out_ch,H/2^S,W/2^S]."""
    layers: list[nn.Module] = []
    ch = 3
    for i in range(stages):
        last = i == stages - 1
        layers.append(conv(ch, out_ch if last else hidden))
        if not last:
            layers.append(GDN(hidden))
        ch = hidden
    return nn.Sequential(*layers)


def conv_synthesis(hidden: int, in_ch: int, stages: int) -> nn.Sequential:
    """g_s: ``stages`` x (5x5 transposed conv stride 2) with inverse GDN in between."""
    layers: list[nn.Module] = []
    ch = in_ch
    for i in range(stages):
        last = i == stages - 1
        layers.append(deconv(ch, 3 if last else hidden))
        if not last:
            layers.append(GDN(hidden, inverse=True))
        ch = hidden
    return nn.Sequential(*layers)


def hyper_analysis(M: int, N: int) -> nn.Sequential:
    """h_a (Fig. 6): N x 3x3 /1, ReLU, N x 5x5 /2 down, ReLU, N x 5x5 /2 down."""
    return nn.Sequential(conv(M, N, 3, 1), nn.ReLU(inplace=True), conv(N, N), nn.ReLU(inplace=True), conv(N, N))


def hyper_synthesis(N: int, M: int, mean_scale: bool = True) -> nn.Sequential:
    """h_s (Fig. 6): M x 5x5 /2 up, ReLU, 3M/2 x 5x5 /2 up, ReLU, 2M (mu, sigma) x 3x3 /1."""
    if mean_scale:
        return nn.Sequential(
            deconv(N, M), nn.ReLU(inplace=True), deconv(M, M * 3 // 2), nn.ReLU(inplace=True), conv(M * 3 // 2, 2 * M, 3, 1)
        )
    return nn.Sequential(deconv(N, N), nn.ReLU(inplace=True), deconv(N, N), nn.ReLU(inplace=True), conv(N, M, 3, 1), nn.ReLU(inplace=True))


def pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate-pad ``[B, C, H, W]`` at the bottom/right to multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


class NTC(CompressionModel):
    """Hyperprior NTC model (eq. (13)); ``prior`` is ``mean-scale`` (default) or ``scale``.

    ``forward(x)`` (training: uniform-noise proxies; eval: rounding) returns
    ``{"x_hat", "likelihoods": {"y", "z"}, "y", "y_hat", "means", "scales"}``.
    ``quantization="ste"`` feeds g_s the rounded ``round(y - mu) + mu`` with a
    straight-through gradient in training (rates still from the noisy proxy; Minnen &
    Singh 2020), so training and real decoding see the same g_s input.
    ``compress(x)`` returns ``{"strings": [y_strings, z_strings], "shape": z_hw}`` (real
    rANS bitstreams, one per image) and ``decompress(strings, shape)`` returns
    ``{"x_hat"}`` clamped to [0, 1]. Call :meth:`update` once after training.
    """

    def __init__(self, g_a: nn.Module, g_s: nn.Module, N: int, M: int, stages: int, prior: str = "mean-scale", quantization: str = "noise"):
        super().__init__()
        if prior not in ("mean-scale", "scale"):
            raise ValueError(f"unknown prior {prior!r}; choose mean-scale or scale")
        if quantization not in ("noise", "ste"):
            raise ValueError(f"unknown quantization {quantization!r}; choose noise or ste")
        self.quantization = quantization
        self.g_a, self.g_s = g_a, g_s
        self.h_a = hyper_analysis(M, N)
        self.h_s = hyper_synthesis(N, M, prior == "mean-scale")
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional(None)
        self.N, self.M, self.stages, self.prior = int(N), int(M), int(stages), prior

    @property
    def downsampling_factor(self) -> int:
        return 2 ** self.stages

    @property
    def pad_multiple(self) -> int:
        """Input sides must be multiples of this (g_a downsampling x hyperprior's 4)."""
        return 2 ** (self.stages + 2)

    def hyper(self, y: torch.Tensor, training: bool | None = None):
        """z = h_a(y) through the factorised prior; returns ``(z_hat, z_likelihoods, means, scales)``."""
        z = self.h_a(y if self.prior == "mean-scale" else torch.abs(y))
        z_hat, z_lik = self.entropy_bottleneck(z, training=training)
        means, scales = self.params(z_hat)
        return z_hat, z_lik, means, scales

    def params(self, z_hat: torch.Tensor):
        """``(means or None, scales)`` of the Gaussian conditional from ``z_hat``."""
        p = self.h_s(z_hat)
        if self.prior == "mean-scale":
            scales, means = p.chunk(2, 1)
            return means, scales
        return None, p

    def decoder_input(self, y: torch.Tensor, y_hat: torch.Tensor, means) -> torch.Tensor:
        """What g_s receives: ``y_hat`` (noisy proxy in training, rounded in eval), or in
        training with ``quantization="ste"`` the rounded latent with a straight-through gradient."""
        if not (self.training and self.quantization == "ste"):
            return y_hat
        centred = y if means is None else y - means
        rounded = centred + (torch.round(centred) - centred).detach()
        return rounded if means is None else rounded + means

    def forward(self, x: torch.Tensor):
        y = self.g_a(x)
        z_hat, z_lik, means, scales = self.hyper(y)
        y_hat, y_lik = self.gaussian_conditional(y, scales, means=means)
        x_hat = self.g_s(self.decoder_input(y, y_hat, means))
        return {"x_hat": x_hat, "likelihoods": {"y": y_lik, "z": z_lik}, "y": y, "y_hat": y_hat, "means": means, "scales": scales}

    def compress(self, x: torch.Tensor):
        y = self.g_a(x)
        z = self.h_a(y if self.prior == "mean-scale" else torch.abs(y))
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
        means, scales = self.params(z_hat)
        indexes = self.gaussian_conditional.build_indexes(scales)
        y_strings = self.gaussian_conditional.compress(y, indexes, means=means)
        return {"strings": [y_strings, z_strings], "shape": tuple(z.size()[-2:])}

    def decompress(self, strings, shape):
        z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
        means, scales = self.params(z_hat)
        indexes = self.gaussian_conditional.build_indexes(scales)
        y_hat = self.gaussian_conditional.decompress(strings[0], indexes, z_hat.dtype, means=means)
        return {"x_hat": self.g_s(y_hat).clamp_(0, 1)}


def build_transforms(cfg: dict) -> tuple[nn.Module, nn.Module, int]:
    """``(g_a, g_s, stages)`` from the transform keys of a ``model:`` config (see TRANSFORM_DEFAULTS)."""
    c = {**TRANSFORM_DEFAULTS, **{k: v for k, v in cfg.items() if v is not None or k not in TRANSFORM_DEFAULTS}}
    M = int(c["M"])
    if c["transform"] == "conv":
        hidden = int(c.get("conv_channels") or c["N"])
        stages = int(c["stages"])
        return conv_analysis(hidden, M, stages), conv_synthesis(hidden, M, stages), stages
    if c["transform"] == "swin":
        depths = list(c["depths"])
        dims = c["dims"]
        if not isinstance(dims, int):
            dims = list(dims)[: len(depths)]
        g_a = SwinAnalysis(M, dims, depths, c["heads"], int(c["window"]))
        g_s = SwinSynthesis(M, dims, depths, c["heads"], int(c["window"]))
        return g_a, g_s, len(depths)
    raise ValueError(f"unknown transform {c['transform']!r}; choose conv or swin")


def build_ntc(cfg: dict) -> NTC:
    """An :class:`NTC` from the transform keys of a ``model:`` config."""
    c = {**TRANSFORM_DEFAULTS, **{k: v for k, v in cfg.items() if v is not None or k not in TRANSFORM_DEFAULTS}}
    g_a, g_s, stages = build_transforms(c)
    return NTC(g_a, g_s, int(c["N"]), int(c["M"]), stages, c["prior"], c.get("quantization") or "noise")


def bits_of(likelihoods: torch.Tensor) -> torch.Tensor:
    """Per-image information content ``sum(-log2 p)``, [B] (any [B, ...] likelihood tensor)."""
    return -torch.log2(likelihoods).flatten(1).sum(1)

