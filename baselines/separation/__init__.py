"""Separation baselines: a source codec's bytes over 5G LDPC + QAM, or over an ideal code.

The digital link itself (MCS, budgets, :class:`DigitalLink`) lives in :mod:`ntscc_sim.link`.
"""

from ntscc_sim.link import DEFAULT_ENVELOPE, MCS, DigitalLink, max_payload_bits, parse_mcs_list, segment  # re-exported

from .schemes import BPGCapacityScheme, BPGLDPCScheme

__all__ = ["BPGCapacityScheme", "BPGLDPCScheme", "DEFAULT_ENVELOPE", "DigitalLink", "MCS", "max_payload_bits", "parse_mcs_list", "segment"]
