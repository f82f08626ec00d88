"""Learned models: NTC (hyperprior transform coding) and NTSCC (nonlinear transform source-channel coding).

* :mod:`.swin` -- Swin Transformer blocks and the Fig. 5 transforms.
* :mod:`.ntc` -- hyperprior NTC on CompressAI entropy models (:class:`NTC`, :func:`build_ntc`).
* :mod:`.rate_allocation` -- eq. (28) rate allocation (:class:`RateAllocator`).
* :mod:`.ntscc` -- the NTSCC model (:class:`NTSCC`, :func:`build_ntscc`, :func:`transmit`).
* :mod:`.ntc_task`, :mod:`.ntscc_task` -- training tasks (Algorithm 1) for ``ntscc_sim.train``.
* :mod:`.ntc_codec` -- a trained NTC as a byte-level source codec for separation links.
* :mod:`.rate_map` -- Fig. 8 rate-allocation maps.
* :mod:`.loading` -- checkpoint loading (zoo names or paths).
"""

from .ntc import NTC, build_ntc
from .ntscc import NTSCC, build_ntscc, transmit
from .rate_allocation import RateAllocator, default_rate_values

__all__ = ["NTC", "NTSCC", "RateAllocator", "build_ntc", "build_ntscc", "default_rate_values", "transmit"]
