"""Separation baselines: a source codec's bytes over 5G LDPC + QAM, or over an ideal code."""

from .budget import max_payload_bits, segment
from .link import DigitalLink
from .mcs import DEFAULT_ENVELOPE, MCS, parse_mcs_list
from .schemes import BPGCapacityScheme, BPGLDPCScheme

__all__ = ["BPGCapacityScheme", "BPGLDPCScheme", "DEFAULT_ENVELOPE", "DigitalLink", "MCS", "max_payload_bits", "parse_mcs_list", "segment"]
