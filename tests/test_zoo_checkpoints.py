"""Every shipped checkpoint loads, runs one image through its scheme, and its row's CBR / bit
accounting equals what was actually sent; every shipped scenario validates."""

import math

import numpy as np
import pytest
import torch
import yaml

from conftest import KODAK, CIFAR, REPO
from ntscc_sim import zoo
from ntscc_sim.channels import capacity
from ntscc_sim.config import derive_seed
from ntscc_sim.datasets import build_dataset
from ntscc_sim.metrics import quality
from ntscc_sim.schemes.base import SchemeContext
from ntscc_sim.train.checkpoint import read_checkpoint

AWGN = {"kind": "awgn", "csi": "perfect", "coherence": None}
SNR = 10.0
SEED = 11


@pytest.fixture(scope="module")
def image():
    return build_dataset({"kind": "builtin", "names": ["astronaut"], "crop": [64, 64]}).get("astronaut")


def _context(**over):
    return SchemeContext(channel=AWGN, metrics=("psnr",), **over)


def _deep_jscc(name, img):
    from baselines.deep_jscc.scheme import DeepJSCCScheme

    s = DeepJSCCScheme("d", {"checkpoint": [name]}, _context())
    s.setup()
    cfg = s.configurations()[0]
    row = s.run(cfg, SNR, [("im", img)], [SEED])[0]
    model = s.model(name)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    with torch.no_grad():
        out = model(x, SNR, seeds=[SEED])
    sent = out["tx"].shape[-1]  # complex symbols of the one image
    assert row["cbr"] * 3 * 64 * 64 == pytest.approx(sent, abs=1e-9)
    assert row["cbr"] == pytest.approx(cfg["target_cbr"])  # 64x64: no padding
    assert math.isnan(row["payload_bits"]) and math.isnan(row["side_bits"]) and row["outage"] == 0
    return row


def _ntc(name, img):
    from baselines.separation.ntc import NTCCapacityScheme
    from baselines.separation.ntc_codec import NTCCodec

    params = {"checkpoint": [name], "cbr": [1 / 3], "fallback": "grey", "compress_level": 8}
    s = NTCCapacityScheme("n", params, _context())
    s.setup()
    row = s.run(s.configurations()[0], SNR, [("im", img)], [SEED])[0]
    data = NTCCodec([name]).encode(img, 0)
    assert row["qp"] == 0 and row["outage"] == 0
    assert row["payload_bits"] == 8 * len(data)  # the whole bitstream, header included
    assert "side_bits" not in row or math.isnan(row["side_bits"])
    assert row["cbr"] * 3 * 64 * 64 == pytest.approx(8 * len(data) / capacity("awgn", SNR))
    assert row["psnr"] == pytest.approx(quality(img, NTCCodec([name]).decode(data, (64, 64)), ms_ssim=False)["psnr"])
    return row


def _ntscc(name, img):
    from ntscc_sim import zoo
    from ntscc_sim.schemes.ntscc import NTSCCScheme

    params = {"checkpoint": [name], "eta": [0.2], "side_info": "capacity", "variant": None}
    s = NTSCCScheme("t", params, _context())
    s.setup()
    row = s.run(s.configurations()[0], SNR, [("im", img)], [SEED])[0]
    model = zoo.load(name, "cpu", kind="ntscc")[1]
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    with torch.no_grad():
        out = model(x, s.channel, SNR, eta=0.2, seeds=[derive_seed(SEED, "analog")], z_strings=True)
    z_bytes = len(out["z_string"][0]) if out["z_string"] is not None else 0
    index_bits = out["index"][0].numel() * model.allocator.bits_per_patch if model.adaptive else 0
    assert row["side_bits"] == 8 * z_bytes + index_bits and math.isnan(row["payload_bits"])
    sent = out["mask"][0].sum().item() / 2  # complex symbols f_e actually put on the channel
    assert sent == out["k"][0].sum().item() / 2
    assert row["cbr"] * 3 * 64 * 64 == pytest.approx(sent + row["side_bits"] / capacity("awgn", SNR))
    rec = np.clip(np.rint(out["x_hat"][0].clamp(0, 1).permute(1, 2, 0).numpy() * 255), 0, 255).astype(np.uint8)
    assert row["psnr"] == pytest.approx(quality(img, rec, ms_ssim=False)["psnr"])
    return row


RUNNERS = {"deep-jscc": _deep_jscc, "ntc": _ntc, "ntscc": _ntscc}


def test_zoo_is_not_empty():
    assert len(zoo.names()) >= 20


@pytest.mark.parametrize("name", zoo.names())
def test_shipped_checkpoint_runs_and_accounts(name, image):
    task = read_checkpoint(zoo.resolve(name))["task"]
    assert task in RUNNERS, f"{name}: no test for task {task!r}"
    row = RUNNERS[task](name, image)
    assert np.isfinite(row["psnr"]) and row["psnr"] > 12.0  # a trained model, not noise (grey is ~11 dB)


SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))


def test_every_scenario_is_listed():
    assert {p.name for p in SCENARIOS} >= {"quickstart.yaml", "banana.yaml", "cliff_kodak.yaml", "ntscc_kodak.yaml"}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_validates(path, tmp_path, capsys):
    from ntscc_sim.run import main
    from ntscc_sim.scenario import load_scenario

    raw = yaml.safe_load(path.read_text())
    kind = raw["dataset"]["kind"]
    if kind != "banana":
        sc = load_scenario(path)  # schema, checkpoints, cross-field checks
        assert sc.name == path.stem or sc.name == raw["name"]
    data = {"folder": KODAK, "cifar10": CIFAR}.get(kind)
    if data is not None and not data.is_dir():
        pytest.skip(f"{data} not present: validated without the dry run")
    assert main([str(path), "--dry-run", "--out", str(tmp_path / "o")]) == 0, capsys.readouterr().err
    assert not (tmp_path / "o").exists()
