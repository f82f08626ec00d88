"""Forward error correction: 5G NR LDPC coding and CRC.

* :class:`LDPCCode`: 5G code from Sionna's tables; numba QC encoder (bit-exact with
  Sionna's) and numba layered min-sum decoder (or Sionna's encoder / BP for reference).
* :func:`crc_attach` / :func:`crc_check`: 3GPP CRC for code blocks.
"""

from .crc import CRC, crc_attach, crc_check
from .ldpc import LDPCCode

__all__ = ["LDPCCode", "CRC", "crc_attach", "crc_check"]
