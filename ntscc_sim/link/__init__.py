"""Digital links: bytes over a channel, shared by the separation baselines and NTSCC's side information.

* :mod:`.mcs` -- modulation and coding schemes (:class:`MCS`, :func:`parse_mcs`, :func:`parse_mcs_list`).
* :mod:`.budget` -- bit budgets and 5G LDPC code-block segmentation (:func:`max_payload_bits`, :func:`segment`).
* :mod:`.digital` -- :class:`DigitalLink`: CRC + 5G LDPC + QAM over a :class:`ntscc_sim.channels.Channel`.
* :mod:`.capacity` -- :class:`CapacityLink`: an ideal capacity-achieving code (budgets, channel uses, outage).

Example
-------
>>> from ntscc_sim.channels import Channel
>>> from ntscc_sim.link import MCS, DigitalLink
>>> link = DigitalLink(MCS("16qam", 2 / 3), Channel("awgn"))
>>> received, txs = link.send([b"hello world"], 20.0, [1])
>>> received[0]
b'hello world'
"""

from .budget import CRC_BITS, LENGTH_BITS, Block, channel_bits, max_payload_bits, segment
from .capacity import CapacityLink
from .digital import DigitalLink, Transmission
from .mcs import DEFAULT_ENVELOPE, MCS, MODULATIONS, parse_mcs, parse_mcs_list

__all__ = [
    "Block", "CRC_BITS", "CapacityLink", "DEFAULT_ENVELOPE", "DigitalLink", "LENGTH_BITS", "MCS", "MODULATIONS",
    "Transmission", "channel_bits", "max_payload_bits", "parse_mcs", "parse_mcs_list", "segment",
]
