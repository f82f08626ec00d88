"""Deep JSCC (Bourtsoulatze, Kurka, Gündüz, IEEE TCCN 2019): a fully convolutional
autoencoder whose latent is sent as analog complex symbols.

Encoder: five 5x5 convolutions (strides 2, 2, 1, 1, 1; widths ``filters`` then
``2c``), each followed by PReLU as in the paper; the ``2c`` output channels of
size ``h' x w' = ceil(H/4) x ceil(W/4)`` form ``c h' w'`` complex symbols (channels
``0..c-1`` real parts, ``c..2c-1`` imaginary parts), normalised per image to unit
average energy per complex symbol (:func:`ntscc_sim.channels.normalize_power`).
Channel: :class:`ntscc_sim.channels.Channel` (Sionna AWGN / Rayleigh, differentiable),
noise CN(0, 10^(-SNR/10)). With perfect CSI the decoder gets the symbols of
:meth:`Channel.equalize_analog`: MMSE-scaled ``y h* / (|h|^2 + no)`` on fast fading,
zero-forcing ``y / h`` on block fading; with ``csi: none`` it gets ``y``. Decoder: the mirrored transposed convolutions
(strides 1, 1, 1, 2, 2), PReLU, a sigmoid at the output.

Options: ``gdn`` inserts CompressAI's GDN / inverse GDN after every hidden layer
(Kurka & Gündüz); ``snr_input`` feeds the SNR to both sides as one extra input plane
(encoder: the nominal SNR; decoder: the effective per-symbol SNR ``-10 log10(no/|h|^2)``
averaged over the ``c`` symbols of a latent position, i.e. what perfect CSI tells it).

Images whose sides are not multiples of 4 are edge-padded (replicate) and the
output is cropped; every symbol of the padded latent is sent, so
``CBR = c * ceil(H/4) * ceil(W/4) / (3 H W)`` (``c/48`` for multiples of 4).

Example
-------
>>> model = DeepJSCC(c=8)
>>> out = model(torch.rand(2, 3, 32, 32), snr_db=10.0)
>>> out["x_hat"].shape, out["tx"].shape, round(out["cbr"], 4)
(torch.Size([2, 3, 32, 32]), torch.Size([2, 512]), 0.1667)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ntscc_sim.channels import Channel, noise_variance, normalize_power

STRIDES = (2, 2, 1, 1, 1)
DOWNSAMPLE = 4
SNR_SCALE = 20.0  # SNR planes are snr_db / SNR_SCALE


def _gdn(channels: int, inverse: bool) -> nn.Module:
    from ntscc_sim._compressai import compressai  # noqa: F401  (imports CompressAI without torchvision)
    from compressai.layers import GDN

    return GDN(channels, inverse=inverse)


class DeepJSCC(nn.Module):
    """Deep JSCC encoder + channel + decoder.

    Parameters
    ----------
    c : complex symbols per latent position (the encoder's last layer has ``2c`` channels).
    filters : widths of the four hidden layers (paper: 16, 32, 32, 32).
    kernel : convolution kernel size (paper: 5).
    gdn : GDN / IGDN after hidden layers (Kurka & Gündüz) instead of PReLU only.
    snr_input : give the SNR to the encoder and decoder as an extra input plane.
    channel : the :class:`~ntscc_sim.channels.Channel` (default AWGN); replace with :meth:`set_channel`.

    Input / output
    --------------
    ``forward(x, snr_db, seeds=None)``: ``x`` float [B, 3, H, W] in [0, 1]; ``snr_db`` a
    float or [B] tensor; ``seeds`` optional list of B ints, one channel draw per image
    (results then do not depend on how images are batched). Returns a dict with
    ``x_hat`` [B, 3, H, W], ``tx`` [B, N] complex (unit energy per symbol), ``rx`` [B, N]
    complex (``h tx + n`` as received), ``h`` [B, N] complex, ``no`` [B] noise variance,
    ``symbols`` (N per image) and ``cbr``.
    """

    def __init__(self, c: int, filters=(16, 32, 32, 32), kernel: int = 5, gdn: bool = False,
                 snr_input: bool = False, channel: Channel | None = None):
        super().__init__()
        if c < 1:
            raise ValueError(f"c must be >= 1, got {c}")
        if len(filters) != 4:
            raise ValueError(f"filters must list the 4 hidden widths, got {filters!r}")
        self.c = int(c)
        self.snr_input = bool(snr_input)
        pad = kernel // 2
        enc_w = [3 + self.snr_input, *filters, 2 * self.c]
        enc = []
        for i, s in enumerate(STRIDES):
            enc.append(nn.Conv2d(enc_w[i], enc_w[i + 1], kernel, stride=s, padding=pad))
            if gdn and i < len(STRIDES) - 1:
                enc.append(_gdn(enc_w[i + 1], inverse=False))
            enc.append(nn.PReLU(enc_w[i + 1]))
        self.encoder = nn.Sequential(*enc)
        dec_w = [2 * self.c + self.snr_input, *reversed(filters), 3]
        dec = []
        for i, s in enumerate(reversed(STRIDES)):
            dec.append(nn.ConvTranspose2d(dec_w[i], dec_w[i + 1], kernel, stride=s, padding=pad, output_padding=s - 1))
            if i < len(STRIDES) - 1:
                if gdn:
                    dec.append(_gdn(dec_w[i + 1], inverse=True))
                dec.append(nn.PReLU(dec_w[i + 1]))
        dec.append(nn.Sigmoid())
        self.decoder = nn.Sequential(*dec)
        self._channels: dict[str, Channel] = {}
        ch = channel or Channel("awgn")
        self.set_channel(ch.kind, ch.csi, ch.coherence)

    # --- channel -------------------------------------------------------------------
    def set_channel(self, kind: str = "awgn", csi: str = "perfect", coherence: int | None = None) -> None:
        """Use another channel (e.g. test a model trained on AWGN over Rayleigh fading)."""
        Channel(kind, csi, coherence)  # validate
        self.channel_spec = (kind, csi, coherence)
        self._channels = {}

    def channel(self, device) -> Channel:
        """The :class:`Channel` on ``device`` (Sionna generators are per device)."""
        key = str(device)
        if key not in self._channels:
            kind, csi, coherence = self.channel_spec
            self._channels[key] = Channel(kind, csi, coherence, key)
        return self._channels[key]

    # --- accounting ----------------------------------------------------------------
    def latent_size(self, h: int, w: int) -> tuple[int, int]:
        return math.ceil(h / DOWNSAMPLE), math.ceil(w / DOWNSAMPLE)

    def symbols(self, h: int, w: int) -> int:
        """Complex channel uses per image of H x W pixels."""
        lh, lw = self.latent_size(h, w)
        return self.c * lh * lw

    def cbr(self, h: int, w: int) -> float:
        """Channel bandwidth ratio: complex symbols / (3 H W) of the unpadded image."""
        return self.symbols(h, w) / (3 * h * w)

    # --- stages --------------------------------------------------------------------
    @staticmethod
    def _plane(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """A [B, 1, H, W] plane holding ``values`` [B] / SNR_SCALE."""
        b, _, h, w = like.shape
        return (values.to(like.dtype) / SNR_SCALE).view(b, 1, 1, 1).expand(b, 1, h, w)

    def encode(self, x: torch.Tensor, snr: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] -> real latent [B, 2c, ceil(H/4), ceil(W/4)] (before power normalisation)."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % DOWNSAMPLE, (-w) % DOWNSAMPLE
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        if self.snr_input:
            x = torch.cat([x, self._plane(snr, x)], dim=1)
        return self.encoder(x)

    def to_symbols(self, z: torch.Tensor) -> torch.Tensor:
        """Real latent [B, 2c, h', w'] -> power-normalised complex symbols [B, c h' w']."""
        b = z.shape[0]
        s = torch.complex(z[:, : self.c].float(), z[:, self.c :].float()).reshape(b, -1)
        return normalize_power(s)

    def from_symbols(self, s: torch.Tensor, shape) -> torch.Tensor:
        """Complex [B, c h' w'] -> real [B, 2c, h', w']."""
        b, _, lh, lw = shape
        s = s.reshape(b, self.c, lh, lw)
        return torch.cat([s.real, s.imag], dim=1)

    def transmit(self, tx: torch.Tensor, snr: torch.Tensor, seeds=None):
        """Send ``tx`` [B, N] through the channel; returns ``(rx, h)`` (one draw per seed if given)."""
        ch = self.channel(tx.device)
        if seeds is None:
            return ch(tx, snr)
        if len(seeds) != tx.shape[0]:
            raise ValueError(f"got {len(seeds)} seeds for {tx.shape[0]} images")
        outs = [ch(tx[i : i + 1], snr[i : i + 1], seed=int(seeds[i])) for i in range(tx.shape[0])]
        return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])

    def decode(self, z_hat: torch.Tensor, size, snr_eff: torch.Tensor | None = None) -> torch.Tensor:
        """Real [B, 2c, h', w'] (+ effective SNR dB [B, c, h', w'] if ``snr_input``) -> [B, 3, H, W]."""
        if self.snr_input:
            z_hat = torch.cat([z_hat, snr_eff.mean(dim=1, keepdim=True) / SNR_SCALE], dim=1)
        x_hat = self.decoder(z_hat)
        return x_hat[..., : size[0], : size[1]]

    def forward(self, x: torch.Tensor, snr_db, seeds=None, memo: dict | None = None) -> dict:
        """``memo`` (evaluation): a dict the caller keeps for one input ``x``; without
        ``snr_input`` the encoder output does not depend on the SNR, so it is stored there and
        reused by the calls at other SNRs (bit for bit as recomputed)."""
        b, _, h, w = x.shape
        snr = torch.as_tensor(snr_db, dtype=torch.float32, device=x.device).reshape(-1).expand(b)
        if memo is not None and not self.snr_input and not self.training:
            if "z" not in memo:
                memo["z"] = self.encode(x, snr)
            z = memo["z"]
        else:
            z = self.encode(x, snr)
        tx = self.to_symbols(z)
        rx, hh = self.transmit(tx, snr, seeds)
        no = noise_variance(snr)
        ch = self.channel(x.device)
        y = ch.equalize_analog(rx, hh, no)
        if ch.kind != "awgn" and ch.csi == "perfect":
            no_eff = Channel.equalize(rx, hh, no)[1]  # the per-symbol SNR |h|^2 / no
        else:
            no_eff = no[:, None].expand_as(rx.real)
        snr_eff = None
        if self.snr_input:
            snr_eff = (-10.0 * torch.log10(no_eff.clamp_min(1e-10))).clamp(-30.0, 60.0)
            snr_eff = snr_eff.reshape(b, self.c, *z.shape[-2:])
        x_hat = self.decode(self.from_symbols(y, z.shape).to(z.dtype), (h, w), snr_eff)
        return {"x_hat": x_hat, "tx": tx, "rx": rx, "h": hh, "no": no, "symbols": self.symbols(h, w), "cbr": self.cbr(h, w)}
