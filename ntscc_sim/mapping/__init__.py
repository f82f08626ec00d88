"""Gray-labelled QAM mapping and fast soft demapping (Sionna's labelling and LLR sign).

* :func:`qam_constellation`: the points of Sionna's ``qam(m)`` (3GPP TS 38.211 Gray
  labelling, unit energy); point ``i`` carries the bits of ``i``, MSB first.
* :class:`QAMMapper`: bits -> symbols, same output as ``sionna.phy.mapping.Mapper("qam", m)``.
* :class:`QAMDemapper`: symbols -> LLRs ``log p(b=1|y) / p(b=0|y)``, exact (``"app"``,
  log-sum-exp) or ``"maxlog"``, equal to Sionna's ``Demapper(method, "qam", m)`` (float
  rounding aside) and much faster: a Gray QAM point is a pair of Gray PAM points, so each
  bit's LLR only involves its own dimension's sqrt(M) amplitudes (numba kernel).
"""

from .qam import QAMDemapper, QAMMapper, pam_levels, qam_constellation

__all__ = ["QAMDemapper", "QAMMapper", "pam_levels", "qam_constellation"]
