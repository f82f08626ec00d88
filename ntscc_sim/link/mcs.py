"""Modulation and coding schemes (MCS) for the digital links."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ntscc_sim.scenario.errors import ScenarioError
from ntscc_sim.scenario.fields import fraction

MODULATIONS = {"bpsk": 1, "qpsk": 2, "4qam": 2, "16qam": 4, "64qam": 6, "256qam": 8}

# The paper's envelope set (Sec. IV-A.2) is configurable; this is the default.
DEFAULT_ENVELOPE = (
    ("4qam", "1/3"), ("4qam", "1/2"), ("4qam", "2/3"),
    ("16qam", "1/2"), ("16qam", "2/3"),
    ("64qam", "1/2"), ("64qam", "2/3"), ("64qam", "3/4"),
)


@dataclass(frozen=True)
class MCS:
    """A QAM order and an LDPC code rate, e.g. ``MCS("16qam", 2/3)``."""

    modulation: str
    rate: float

    @property
    def bits_per_symbol(self) -> int:
        return MODULATIONS[self.modulation]

    @property
    def label(self) -> str:
        frac = Fraction(self.rate).limit_denominator(64)
        return f"{self.modulation}-{frac.numerator}/{frac.denominator}"

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per complex channel use."""
        return self.bits_per_symbol * self.rate


def parse_mcs(spec, key: str) -> MCS:
    """``{modulation: 16qam, rate: 2/3}`` or ``"16qam-2/3"`` -> :class:`MCS`."""
    if isinstance(spec, str) and "-" in spec:
        mod, _, rate = spec.partition("-")
        spec = {"modulation": mod, "rate": rate}
    if not isinstance(spec, dict):
        raise ScenarioError(key, f"expected {{modulation: 16qam, rate: 2/3}}, 'envelope' or a list of those, got {spec!r}")
    unknown = set(spec) - {"modulation", "rate"}
    if unknown:
        raise ScenarioError(f"{key}.{sorted(unknown)[0]}", "unknown key; an MCS has 'modulation' and 'rate'")
    for k in ("modulation", "rate"):
        if k not in spec:
            raise ScenarioError(f"{key}.{k}", "missing required key")
    mod = str(spec["modulation"]).lower().replace("-", "")
    if mod not in MODULATIONS:
        raise ScenarioError(f"{key}.modulation", f"invalid value {spec['modulation']!r}; choose from {list(MODULATIONS)}")
    rate = fraction(spec["rate"], f"{key}.rate")
    if not 0.05 <= rate <= 0.95:
        raise ScenarioError(f"{key}.rate", f"code rate {spec['rate']!r} outside the 5G LDPC range [0.05, 0.95]")
    return MCS(mod, rate)


def parse_mcs_list(spec, key: str) -> list[MCS]:
    """``envelope`` | one MCS | a list of MCS -> list (envelope when more than one)."""
    if spec == "envelope":
        return [MCS(m, float(Fraction(r))) for m, r in DEFAULT_ENVELOPE]
    if isinstance(spec, list):
        if not spec:
            raise ScenarioError(key, "empty MCS list")
        return [parse_mcs(s, f"{key}[{i}]") for i, s in enumerate(spec)]
    return [parse_mcs(spec, key)]
