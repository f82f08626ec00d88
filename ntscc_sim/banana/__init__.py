"""The banana-source experiment of the NTSCC paper (Sec. IV-B, Figs. 9-10).

* :mod:`.source` — the banana distribution of Ballé et al. (sampler, exact density);
* :mod:`.models` — FC NTC (factorised prior), rate-adaptive deep JSCC, NTSCC;
* :mod:`.bound` — Blahut–Arimoto rate–distortion function and the SDR-vs-CBR bound;
* :mod:`.experiment` — scenario schema, training, evaluation, output files;
* :mod:`.figures` — Figs. 9a-c and 10a-c.

Runner API (``python -m ntscc_sim.run scenarios/banana.yaml``):
:func:`validate_banana_scenario`, :func:`describe`, :func:`run_banana`.
"""

from .bound import BananaBound, RDCurve, banana_bound, blahut_arimoto_2d, gaussian_rd
from .experiment import BOUND_COLUMNS, SDR_COLUMNS, describe, run_banana, validate_banana_scenario
from .source import BananaSource

__all__ = [
    "BOUND_COLUMNS",
    "BananaBound",
    "BananaSource",
    "RDCurve",
    "SDR_COLUMNS",
    "banana_bound",
    "blahut_arimoto_2d",
    "describe",
    "gaussian_rd",
    "run_banana",
    "validate_banana_scenario",
]
