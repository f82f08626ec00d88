"""Channels: power normalisation, AWGN and Rayleigh fading (on Sionna blocks), capacity.

Conventions (docs/conventions.md): SNR is Es/N0 in dB, every transmitted image is
normalised to unit average energy per complex symbol, noise is CN(0, no) with
no = 10^(-SNR/10).
"""

from .capacity import awgn_capacity, capacity, ergodic_rayleigh_capacity
from .model import CHANNEL_KINDS, Channel
from .power import noise_variance, normalize_power

__all__ = [
    "CHANNEL_KINDS",
    "Channel",
    "awgn_capacity",
    "capacity",
    "ergodic_rayleigh_capacity",
    "noise_variance",
    "normalize_power",
]
