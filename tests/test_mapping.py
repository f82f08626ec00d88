"""Gray QAM mapper / fast demapper against Sionna's Mapper / Demapper, and BLER with the LDPC code."""

from functools import lru_cache

import numpy as np
import pytest
import torch
from sionna.phy.mapping import Demapper, Mapper, qam

from ntscc_sim.fec import LDPCCode
from ntscc_sim.mapping import QAMDemapper, QAMMapper, qam_constellation

BITS = (2, 4, 6, 8)


def _rel_err(a, ref):
    return float(np.max(np.abs(a - ref) / np.maximum(1.0, np.abs(ref))))


def _received(m, shape, seed, spread=1.3):
    rng = np.random.default_rng(seed)
    return (spread * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)).astype(np.complex64)


@pytest.mark.parametrize("m", BITS)
def test_constellation_and_mapper_match_sionna(m):
    assert np.allclose(qam_constellation(m), qam(m), atol=1e-6)
    bits = np.random.default_rng(m).integers(0, 2, (3, 40 * m))
    ours = QAMMapper(m)(bits)
    ref = Mapper("qam", m)(torch.from_numpy(bits.astype(np.float32))).numpy()
    assert ours.shape == ref.shape == (3, 40) and np.allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize("m", BITS)
@pytest.mark.parametrize("method", ["app", "maxlog"])
def test_demapper_matches_sionna_double_precision(m, method):
    """Against Sionna computed in float64: our float64 kernel agrees to ~1e-6 at any noise level."""
    y = _received(m, (2, 700), seed=m)
    ref_demapper = Demapper(method, "qam", m, precision="double")
    for no in (1e-3, 0.05, 0.3, 2.0):
        ours = QAMDemapper(m, method)(y, no)
        ref = ref_demapper(torch.from_numpy(y.astype(np.complex128)), torch.tensor(no, dtype=torch.float64)).numpy()
        assert ours.shape == ref.shape == (2, 700 * m) and ours.dtype == np.float32
        assert _rel_err(ours, ref) < 1e-4, no


@pytest.mark.parametrize("m", BITS)
@pytest.mark.parametrize("method", ["app", "maxlog"])
def test_demapper_matches_sionna_single_precision_with_per_symbol_noise(m, method):
    """The float32 Demapper the link used, with a per-symbol noise variance (fading + ZF)."""
    y = _received(m, (3, 500), seed=10 + m)
    no = np.random.default_rng(m).uniform(0.05, 1.0, y.shape).astype(np.float32)
    ours = QAMDemapper(m, method)(torch.from_numpy(y), torch.from_numpy(no))
    ref = Demapper(method, "qam", m)(torch.from_numpy(y), torch.from_numpy(no)).numpy()
    assert _rel_err(ours, ref) < 1e-4


def test_demapper_extreme_llrs_and_bad_input():
    y = np.array([10.0 + 10.0j, -10.0 - 10.0j, 0.0], dtype=np.complex64)
    ref = Demapper("app", "qam", 4, precision="double")(torch.from_numpy(y.astype(np.complex128)), torch.tensor(1e-4, dtype=torch.float64)).numpy()
    ours = QAMDemapper(4, "app")(y, 1e-4)
    assert np.all(np.isfinite(ours)) and _rel_err(ours, ref) < 1e-4
    with pytest.raises(ValueError, match="method"):
        QAMDemapper(4, "exact")
    with pytest.raises(ValueError, match="even"):
        QAMDemapper(3)


@lru_cache(maxsize=None)
def _code():
    return LDPCCode(4096, 6144)


def _block_errors(n_blocks, snr_db, seed):
    """Same blocks, same noise: errors with Sionna's app demapper vs ours (app, maxlog)."""
    code = _code()
    rng = np.random.default_rng(seed)
    u = rng.integers(0, 2, (n_blocks, code.k), dtype=np.uint8)
    x = QAMMapper(4)(code.encode(u))
    no = 10.0 ** (-snr_db / 10.0)
    y = (x + np.sqrt(no / 2) * (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape))).astype(np.complex64)
    llrs = {
        "sionna-app": Demapper("app", "qam", 4)(torch.from_numpy(y), torch.tensor(no, dtype=torch.float32)).numpy(),
        "app": QAMDemapper(4, "app")(y, no),
        "maxlog": QAMDemapper(4, "maxlog")(y, no),
    }
    errors = {}
    for name, llr in llrs.items():
        u_hat, _ = code.decode(llr)
        errors[name] = (u_hat != u).any(axis=1)
    return errors


def _check_no_loss(errors, n_blocks):
    ref, app, maxlog = errors["sionna-app"], errors["app"], errors["maxlog"]
    # exact LLRs equal to float rounding: the same blocks fail (a rare flip allowed)
    assert (ref != app).sum() <= max(1, n_blocks // 200)
    # max-log: no loss beyond the binomial noise of the reference
    sigma = np.sqrt(max(ref.sum(), 1) * (1 - ref.mean()))
    assert maxlog.sum() <= ref.sum() + 3 * sigma + 1
    assert 0 < ref.sum() < n_blocks  # the SNR sits in the waterfall: the test can fail


def test_bler_no_loss_against_sionna_demapper():
    n = 120
    _check_no_loss(_block_errors(n, 9.0, seed=1), n)


@pytest.mark.slow
def test_bler_no_loss_against_sionna_demapper_many_blocks():
    n = 2000
    _check_no_loss(_block_errors(n, 9.1, seed=2), n)


def test_demapper_threads_do_not_change_results():
    y = _received(4, (5, 301), seed=3)
    no = np.random.default_rng(4).uniform(0.05, 1.0, y.shape)
    for noise in (0.2, no):
        one = QAMDemapper(4, "app")(y, noise)
        assert np.array_equal(QAMDemapper(4, "app", num_threads=2)(y, noise), one)
    assert QAMDemapper(4, "app", num_threads=2)(y[:, :0], 0.2).shape == (5, 0)
