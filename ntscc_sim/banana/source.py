"""The "banana-shaped" 2-D source of Ballé et al., "Nonlinear Transform Coding" (2021).

Definition (TensorFlow Compression, ``models/toy_sources/toy_sources.ipynb``,
``get_banana``; see docs/banana.md): draw ``z ~ N(0, diag(3², 0.5²))``, bend it,
``u = (z0, z1 - 0.1 z0²)``, rotate by -240° and shift by -(1, 1):

    x = R(-240°) u - (1, 1)

Every step has unit Jacobian, so the density is known in closed form,
``p(x) = N(z0; 0, 3²) N(z1; 0, 0.5²)`` with ``z`` the inverse map of ``x``, and the
differential entropy equals that of the Gaussian, ``h = log2(2πe · 3 · 0.5)`` bits.
The squared-error distortion is invariant to the rotation and shift, so
rate–distortion quantities can be computed in the ``u`` coordinates
(:mod:`ntscc_sim.banana.bound`).

Example
-------
>>> src = BananaSource()
>>> x = src.sample(1000, seed=0)
>>> x.shape, x.dtype
((1000, 2), dtype('float64'))
>>> round(src.second_moment(), 3)
11.221
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def rotation_2d(degrees: float) -> np.ndarray:
    """Counter-clockwise rotation matrix [2, 2] by ``degrees``."""
    phi = math.radians(degrees)
    return np.array([[math.cos(phi), -math.sin(phi)], [math.sin(phi), math.cos(phi)]])


@dataclass(frozen=True)
class BananaSource:
    """The banana distribution; parameters default to Ballé et al.'s.

    Parameters
    ----------
    scale : standard deviations of the base Gaussian ``(σ0, σ1)``.
    curvature : bend ``c`` in ``u1 = z1 - c z0²``.
    rotation_deg : angle ``φ`` of the rotation applied in the *forward* (x -> z)
        direction; samples are rotated by ``-φ``.
    shift : offset ``s`` added in the forward direction; samples are ``R(-φ)u - s``.
    """

    scale: tuple = (3.0, 0.5)
    curvature: float = 0.1
    rotation_deg: float = 240.0
    shift: tuple = (1.0, 1.0)

    # -- maps -------------------------------------------------------------
    @property
    def _rot(self) -> np.ndarray:
        """R(φ): maps x + s to u."""
        return rotation_2d(self.rotation_deg)

    def bend(self, z: np.ndarray) -> np.ndarray:
        """``z`` [N, 2] -> ``u`` [N, 2] (the curved, un-rotated banana)."""
        z = np.asarray(z, dtype=np.float64)
        return np.stack([z[:, 0], z[:, 1] - self.curvature * z[:, 0] ** 2], axis=1)

    def u_to_x(self, u: np.ndarray) -> np.ndarray:
        """``u`` [N, 2] -> source coordinates ``x = R(-φ) u - s``."""
        return np.asarray(u, dtype=np.float64) @ self._rot - np.asarray(self.shift)

    def x_to_z(self, x: np.ndarray) -> np.ndarray:
        """Inverse map ``x`` [N, 2] -> base Gaussian coordinates ``z`` [N, 2]."""
        u = (np.asarray(x, dtype=np.float64) + np.asarray(self.shift)) @ self._rot.T
        return np.stack([u[:, 0], u[:, 1] + self.curvature * u[:, 0] ** 2], axis=1)

    # -- sampling and density -----------------------------------------------------
    def sample(self, n: int, seed: int | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """``n`` samples [n, 2] float64 from a NumPy generator (``rng`` or ``seed``)."""
        if rng is None:
            rng = np.random.default_rng(seed)
        z = rng.standard_normal((int(n), 2)) * np.asarray(self.scale)
        return self.u_to_x(self.bend(z))

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Natural-log density at ``x`` [N, 2] -> [N] (exact: the map has unit Jacobian)."""
        z = self.x_to_z(x)
        s = np.asarray(self.scale)
        return (-0.5 * (z / s) ** 2 - np.log(s * math.sqrt(2 * math.pi))).sum(axis=1)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return np.exp(self.log_prob(x))

    def u_log_prob(self, u0: np.ndarray, u1: np.ndarray) -> np.ndarray:
        """Log density of ``u = (u0, u1)`` (broadcasting arrays)."""
        s0, s1 = self.scale
        z1 = u1 + self.curvature * u0**2
        return -0.5 * (u0 / s0) ** 2 - 0.5 * (z1 / s1) ** 2 - math.log(2 * math.pi * s0 * s1)

    # -- closed-form statistics ----------------------------------------------------
    def u_mean(self) -> np.ndarray:
        return np.array([0.0, -self.curvature * self.scale[0] ** 2])

    def mean(self) -> np.ndarray:
        """E[x] [2]."""
        return self.u_to_x(self.u_mean()[None])[0]

    def variance(self) -> float:
        """Total variance ``E||x - E x||²`` = σ0² + σ1² + 2 c² σ0⁴."""
        s0, s1 = self.scale
        return s0**2 + s1**2 + 2 * self.curvature**2 * s0**4

    def second_moment(self) -> float:
        """``E||x||²`` (the numerator of the SDR, eq. (30) of the NTSCC paper)."""
        return self.variance() + float(np.sum(self.mean() ** 2))

    def entropy_bits(self) -> float:
        """Differential entropy ``h(x)`` in bits."""
        s0, s1 = self.scale
        return math.log2(2 * math.pi * math.e * s0 * s1)

    def shannon_lower_bound(self, rate_bits) -> np.ndarray:
        """Shannon lower bound on the squared-error ``D(R)`` for the 2-D vector:
        ``D >= (2 / (2πe)) 2^{h - R}`` (``R`` bits per sample, D = E||x - x̂||²)."""
        r = np.asarray(rate_bits, dtype=np.float64)
        return 2.0 / (2 * math.pi * math.e) * np.power(2.0, self.entropy_bits() - r)

    def extent(self, coverage: float = 0.995, margin: float = 0.1) -> tuple[float, float, float, float]:
        """Plot window ``(x0_min, x0_max, x1_min, x1_max)`` holding ``coverage`` of the
        mass per axis (from 2·10^5 fixed-seed samples), widened by ``margin``."""
        x = self.sample(200_000, seed=12345)
        lo = np.quantile(x, (1 - coverage) / 2, axis=0)
        hi = np.quantile(x, 1 - (1 - coverage) / 2, axis=0)
        pad = margin * (hi - lo)
        return (float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1]))
