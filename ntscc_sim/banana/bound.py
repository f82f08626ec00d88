"""Rate–distortion function of 2-D sources by Blahut–Arimoto, and the CBR bound.

The source is discretised on a uniform grid (cell masses from the density at cell
centres, renormalised); the reproduction alphabet is the same grid. For the
squared error ``d(x, y) = (x0 - y0)² + (x1 - y1)²`` the BA kernel
``exp(-s d(x, y))`` factorises into two 1-D kernels, so every BA step is two
small matrix products over the grid axes instead of a (cells × cells) matrix.

One BA run at slope ``s`` (Blahut 1972; Cover & Thomas §10.8), with source
masses ``p(x)`` and output marginal ``q(y)``:

* ``Z(x) = Σ_y q(y) e^{-s d(x,y)}``,  ``c(y) = Σ_x p(x) e^{-s d(x,y)} / Z(x)``,
* update ``q <- q c``; at convergence ``max_y log c(y) -> 0``
  (this maximum bounds the rate error in nats, and is the stopping rule),
* ``D = Σ_x p(x) Σ_y q(y) e^{-s d} d / Z(x)`` and
  ``R = -s D - Σ_x p(x) log Z(x)`` (nats).

The (R, D) pairs lie on the RD curve of the *discretised* source. For D well
above the cell quantisation noise ``δ²/6`` they approximate the continuous
D(R); towards high rates the banana's D(R) meets its Shannon lower bound, which
:func:`banana_bound` uses beyond the last BA point (docs/banana.md).

Example
-------
>>> import numpy as np
>>> g = np.arange(-6, 6.0001, 0.1)
>>> p = np.exp(-0.5 * g[:, None] ** 2 - 0.5 * g[None, :] ** 2)
>>> curve = blahut_arimoto_2d(p / p.sum(), g, g, slopes=[1.0])
>>> round(float(curve.distortion[0]), 2), round(float(curve.rate_bits[0]), 2)
(1.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

LN2 = math.log(2.0)


@dataclass
class RDCurve:
    """Points of a rate–distortion curve.

    rate_bits, distortion, slope : [K] float64 arrays (bits per 2-D sample,
    squared error per 2-D sample, BA slope in nats per unit distortion);
    iterations : [K] int; gap_nats : [K] final ``max_y log c(y)``.

    Each point also gives a supporting line that no point of the (discretised)
    RD curve can cross (Blahut's dual bound):
    ``R(D) >= R_k - gap_k / ln2 - s_k (D - D_k) / ln2`` bits, see :meth:`lower_distortion`.
    """

    rate_bits: np.ndarray
    distortion: np.ndarray
    slope: np.ndarray
    iterations: np.ndarray
    gap_nats: np.ndarray

    def lower_distortion(self, rate_bits) -> np.ndarray:
        """Rigorous lower bound on the discretised source's D(R) from the dual lines
        (independent of how far each BA run converged; loose where ``gap`` is large)."""
        r = np.atleast_1d(np.asarray(rate_bits, dtype=np.float64))[:, None] * LN2
        ok = self.slope > 0
        s, d, rk, g = self.slope[ok], self.distortion[ok], self.rate_bits[ok] * LN2, self.gap_nats[ok]
        lines = d[None, :] + (rk[None, :] - g[None, :] - r) / s[None, :]
        return np.maximum(lines.max(axis=1), 0.0).reshape(np.shape(rate_bits))


def _kernels(src: torch.Tensor, rep: torch.Tensor, s: float):
    diff2 = (src[:, None] - rep[None, :]) ** 2
    k = torch.exp(-s * diff2)
    return k, k * diff2


def blahut_arimoto_2d(
    p: np.ndarray,
    axis0: np.ndarray,
    axis1: np.ndarray,
    slopes,
    max_iter: int = 1000,
    tol: float = 1e-7,
    q_init: np.ndarray | None = None,
) -> RDCurve:
    """Blahut–Arimoto for a 2-D grid source under squared error.

    Runs in float64 torch on the CPU (``torch.get_num_threads()`` threads).

    Parameters
    ----------
    p : [n0, n1] cell masses (sum 1) of the source on the grid ``axis0 × axis1``.
    axis0, axis1 : [n0], [n1] cell-centre coordinates (also the reproduction grid).
    slopes : iterable of BA slopes ``s > 0`` (nats per unit squared error); run
        in the given order, each warm-started from the previous output marginal.
    max_iter : most BA iterations per slope.
    tol : stop when the BA objective ``Σ_x p(x) log Z(x)`` (non-decreasing over
        the iterations) gains less than ``tol`` nats in one iteration.
    q_init : optional initial output marginal [n0, n1] (default: ``p``).

    Returns
    -------
    :class:`RDCurve` with one point per slope. Each (R, D) pair is achievable for the
    discretised source (R is the mutual information of the final test channel plus a
    non-negative divergence term that vanishes at convergence), so an unconverged
    run errs on the side of a higher D(R).
    """
    p_np = np.asarray(p, dtype=np.float64)
    if p_np.ndim != 2 or p_np.shape != (len(axis0), len(axis1)):
        raise ValueError("p must be [len(axis0), len(axis1)]")
    if not np.isclose(p_np.sum(), 1.0, atol=1e-9) or (p_np < 0).any():
        raise ValueError("p must be a probability mass function")
    f64 = torch.float64
    p = torch.as_tensor(p_np, dtype=f64)
    a0 = torch.as_tensor(np.asarray(axis0, dtype=np.float64))
    a1 = torch.as_tensor(np.asarray(axis1, dtype=np.float64))
    mask = p > 0
    p_pos = p[mask]
    tiny = 1e-300
    q = torch.as_tensor(p_np if q_init is None else np.asarray(q_init, dtype=np.float64), dtype=f64).clone()
    q = q.clamp_min(tiny)
    q /= q.sum()
    out = {"r": [], "d": [], "s": [], "it": [], "gap": []}
    for s in slopes:
        s = float(s)
        if s <= 0:
            raise ValueError("slopes must be positive")
        k0, kd0 = _kernels(a0, a0, s)
        k1, kd1 = _kernels(a1, a1, s)
        objective = -math.inf
        it = 0
        c = torch.ones_like(q)
        for it in range(1, int(max_iter) + 1):
            z = (k0 @ q @ k1.T).clamp_min(tiny)
            new_objective = float((p_pos * torch.log(z[mask])).sum())
            if new_objective - objective < tol:
                break
            objective = new_objective
            c = k0.T @ (p / z) @ k1
            q = (q * c).clamp_min(tiny)
            q /= q.sum()
        z = (k0 @ q @ k1.T).clamp_min(tiny)
        w = p / z
        dist = float((w * (kd0 @ q @ k1.T + k0 @ q @ kd1.T)).sum())
        rate_nats = -s * dist - float((p_pos * torch.log(z[mask])).sum())
        c = k0.T @ w @ k1
        out["r"].append(max(rate_nats, 0.0) / LN2)
        out["d"].append(dist)
        out["s"].append(s)
        out["it"].append(it)
        out["gap"].append(max(float(torch.log(c.max())), 0.0))
    return RDCurve(
        rate_bits=np.array(out["r"]),
        distortion=np.array(out["d"]),
        slope=np.array(out["s"]),
        iterations=np.array(out["it"], dtype=int),
        gap_nats=np.array(out["gap"]),
    )


def gaussian_rd(variances, rate_bits) -> np.ndarray:
    """Closed-form D(R) of independent Gaussian components (reverse water-filling).

    ``variances`` [n]; ``rate_bits`` array of total rates (bits per vector);
    returns the total squared error per vector.
    """
    var = np.sort(np.asarray(variances, dtype=np.float64))
    rates = np.atleast_1d(np.asarray(rate_bits, dtype=np.float64))
    out = np.empty_like(rates)
    for i, r in enumerate(rates):
        # R(θ) = Σ_{v>θ} ½ log2(v/θ) is decreasing in θ; bisect on log θ.
        lo, hi = math.log(var[-1]) - 200.0, math.log(var[-1])
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            th = math.exp(mid)
            rr = sum(0.5 * math.log2(v / th) for v in var if v > th)
            lo, hi = (mid, hi) if rr > r else (lo, mid)
        th = math.exp(0.5 * (lo + hi))
        out[i] = float(np.sum(np.minimum(var, th)))
    return out


# -- the banana bound ------------------------------------------------------------


@dataclass
class BananaBound:
    """The banana's D(R) and the resulting SDR-vs-CBR bound.

    curve : BA points on the discretised source (u coordinates);
    step : grid spacing δ; cell_noise : ``E||x - centroid||²`` ≈ δ²/6 (discretisation
    noise, the tolerance scale of the bound); second_moment : ``E||x||²``;
    capacity : bits per complex channel use; r_switch : rate (bits) above which the
    Shannon lower bound is used; slb_gap_db : SDR gap between the last BA point and
    the SLB at that rate (0 when the curve has met the SLB).
    """

    curve: RDCurve
    step: float
    cell_noise: float
    second_moment: float
    capacity: float
    entropy_bits: float
    r_switch: float
    slb_gap_db: float
    grid_shape: tuple

    def slb(self, rate_bits):
        r = np.asarray(rate_bits, dtype=np.float64)
        return 2.0 / (2 * math.pi * math.e) * np.power(2.0, self.entropy_bits - r)

    def distortion(self, rate_bits) -> np.ndarray:
        """Best-estimate D(R) [same shape as input]: BA curve interpolated in log D,
        Shannon lower bound beyond the last BA point, never below the SLB."""
        r = np.asarray(rate_bits, dtype=np.float64)
        rb = self.curve.rate_bits
        ld = np.log(self.curve.distortion)
        order = np.argsort(rb)
        rb, ld = rb[order], ld[order]
        d_ba = np.exp(np.interp(r, rb, ld, left=ld[0], right=ld[-1]))
        d = np.where(r <= self.r_switch, d_ba, self.slb(r))
        d = np.where(r <= rb[0], np.exp(ld[0]), d)
        return np.maximum(d, self.slb(r))

    def rate_for_cbr(self, cbr) -> np.ndarray:
        """R = k C bits per 2-D sample with k = 2 CBR complex channel uses."""
        return 2.0 * np.asarray(cbr, dtype=np.float64) * self.capacity

    def sdr_db(self, cbr) -> np.ndarray:
        """Upper bound on SDR (dB) at channel bandwidth ratio ``cbr``."""
        d = self.distortion(self.rate_for_cbr(cbr))
        return 10.0 * np.log10(self.second_moment / d)

    def sdr_db_upper(self, cbr) -> np.ndarray:
        """Rigorous SDR ceiling for the discretised source at ``cbr``: the larger of the
        Shannon lower bound and the BA dual lines (:meth:`RDCurve.lower_distortion`)."""
        r = self.rate_for_cbr(cbr)
        d = np.maximum(self.curve.lower_distortion(r), self.slb(r))
        d = np.where(r <= 0, self.curve.distortion[0], d)
        return 10.0 * np.log10(self.second_moment / d)

    def tolerance_db(self, cbr) -> np.ndarray:
        """How far above :meth:`sdr_db` the true bound can lie (dB): the BA convergence
        interval ``sdr_db_upper - sdr_db`` plus the discretisation term
        ``10 log10(D / (D - δ²/6))`` (a distortion error of one cell-noise power) where
        the BA curve is used; 0 where the exact Shannon lower bound is used."""
        r = self.rate_for_cbr(cbr)
        d = self.distortion(r)
        disc = 10.0 * np.log10(d / np.maximum(d - self.cell_noise, 1e-300))
        disc = np.where(r > self.r_switch, 0.0, disc)
        return np.maximum(self.sdr_db_upper(cbr) - self.sdr_db(cbr), 0.0) + disc


def banana_grid(source, step: float, tail_sigmas: float = 4.5):
    """Grid of the banana in ``u`` coordinates.

    Returns ``(axis0 [n0], axis1 [n1], p [n0, n1] masses, cell_noise)`` where
    ``cell_noise`` = 2 δ²/12 is the squared error between a sample and its cell centre.
    """
    s0, s1 = source.scale
    c = source.curvature
    a = tail_sigmas * s0
    lo1 = -c * a * a - tail_sigmas * s1
    hi1 = tail_sigmas * s1
    n0 = int(math.ceil(2 * a / step)) + 1
    n1 = int(math.ceil((hi1 - lo1) / step)) + 1
    axis0 = -a + step * np.arange(n0)
    axis1 = lo1 + step * np.arange(n1)
    logp = source.u_log_prob(axis0[:, None], axis1[None, :])
    p = np.exp(logp - logp.max())
    p /= p.sum()
    return axis0, axis1, p, 2 * step * step / 12.0


def banana_bound(
    source,
    capacity: float,
    step: float = 0.2,
    tail_sigmas: float = 4.5,
    num_slopes: int = 14,
    max_slope: float = 16.0,
    max_iter: int = 300,
    tol: float = 1e-9,
) -> BananaBound:
    """Compute the banana's D(R) by Blahut–Arimoto and wrap it as a CBR bound.

    Slopes run log-spaced from ``0.5 / variance`` (near R = 0) to ``max_slope``
    (D ≈ 1 / max_slope); the point (R = 0, D = variance) is added exactly. Beyond
    the last BA rate the Shannon lower bound is used; the curve meets it there
    (``slb_gap_db`` reports the remaining gap).
    """
    axis0, axis1, p, cell_noise = banana_grid(source, step, tail_sigmas)
    var = source.variance()
    slopes = np.geomspace(0.5 / var, float(max_slope), int(num_slopes))
    ba = blahut_arimoto_2d(p, axis0, axis1, slopes, max_iter=max_iter, tol=tol)
    curve = RDCurve(
        rate_bits=np.concatenate([[0.0], ba.rate_bits]),
        distortion=np.concatenate([[var], ba.distortion]),
        slope=np.concatenate([[0.0], ba.slope]),
        iterations=np.concatenate([[0], ba.iterations]),
        gap_nats=np.concatenate([[0.0], ba.gap_nats]),
    )
    h = source.entropy_bits()
    r_switch = float(curve.rate_bits.max())
    d_last = float(curve.distortion[np.argmax(curve.rate_bits)])
    d_slb = 2.0 / (2 * math.pi * math.e) * 2.0 ** (h - r_switch)
    gap_db = 10 * math.log10(d_last / d_slb)
    return BananaBound(
        curve=curve,
        step=float(step),
        cell_noise=float(cell_noise),
        second_moment=float(source.second_moment()),
        capacity=float(capacity),
        entropy_bits=float(h),
        r_switch=r_switch,
        slb_gap_db=float(gap_db),
        grid_shape=(len(axis0), len(axis1)),
    )
