"""Forward error correction: 5G NR LDPC coding and CRC.

* :class:`LDPCCode`: Sionna 5G encoder + numba layered min-sum decoder
  (or Sionna BP for reference).
* :func:`crc_attach` / :func:`crc_check`: 3GPP CRC for code blocks.
"""

from .crc import CRC, crc_attach, crc_check
from .ldpc import LDPCCode

__all__ = ["LDPCCode", "CRC", "crc_attach", "crc_check"]
