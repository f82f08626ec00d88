"""The banana-source experiment of the NTSCC paper (Sec. IV-B, Figs. 9-10).

* :mod:`.source` — the banana distribution of Ballé et al. (sampler, exact density);
* :mod:`ntscc_sim.models.banana` — FC NTC (factorised prior), rate-adaptive deep JSCC, NTSCC;
* :mod:`.bound` — Blahut–Arimoto rate–distortion function and the SDR-vs-CBR bound;
* :mod:`.evaluate` — test-set links and the maps of Figs. 9-10 (``maps.npz``);
* :mod:`.experiment` — scenario schema, training, evaluation, output files;
* :mod:`.figures` — Figs. 9a-c and 10a-c from the output files only.

Compute -> files -> plots: the experiment writes ``sdr.csv``, ``bound.csv``, ``maps.npz`` and
``run.json``; the figures read those files and run no model.

Runner API (``python -m ntscc_sim.run scenarios/banana.yaml``, selected by the scenario's
top-level ``experiment: banana``): :func:`validate_banana_scenario`, :func:`describe`, :func:`run_banana`.
"""

from .bound import BananaBound, RDCurve, banana_bound, blahut_arimoto_2d, gaussian_rd
from .experiment import BOUND_COLUMNS, EXPERIMENT, SDR_COLUMNS, describe, run_banana, validate_banana_scenario
from .source import BananaSource

__all__ = [
    "BOUND_COLUMNS",
    "BananaBound",
    "BananaSource",
    "EXPERIMENT",
    "RDCurve",
    "SDR_COLUMNS",
    "banana_bound",
    "blahut_arimoto_2d",
    "describe",
    "gaussian_rd",
    "run_banana",
    "validate_banana_scenario",
]
