"""Channel capacity per complex channel use (bits), for the capacity-achieving baselines.

* AWGN: ``log2(1 + snr)``.
* Fast Rayleigh (ergodic, receiver CSI): ``E[log2(1 + |h|^2 snr)] = e^{1/snr} E1(1/snr) / ln 2``.
* Block Rayleigh: the instantaneous ``log2(1 + |h|^2 snr)`` of the block; a link
  whose rate exceeds it is in outage (see :func:`capacity`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import exp1


def awgn_capacity(snr_db: float) -> float:
    """Shannon capacity of the complex AWGN channel, bits per channel use."""
    return math.log2(1.0 + 10.0 ** (snr_db / 10.0))


def ergodic_rayleigh_capacity(snr_db: float) -> float:
    """Ergodic capacity of fast Rayleigh fading with receiver CSI, bits per channel use."""
    snr = 10.0 ** (snr_db / 10.0)
    inv = 1.0 / snr
    if inv > 700:  # e^{inv} overflows; use the small-snr expansion log2(e)*snr
        return snr / math.log(2.0)
    return float(np.exp(inv) * exp1(inv) / math.log(2.0))


def capacity(kind: str, snr_db: float, gain: float | None = None) -> float:
    """Capacity for channel ``kind`` (``awgn``, ``rayleigh-fast`` or ``rayleigh-block``).

    For ``rayleigh-block`` pass the block's power gain ``|h|^2`` as ``gain``.
    """
    if kind == "awgn":
        return awgn_capacity(snr_db)
    if kind == "rayleigh-fast":
        return ergodic_rayleigh_capacity(snr_db)
    if kind == "rayleigh-block":
        if gain is None:
            raise ValueError("rayleigh-block capacity needs the block gain |h|^2")
        return math.log2(1.0 + gain * 10.0 ** (snr_db / 10.0))
    raise ValueError(f"unknown channel kind {kind!r}")
