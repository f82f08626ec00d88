"""Fully connected models for the banana experiment: NTC, rate-adaptive deep JSCC, NTSCC.

Channel-dimension convention: codecs emit *real* channel dimensions; two real
dimensions make one complex channel use, so a 2-D sample sent over ``n`` real
dimensions costs ``n / 2`` complex uses and ``CBR = n / 4`` (``k = 2 CBR``
complex uses per 2-D sample). The transmitter meets an *average* power
constraint of 1 per complex use (1/2 per real dimension) over the block of
samples it sends (the batch in training, the test set in evaluation); the AWGN
adds ``N(0, no/2)`` per real dimension, ``no = 10^(-SNR/10)``.

Example
-------
>>> import torch
>>> codec = RateAdaptiveJSCC(in_dim=2, out_dim=2, dims=(1, 2, 4))
>>> s, mask = codec.encode(torch.randn(5, 2), torch.tensor([0, 1, 2, 2, 0]))
>>> s.shape, mask.sum(1).tolist()
(torch.Size([5, 4]), [1.0, 2.0, 4.0, 4.0, 1.0])
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..channels.power import noise_variance

ACTIVATIONS = {"relu": nn.ReLU, "softplus": nn.Softplus, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU}


def mlp(sizes, activation: str = "relu") -> nn.Sequential:
    """``sizes = [in, h1, ..., out]``; activation after every layer but the last."""
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def _entropy_bottleneck(channels: int):
    from ntscc_sim._compressai import compressai  # noqa: F401  (placeholder torchvision)
    from compressai.entropy_models import EntropyBottleneck

    return EntropyBottleneck(channels)


class NTC(nn.Module):
    """Nonlinear transform coding with a factorised prior (Ballé et al.).

    ``g_a``: ``dim-h1-...-latent``, ``g_s``: mirrored, CompressAI's
    ``EntropyBottleneck`` as the factorised density ``p_ỹ = p_y * U(-½, ½)``.
    Training uses the uniform-noise relaxation; evaluation rounds the latent
    (the bottleneck's medians are kept at 0, so ``ȳ = round(y)``). The rate is
    the ideal code length ``-log2 P(ȳ)``.

    Input / output of :meth:`forward`: ``x`` [B, dim] float32 ->
    dict with ``y`` [B, latent] (analysis output), ``y_q`` [B, latent] (noisy or
    rounded latent), ``x_hat`` [B, dim], ``bits`` [B] (code length per sample).
    """

    def __init__(self, dim: int = 2, latent: int = 2, hidden=(200, 200, 200), activation: str = "softplus"):
        super().__init__()
        self.g_a = mlp([dim, *hidden, latent], activation)
        self.g_s = mlp([latent, *reversed(hidden), dim], activation)
        self.entropy = _entropy_bottleneck(latent)

    def main_parameters(self):
        """All parameters except the bottleneck's quantiles (auxiliary, unused here)."""
        return [p for n, p in self.named_parameters() if not n.endswith("quantiles")]

    def forward(self, x: torch.Tensor, quantize: bool = False) -> dict:
        y = self.g_a(x)
        y_q, lik = self.entropy(y, training=not quantize)
        bits = -torch.log2(lik).sum(dim=1)
        return {"y": y, "y_q": y_q, "x_hat": self.g_s(y_q), "bits": bits}

    def log2_density(self, x: torch.Tensor) -> torch.Tensor:
        """The model's density of ``x`` [B, dim] (dim == latent), bits:
        ``log2 p_ỹ(g_a(x)) + log2 |det ∂g_a/∂x|`` (change of variables)."""
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            y = self.g_a(x)
            rows = [torch.autograd.grad(y[:, i].sum(), x, retain_graph=True)[0] for i in range(y.shape[1])]
        jac = torch.stack(rows, dim=1)  # [B, latent, dim]
        logdet = torch.linalg.slogdet(jac)[1] / math.log(2.0)
        with torch.no_grad():
            lik, _, _ = self.entropy._likelihood(y.detach().t().unsqueeze(1))
            lik = lik.squeeze(1).t().clamp_min(1e-30)
        return torch.log2(lik).sum(dim=1) + logdet


class RateAdaptiveJSCC(nn.Module):
    """FC deep JSCC codec with per-bandwidth heads and rate tokens.

    Encoder: ``in_dim -> h1 (+ rate token) -> ... -> h_last -> head_j`` with head j
    emitting ``dims[j]`` real channel dimensions; decoder: ``head_j: dims[j] -> h_last
    (+ rate token) -> ... -> out_dim``. All heads are evaluated as one matrix and each
    sample keeps its own slice, which equals separate heads.

    :meth:`encode` ``(v [B, in_dim], idx [B] long)`` -> ``(s [B, n_max], mask [B, n_max])``
    with zeros beyond each sample's ``dims[idx]`` dimensions; :meth:`decode`
    ``(s_hat [B, n_max], idx)`` -> ``v_hat [B, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, dims, hidden=(200, 200), activation: str = "relu"):
        super().__init__()
        self.dims = tuple(int(d) for d in dims)
        if not self.dims or min(self.dims) < 1:
            raise ValueError("dims must be positive integers")
        self.n_max = max(self.dims)
        hidden = tuple(int(h) for h in hidden)
        total = sum(self.dims)
        act = ACTIVATIONS[activation]
        self.enc_in = nn.Linear(in_dim, hidden[0])
        self.enc_token = nn.Embedding(len(self.dims), hidden[0])
        self.enc_body = mlp(list(hidden), activation) if len(hidden) > 1 else nn.Identity()
        self.enc_heads = nn.Linear(hidden[-1], total)
        self.dec_heads = nn.Linear(total, hidden[-1])
        self.dec_token = nn.Embedding(len(self.dims), hidden[-1])
        self.dec_body = mlp(list(reversed(hidden)), activation) if len(hidden) > 1 else nn.Identity()
        self.dec_out = nn.Linear(hidden[0], out_dim)
        self.act = act()
        nn.init.zeros_(self.enc_token.weight)
        nn.init.zeros_(self.dec_token.weight)
        # slot[j, t] = column of head j's t-th output in the concatenated heads (total = padding)
        slot = torch.full((len(self.dims), self.n_max), total, dtype=torch.long)
        mask = torch.zeros(len(self.dims), self.n_max)
        start = 0
        for j, d in enumerate(self.dims):
            slot[j, :d] = torch.arange(start, start + d)
            mask[j, :d] = 1.0
            start += d
        self.register_buffer("slot", slot, persistent=False)
        self.register_buffer("slot_mask", mask, persistent=False)
        # fixed standardisation of the codec's input and output (set from data before training)
        self.register_buffer("in_mean", torch.zeros(in_dim))
        self.register_buffer("in_std", torch.ones(in_dim))
        self.register_buffer("out_mean", torch.zeros(out_dim))
        self.register_buffer("out_std", torch.ones(out_dim))

    @torch.no_grad()
    def set_standardization(self, v_in: torch.Tensor, v_out: torch.Tensor) -> None:
        """Standardise inputs and outputs per dimension with the statistics of samples
        ``v_in`` [N, in_dim] and targets ``v_out`` [N, out_dim] (a fixed affine map)."""
        self.in_mean.copy_(v_in.mean(0))
        self.in_std.copy_(v_in.std(0).clamp_min(1e-6))
        self.out_mean.copy_(v_out.mean(0))
        self.out_std.copy_(v_out.std(0).clamp_min(1e-6))

    def encode(self, v: torch.Tensor, idx: torch.Tensor):
        v = (v - self.in_mean) / self.in_std
        h = self.act(self.enc_in(v) + self.enc_token(idx))
        h = self.act(self.enc_body(h)) if not isinstance(self.enc_body, nn.Identity) else h
        heads = self.enc_heads(h)
        heads = torch.cat([heads, heads.new_zeros(heads.shape[0], 1)], dim=1)
        s = torch.gather(heads, 1, self.slot[idx])
        mask = self.slot_mask[idx]
        return s * mask, mask

    def decode(self, s_hat: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        total = self.enc_heads.out_features
        placed = s_hat.new_zeros(s_hat.shape[0], total + 1)
        placed.scatter_(1, self.slot[idx], s_hat * self.slot_mask[idx])
        g = self.act(self.dec_heads(placed[:, :total]) + self.dec_token(idx))
        g = self.act(self.dec_body(g)) if not isinstance(self.dec_body, nn.Identity) else g
        return self.dec_out(g) * self.out_std + self.out_mean


def power_scale(s: torch.Tensor, mask: torch.Tensor, group: torch.Tensor | None = None, groups: int = 1) -> torch.Tensor:
    """Transmit gain bringing a block ``s`` [B, n] (used dims ``mask``) to 1/2 average
    energy per used real dimension (= 1 per complex channel use).

    Without ``group`` the whole batch is one block and a scalar is returned. With
    ``group`` [B] long in ``[0, groups)``, each group is its own block (training
    batches that mix CBRs or η values, which are separate blocks in evaluation)
    and a per-sample gain [B, 1] is returned.
    """
    energy = (s * s * mask).sum(1)
    count = mask.sum(1)
    if group is None:
        return torch.sqrt(0.5 * count.sum() / energy.sum().clamp_min(1e-12))
    e_g = energy.new_zeros(groups).index_add(0, group, energy)
    n_g = count.new_zeros(groups).index_add(0, group, count)
    gain = torch.sqrt(0.5 * n_g / e_g.clamp_min(1e-12))
    return gain[group][:, None]


def awgn_real(s: torch.Tensor, mask: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training channel: add ``N(0, no/2)`` to every used real dimension."""
    no = noise_variance(float(snr_db))
    noise = torch.randn(s.shape, generator=generator, device=s.device, dtype=s.dtype)
    return (s + math.sqrt(no / 2.0) * noise) * mask


def awgn_complex(s: torch.Tensor, mask: torch.Tensor, snr_db: float, seed: int, channel) -> torch.Tensor:
    """Evaluation channel through the project's Sionna-based :class:`Channel`: real
    dimensions (2t, 2t+1) form complex symbol t; returns the received real dims."""
    b, n = s.shape
    pad = n % 2
    if pad:
        s = torch.cat([s, s.new_zeros(b, 1)], dim=1)
    x = torch.complex(s[:, 0::2].contiguous(), s[:, 1::2].contiguous())
    y, _ = channel(x, float(snr_db), seed=seed)
    out = torch.stack([y.real, y.imag], dim=2).reshape(b, -1)[:, :n]
    return out * mask


class NTSCC(nn.Module):
    """NTSCC for a 2-D source: NTC transforms + entropy-guided rate-adaptive JSCC.

    The analysis latent ``y = g_a(x)`` is fed unquantised to the JSCC encoder;
    its bandwidth is ``k̄ = Q'(η · (-log2 P(ȳ)))`` real channel dimensions,
    ``Q'`` rounding to the nearest of ``dims = (step, 2 step, ..., levels·step)``.
    The decoder maps the received symbols to ``ŷ`` and ``g_s(ŷ)`` to ``x̂``.
    No hyperprior / side information is needed for the factorised prior.
    """

    def __init__(self, ntc: NTC, levels: int = 16, step: int = 1, hidden=(200, 200), activation: str = "relu"):
        super().__init__()
        self.ntc = ntc
        self.step = int(step)
        self.levels = int(levels)
        latent = ntc.g_a[-1].out_features
        self.jscc = RateAdaptiveJSCC(latent, latent, [self.step * (j + 1) for j in range(self.levels)], hidden, activation)

    @property
    def dims(self):
        return self.jscc.dims

    def allocate(self, bits: torch.Tensor, eta) -> torch.Tensor:
        """Rate index [B] long from per-sample code lengths ``bits`` [B] and ``eta``."""
        k = torch.as_tensor(eta, dtype=bits.dtype, device=bits.device) * bits
        idx = torch.round(k / self.step) - 1
        return idx.clamp(0, self.levels - 1).long()
