"""Learned models of the core: NTC (hyperprior transform coding) and NTSCC (nonlinear transform
source-channel coding), as plain ``nn.Module``s that know nothing of how they are trained
(losses and config schemas: :mod:`ntscc_sim.train.tasks`; loading by name: :func:`ntscc_sim.zoo.load`).

* :mod:`.swin` -- Swin Transformer blocks and the Fig. 5 transforms.
* :mod:`.ntc` -- hyperprior NTC on CompressAI entropy models (:class:`NTC`, :func:`build_ntc`).
* :mod:`.rate_allocation` -- eq. (28) rate allocation (:class:`RateAllocator`).
* :mod:`.ntscc` -- the NTSCC model (:class:`NTSCC`, :func:`build_ntscc`, :func:`transmit`).
* :mod:`.rate_map` -- Fig. 8 rate-allocation maps.
* :mod:`.banana` -- the fully connected NTC / rate-adaptive JSCC / NTSCC of the 2-D banana experiment.

The image deep JSCC baseline lives in :mod:`baselines.deep_jscc.model`.
"""

from .ntc import NTC, build_ntc
from .ntscc import NTSCC, build_ntscc, transmit
from .rate_allocation import RateAllocator, default_rate_values

__all__ = ["NTC", "NTSCC", "RateAllocator", "build_ntc", "build_ntscc", "default_rate_values", "transmit"]
