"""ntscc_sim: end-to-end link-level simulator for semantic communications.

Compares learned joint source-channel coding (NTSCC, deep JSCC) with classical
separation (BPG/NTC + 5G LDPC + QAM, or an ideal capacity-achieving code) over
AWGN and Rayleigh channels. Entry points::

    python -m ntscc_sim.run scenarios/quickstart.yaml
    python -m ntscc_sim.report results/quickstart
"""

__version__ = "0.1.0"
