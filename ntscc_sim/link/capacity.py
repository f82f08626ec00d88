"""An ideal capacity-achieving channel code: bit budgets and channel uses, no channel simulation.

The code is designed for ``design`` bits per complex channel use and decodes without error
when the realised channel supports that rate; otherwise the whole transmission is an outage.

Example
-------
>>> link = CapacityLink.for_channel("awgn", 10.0)
>>> link.budget_bits(100), round(link.channel_uses(346), 3), link.outage(346)
(345, 100.046, False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ntscc_sim.channels import capacity

__all__ = ["CapacityLink"]


@dataclass(frozen=True)
class CapacityLink:
    """``design``: bits per complex channel use of the code; ``actual``: capacity of the realised channel."""

    design: float
    actual: float

    @classmethod
    def for_channel(cls, kind: str, snr_db: float, gain: float | None = None) -> "CapacityLink":
        """The code at the capacity of channel ``kind`` (:func:`ntscc_sim.channels.capacity`).

        ``rayleigh-block`` needs the block's power gain ``gain``: the transmitter does not know
        it, so the code is designed at the AWGN capacity and is in outage when the block's
        capacity is smaller.
        """
        if kind == "rayleigh-block":
            return cls(capacity("awgn", snr_db), capacity(kind, snr_db, gain))
        c = capacity(kind, snr_db)
        return cls(c, c)

    def budget_bits(self, channel_uses: int) -> int:
        """Largest payload (bits) the code carries in ``channel_uses`` complex symbols."""
        return math.floor(channel_uses * self.design)

    def channel_uses(self, bits: float) -> float:
        """Complex channel uses needed for ``bits`` (fractional: an ideal code)."""
        return bits / self.design

    def outage(self, bits: float) -> bool:
        """True when the realised channel cannot carry ``bits`` at the design rate."""
        return bits / self.channel_uses(bits) > self.actual + 1e-12
