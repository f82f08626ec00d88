"""Entropy coding of NTSCC's rate indices with the receiver's hyperprior (issue 11, item 4):
the code-length functions are exact on known cases, and on a Kodak image with a shipped
checkpoint the adaptive code needs fewer bits than the fixed kq = 4 bits per patch."""

import math
import sys

import numpy as np
import pytest
import torch
from conftest import KODAK, REPO
from PIL import Image

from ntscc_sim.models.index_entropy import adaptive_code_length, empirical_entropy, expected_information


def test_expected_information_matches_quantised_gaussian():
    normal = torch.distributions.Normal(0.0, 1.0)
    for sigma in (0.2, 1.0, 3.7, 20.0, 200.0):
        k = torch.arange(-4000, 4001, dtype=torch.float64)
        p = normal.cdf((k + 0.5) / sigma) - normal.cdf((k - 0.5) / sigma)
        ref = float(-(p[p > 0] * torch.log2(p[p > 0])).sum())
        got = expected_information(torch.full((1, 3, 1, 1), sigma))[0, 0, 0].item()
        assert got == pytest.approx(3 * ref, rel=2e-3, abs=1e-3), sigma


def test_adaptive_code_length_kt():
    # One context, two symbols a, b of 2 levels: KT gives -log2(1/2) - log2(1/4) for "ab".
    assert adaptive_code_length(torch.tensor([[0, 1]]), levels=2) == pytest.approx(1 + 2)
    uniform = torch.arange(16).repeat(64)  # every level equally often: no saving over 4 bits
    assert adaptive_code_length(uniform, 16) / uniform.numel() > 3.9
    assert empirical_entropy(uniform, 16) == pytest.approx(4.0)
    ctx = torch.arange(16).repeat(64)  # a context that tells the symbol: almost free
    assert adaptive_code_length(uniform, 16, ctx) / uniform.numel() < 0.6  # KT learning cost only


def test_shipped_ntscc_indices_cost_less_than_fixed_bits():
    if not (KODAK / "kodim01.png").is_file():
        pytest.skip("Kodak images not available")
    sys.path.insert(0, str(REPO / "benchmarks"))
    from ntscc_index_entropy import index_bits

    from ntscc_sim import zoo

    model = zoo.load("ntscc-bsds500-awgn10-lam1500", "cpu", kind="ntscc")[1]
    img = np.asarray(Image.open(KODAK / "kodim01.png").convert("RGB"))[:256, :256].copy()
    r = index_bits(model, torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0, 0.2)
    assert r["fixed"] == 4.0 and r["patches"] > 100
    assert r["adaptive_hyperprior"] < 0.8 * r["fixed"]
    assert r["entropy"] <= math.log2(16)
