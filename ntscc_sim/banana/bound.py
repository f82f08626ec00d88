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

LN2 = math.log(2.0)


@dataclass
class RDCurve:
    """Points of a rate–distortion curve.

    rate_bits, distortion, slope : [K] float64 arrays (bits per 2-D sample,
    squared error per 2-D sample, BA slope in nats per unit distortion);
    iterations : [K] int; gap_nats : [K] final ``max log c``.
    """

    rate_bits: np.ndarray
    distortion: np.ndarray
    slope: np.ndarray
    iterations: np.ndarray
    gap_nats: np.ndarray


def _kernels(src: np.ndarray, rep: np.ndarray, s: float):
    diff2 = (src[:, None] - rep[None, :]) ** 2
    k = np.exp(-s * diff2)
    return k, k * diff2


def blahut_arimoto_2d(
    p: np.ndarray,
    axis0: np.ndarray,
    axis1: np.ndarray,
    slopes,
    max_iter: int = 2000,
    tol: float = 1e-7,
    q_init: np.ndarray | None = None,
    accelerate: bool = True,
) -> RDCurve:
    """Blahut–Arimoto for a 2-D grid source under squared error.

    Parameters
    ----------
    p : [n0, n1] cell masses (sum 1) of the source on the grid ``axis0 × axis1``.
    axis0, axis1 : [n0], [n1] cell-centre coordinates (also the reproduction grid).
    slopes : iterable of BA slopes ``s > 0`` (nats per unit squared error); run
        in the given order, each warm-started from the previous output marginal.
    max_iter : most BA map evaluations per slope.
    tol : stop when the BA objective ``Σ p log Z`` (which every BA step increases)
        gains less than ``tol`` nats over one (accelerated) step.
    q_init : optional initial output marginal [n0, n1] (default: ``p``).
    accelerate : use SQUAREM extrapolation (Varadhan & Roland 2008) with a
        monotonicity safeguard; BA for squared error is the EM algorithm of a
        Gaussian-mixture weight estimate, whose plain iteration is slow.

    Returns
    -------
    :class:`RDCurve` with one point per slope.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape != (len(axis0), len(axis1)):
        raise ValueError("p must be [len(axis0), len(axis1)]")
    if not np.isclose(p.sum(), 1.0, atol=1e-9) or (p < 0).any():
        raise ValueError("p must be a probability mass function")
    a0 = np.asarray(axis0, dtype=np.float64)
    a1 = np.asarray(axis1, dtype=np.float64)
    mask = p > 0
    tiny = 1e-300

    def normalise(q):
        q = np.maximum(q, tiny)
        return q / q.sum()

    q = normalise((p if q_init is None else np.asarray(q_init, dtype=np.float64)).copy())
    out = {"r": [], "d": [], "s": [], "it": [], "gap": []}
    for s in slopes:
        s = float(s)
        if s <= 0:
            raise ValueError("slopes must be positive")
        k0, kd0 = _kernels(a0, a0, s)
        k1, kd1 = _kernels(a1, a1, s)

        def evaluate(q):
            z = np.maximum(k0 @ q @ k1.T, tiny)
            c = k0.T @ (p / z) @ k1
            return float(np.sum(p[mask] * np.log(z[mask]))), c

        evals = 0
        obj, c = evaluate(q)
        evals += 1
        while evals < max_iter:
            q1 = normalise(q * c)
            obj1, c1 = evaluate(q1)
            evals += 1
            if not accelerate:
                q, c, gain, obj = q1, c1, obj1 - obj, obj1
            else:
                q2 = normalise(q1 * c1)
                r = q1 - q
                v = q2 - q1 - r
                nv = float(np.sqrt(np.sum(v * v)))
                alpha = -float(np.sqrt(np.sum(r * r))) / nv if nv > 0 else -1.0
                alpha = min(alpha, -1.0)
                qx = normalise(q - 2 * alpha * r + alpha * alpha * v)
                objx, cx = evaluate(qx)
                evals += 1
                if objx >= obj1:
                    q, c, gain, obj = qx, cx, objx - obj, objx
                else:  # extrapolation overshot: plain double step instead
                    obj2, c2 = evaluate(q2)
                    evals += 1
                    q, c, gain, obj = q2, c2, obj2 - obj, obj2
            if gain < tol:
                break
        z = np.maximum(k0 @ q @ k1.T, tiny)
        w = p / z
        dist = float(np.sum(w * (kd0 @ q @ k1.T + k0 @ q @ kd1.T)))
        rate_nats = -s * dist - float(np.sum(p[mask] * np.log(z[mask])))
        out["r"].append(max(rate_nats, 0.0) / LN2)
        out["d"].append(dist)
        out["s"].append(s)
        out["it"].append(evals)
        out["gap"].append(float(np.log(np.max(c))))
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

    def tolerance_db(self, cbr) -> np.ndarray:
        """Discretisation tolerance of :meth:`sdr_db` (dB): the SDR change caused by
        a distortion error of one cell-noise power, ``10 log10(D / (D - δ²/6))``."""
        d = self.distortion(self.rate_for_cbr(cbr))
        return 10.0 * np.log10(d / np.maximum(d - self.cell_noise, 1e-300))


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
    step: float = 0.1,
    tail_sigmas: float = 4.5,
    num_slopes: int = 24,
    min_distortion: float | None = None,
    max_iter: int = 3000,
    tol: float = 1e-5,
) -> BananaBound:
    """Compute the banana's D(R) by Blahut–Arimoto and wrap it as a CBR bound.

    Slopes run log-spaced from ``0.5 / variance`` (near R = 0) to
    ``1 / min_distortion`` (default ``min_distortion = 40 δ²/6``, where the grid
    still resolves the test channel); beyond, the Shannon lower bound is used.
    """
    axis0, axis1, p, cell_noise = banana_grid(source, step, tail_sigmas)
    if min_distortion is None:
        min_distortion = 40.0 * cell_noise
    var = source.variance()
    slopes = np.geomspace(0.5 / var, 1.0 / min_distortion, int(num_slopes))
    curve = blahut_arimoto_2d(p, axis0, axis1, slopes, max_iter=max_iter, tol=tol)
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
