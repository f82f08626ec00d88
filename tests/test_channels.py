"""Channel physics: tests that would catch a 3 dB (or any) SNR error."""

import math

import numpy as np
import pytest
import torch

from ntscc_sim.channels import Channel, capacity, ergodic_rayleigh_capacity, noise_variance, normalize_power


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 20.0])
def test_awgn_measured_noise_variance(snr_db):
    ch = Channel("awgn")
    x = normalize_power(torch.randn(4, 200_000, dtype=torch.complex64))
    y, h = ch(x, snr_db, seed=11)
    n = y - x
    measured = n.abs().pow(2).mean().item()
    expected = 10 ** (-snr_db / 10)
    assert measured == pytest.approx(expected, rel=0.01)
    # circular: half the variance in each real dimension
    assert n.real.pow(2).mean().item() == pytest.approx(expected / 2, rel=0.02)
    assert n.imag.pow(2).mean().item() == pytest.approx(expected / 2, rel=0.02)
    assert torch.all(h == 1)


def test_snr_per_image_tensor():
    ch = Channel("awgn")
    x = torch.zeros(2, 100_000, dtype=torch.complex64)
    y, _ = ch(x, torch.tensor([0.0, 10.0]), seed=1)
    v = y.abs().pow(2).mean(1)
    assert v[0].item() == pytest.approx(1.0, rel=0.02) and v[1].item() == pytest.approx(0.1, rel=0.02)


def test_power_normalisation_exact():
    x = torch.randn(3, 777, dtype=torch.complex64) * torch.tensor([[0.1], [5.0], [30.0]])
    y = normalize_power(x)
    assert torch.allclose(y.abs().pow(2).mean(1), torch.ones(3), atol=1e-5)
    mask = torch.zeros(3, 777, dtype=torch.bool)
    mask[:, :100] = True
    z = normalize_power(x, mask)
    assert torch.allclose(z[:, :100].abs().pow(2).mean(1), torch.ones(3), atol=1e-5)
    assert torch.all(z[:, 100:] == 0)
    # differentiable
    x.requires_grad_(True)
    normalize_power(x).abs().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("kind", ["rayleigh-fast", "rayleigh-block"])
def test_rayleigh_mean_gain_is_one(kind):
    ch = Channel(kind)
    rows = 20_000 if kind == "rayleigh-block" else 4
    y, h = ch(torch.ones(rows, 50_000 // (rows // 4), dtype=torch.complex64), 30.0, seed=5)
    g = h.abs().pow(2)
    assert g.mean().item() == pytest.approx(1.0, rel=0.03)
    # |h|^2 of Rayleigh fading is Exp(1): P(|h|^2 < 0.1) = 1 - e^-0.1
    assert (g < 0.1).float().mean().item() == pytest.approx(1 - math.exp(-0.1), abs=0.01)
    if kind == "rayleigh-block":
        assert torch.all(h == h[:, :1]), "one coefficient per image by default"
    else:
        assert h[0, 0] != h[0, 1]


def test_block_coherence_length():
    ch = Channel("rayleigh-block", coherence=10)
    _, h = ch(torch.ones(2, 35, dtype=torch.complex64), 10.0, seed=2)
    assert torch.all(h[:, :10] == h[:, :1]) and h[0, 0] != h[0, 10] and torch.all(h[:, 30:] == h[:, 30:31])


def test_equalize_effective_noise():
    ch = Channel("rayleigh-fast")
    x = normalize_power(torch.randn(1, 100_000, dtype=torch.complex64))
    y, h = ch(x, 10.0, seed=3)
    x_hat, no_eff = Channel.equalize(y, h, noise_variance(10.0))
    z = (x_hat - x) / no_eff.sqrt()
    assert z.abs().pow(2).mean().item() == pytest.approx(1.0, rel=0.03)


def test_seed_reproducible_and_distinct():
    ch = Channel("rayleigh-fast")
    x = torch.ones(2, 64, dtype=torch.complex64)
    a, _ = ch(x, 5.0, seed=1)
    b, _ = ch(x, 5.0, seed=1)
    c, _ = ch(x, 5.0, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_capacity_formulas():
    assert capacity("awgn", 0.0) == pytest.approx(1.0)
    assert capacity("awgn", 10 * math.log10(3)) == pytest.approx(2.0)
    rng = np.random.default_rng(0)
    g = rng.exponential(1.0, 2_000_000)
    for snr_db in (0.0, 10.0, 20.0):
        mc = np.mean(np.log2(1 + g * 10 ** (snr_db / 10)))
        assert ergodic_rayleigh_capacity(snr_db) == pytest.approx(mc, rel=2e-3)
        assert ergodic_rayleigh_capacity(snr_db) < capacity("awgn", snr_db)  # Jensen
    caps = [capacity("awgn", s) for s in range(-10, 31)]
    assert all(b > a for a, b in zip(caps, caps[1:]))
    assert capacity("rayleigh-block", 10.0, gain=0.5) == pytest.approx(math.log2(1 + 5.0))
