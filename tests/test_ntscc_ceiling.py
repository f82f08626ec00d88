"""benchmarks/ntscc_ceiling.py: the quality ceiling of the shipped Kodak NTSCC's transform."""

import sys

import numpy as np
import pytest
import torch
from conftest import KODAK, REPO
from PIL import Image

from ntscc_sim import zoo
from ntscc_sim.channels import Channel
from ntscc_sim.metrics import psnr, to_uint8

NTSCC = "ntscc-bsds500-p16-awgn10-eta"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import ntscc_ceiling

    return ntscc_ceiling


def test_unquantised_latent_beats_quantised_and_the_link(bench):
    if not (KODAK / "kodim23.png").is_file():
        pytest.skip("Kodak images not available")
    model = zoo.load(NTSCC, "cpu")[1]
    img = np.asarray(Image.open(KODAK / "kodim23.png").convert("RGB"))[:256, :256].copy()
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    with torch.no_grad():
        ceiling, quantised = bench.ceiling(model, x)
        link = model(x, Channel("awgn"), 10.0, eta=1.0, seeds=[0])["x_hat"]
    # rounding the latent loses information; the transform is trained, not random (~10 dB)
    assert 28.0 < quantised < ceiling < 50.0
    # the whole link at its widest bandwidth stays below what its transform allows
    assert psnr(to_uint8(x[0]), to_uint8(link[0].clamp(0, 1))) < ceiling


def test_cli_reports_the_mean_and_rejects_other_tasks(bench, capsys):
    if not (KODAK / "kodim01.png").is_file():
        pytest.skip("Kodak images not available")
    bench.main([NTSCC, "--images", "1"])
    out = capsys.readouterr().out
    assert "kodim01.png: g_s(y)" in out and "on 1 images" in out
    with pytest.raises(SystemExit, match="an NTSCC checkpoint is needed"):
        bench.main(["deepjscc-gdn64-bsds500-awgn10-c3", "--images", "1"])
