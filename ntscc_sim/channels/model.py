"""Channel models on Sionna 2.x blocks: AWGN, Rayleigh block fading, Rayleigh fast fading.

All operations are differentiable torch ops, so the same channel serves training
(learned JSCC) and evaluation (digital and analog links).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sionna.phy import config as sionna_config
from sionna.phy.channel import AWGN
from sionna.phy.utils import complex_normal

from .power import noise_variance

CHANNEL_KINDS = ("awgn", "rayleigh-block", "rayleigh-fast")
CSI_CHOICES = ("perfect", "none")


@dataclass
class Channel:
    """A flat SISO channel ``y = h x + n``, ``n ~ CN(0, no)``, ``no = 10^(-SNR/10)``.

    Parameters
    ----------
    kind : ``awgn`` (h = 1), ``rayleigh-block`` (h ~ CN(0,1) constant over
        ``coherence`` symbols; ``None`` = one h per transmitted image), or
        ``rayleigh-fast`` (independent h ~ CN(0,1) per symbol).
    csi : ``perfect`` (the receiver knows h) or ``none``.
    coherence : block length in complex symbols for ``rayleigh-block``.
    device : torch device string.

    Input / output
    --------------
    ``__call__(x, snr_db, seed=None)`` with ``x`` [B, N] complex (one row per
    image, already power-normalised) and ``snr_db`` a float or [B] tensor returns
    ``(y, h)``, both [B, N] complex. If ``seed`` is given, Sionna's generator of the device is
    reseeded first (torch's default generator is not touched), so the draw is
    reproducible point by point.

    Example
    -------
    >>> ch = Channel("rayleigh-fast")
    >>> y, h = ch(torch.ones(2, 4, dtype=torch.complex64), 10.0, seed=1)
    >>> y.shape, h.shape
    (torch.Size([2, 4]), torch.Size([2, 4]))
    """

    kind: str = "awgn"
    csi: str = "perfect"
    coherence: int | None = None
    device: str = "cpu"

    def __post_init__(self):
        if self.kind not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel kind {self.kind!r}; choose from {CHANNEL_KINDS}")
        if self.csi not in CSI_CHOICES:
            raise ValueError(f"unknown csi {self.csi!r}; choose from {CSI_CHOICES}")
        self._awgn = AWGN(device=self.device if self.device in sionna_config.available_devices else None)

    @property
    def generator(self) -> torch.Generator:
        """Sionna's torch generator of this channel's device (noise and fading draws)."""
        return sionna_config.torch_rng(self._awgn.device)

    def fading(self, shape, dtype=torch.complex64) -> torch.Tensor:
        """Draw the channel coefficients h, [B, N] complex, from Sionna's generator."""
        batch, n = shape
        gen = self.generator
        if self.kind == "awgn":
            return torch.ones(shape, dtype=dtype, device=self.device)
        if self.kind == "rayleigh-fast":
            return complex_normal(shape, device=self.device, generator=gen).to(dtype)
        block = n if self.coherence is None else int(self.coherence)
        n_blocks = -(-n // block)
        h = complex_normal((batch, n_blocks), device=self.device, generator=gen).to(dtype)
        return h.repeat_interleave(block, dim=1)[:, :n]

    def __call__(self, x: torch.Tensor, snr_db, seed: int | None = None):
        if seed is not None:
            # Reseed only Sionna's generator of this device; torch's default
            # generator (quantisation noise, ...) is left alone.
            self.generator.manual_seed(int(seed) % (2**63))
        no = noise_variance(torch.as_tensor(snr_db, dtype=torch.float32, device=x.device))
        if no.dim() == 1:
            no = no[:, None]
        h = self.fading(tuple(x.shape), dtype=x.dtype)
        y = self._awgn(h * x, no)
        return y, h

    @staticmethod
    def equalize(y: torch.Tensor, h: torch.Tensor, no):
        """Zero-forcing equalisation with perfect CSI.

        Returns ``(x_hat, no_eff)``: ``x_hat = y / h`` and the per-symbol effective
        noise variance ``no / |h|^2`` (what a soft demapper needs).
        """
        gain = (h.real.pow(2) + h.imag.pow(2)).clamp_min(1e-12)
        x_hat = y * h.conj() / gain
        no = torch.as_tensor(no, dtype=gain.dtype, device=gain.device)
        if no.dim() == 1:
            no = no[:, None]
        return x_hat, no / gain

    @staticmethod
    def equalize_mmse(y: torch.Tensor, h: torch.Tensor, no):
        """Linear MMSE scaling for unit-power symbols with perfect CSI.

        Returns ``(x_hat, mse)``: ``x_hat = y conj(h) / (|h|^2 + no)`` and the per-symbol
        error variance ``E|x_hat - x|^2 = no / (|h|^2 + no)``, which is at most 1 (the
        zero-forcing error ``no / |h|^2`` has infinite mean under Rayleigh fading).
        """
        gain = h.real.pow(2) + h.imag.pow(2)
        no = torch.as_tensor(no, dtype=gain.dtype, device=gain.device)
        if no.dim() == 1:
            no = no[:, None]
        x_hat = y * h.conj() / (gain + no)
        return x_hat, no / (gain + no)

    def equalize_analog(self, y: torch.Tensor, h: torch.Tensor, no) -> torch.Tensor:
        """Equaliser of the analog (JSCC) receivers with perfect CSI, [B, N] complex.

        ``rayleigh-fast``: :meth:`equalize_mmse` (bounded error per symbol);
        ``rayleigh-block``: zero forcing (one gain per block: Gaussian noise of variance
        ``no / |h|^2`` over the block); ``awgn`` or ``csi: none``: ``y`` unchanged.
        """
        if self.kind == "awgn" or self.csi != "perfect":
            return y
        if self.kind == "rayleigh-fast":
            return self.equalize_mmse(y, h, no)[0]
        return self.equalize(y, h, no)[0]
