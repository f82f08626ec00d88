"""One place for device, precision and random seeds.

Every random draw in a sweep comes from a seed derived from the scenario seed
and the identity of the sweep point (:func:`derive_seed`), so results do not
depend on the order, batching or number of workers.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> str:
    """Map ``auto|cpu|cuda`` to a concrete torch device string."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available")
    return device


def derive_seed(*parts) -> int:
    """Stable 63-bit seed from any printable parts (scenario seed, scheme, point ...)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def stream_seed(seed: int, stream: str) -> int:
    """Seed of the named random stream ``stream`` (e.g. ``"channel"``) of ``seed``.

    Different streams of one seed are independent: channel noise never repeats the
    draws of torch's default generator (quantisation noise, dropout, init).
    """
    return derive_seed(seed, "stream", stream)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch's default generator with ``seed`` and Sionna's
    generators (channel noise, fading, bits) with the independent
    ``stream_seed(seed, "channel")``.

    Sionna's seed setter also reseeds torch's default generator, so it is set first
    and torch's default generator afterwards.
    """
    try:
        from sionna.phy import config as sionna_config

        sionna_config.seed = stream_seed(seed, "channel")
    except ImportError:  # pragma: no cover - sionna is a hard dependency
        pass
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def torch_generator(seed: int, device: str = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g
