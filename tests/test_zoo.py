"""The model zoo: shipped checkpoints are complete, small, loadable and listed."""

import json

import pytest
import torch
import yaml

from ntscc_sim import zoo
from ntscc_sim.train import validate_config
from ntscc_sim.train.config import resume_mismatch, upgrade_config
from ntscc_sim.zoo.__main__ import main as zoo_main

# The deep JSCC checkpoints this repository ships (docs/deep_jscc.md).
DEEP_JSCC = [
    "deepjscc-cifar10-awgn10-c2",
    "deepjscc-cifar10-awgn10-c4",
    "deepjscc-cifar10-awgn10-c8",
    "deepjscc-cifar10-awgn1-c8",
    "deepjscc-cifar10-awgn19-c8",
    "deepjscc-cifar10-rayleighblock10-c8",
    "deepjscc-bsds500-awgn10-c2",
    "deepjscc-bsds500-awgn10-c3",
    "deepjscc-gdn64-bsds500-awgn10-c1",
    "deepjscc-gdn64-bsds500-awgn10-c2",
    "deepjscc-gdn64-bsds500-awgn10-c3",
    "deepjscc-gdn64-bsds500-awgn10-c4",
]


def test_expected_checkpoints_are_shipped():
    missing = [n for n in DEEP_JSCC if n not in zoo.names()]
    assert not missing


@pytest.mark.parametrize("name", zoo.names())
def test_entry_is_complete_and_consistent(name):
    folder = zoo.CHECKPOINT_DIR / name
    for f in ("model.pt", "config.yaml", "train_log.csv", "metrics.json"):
        assert (folder / f).is_file(), f
    assert (folder / "model.pt").stat().st_size < 20e6
    ckpt = torch.load(folder / "model.pt", weights_only=True)
    assert ckpt["format"] == "ntscc_sim-checkpoint-v1" and ckpt["optimizer"] is None
    assert ckpt["config"]["name"] == name
    assert (folder / "train_log.csv").read_text().startswith("step,")
    if ckpt["task"] != "deep-jscc":
        return  # other families are checked by their own tests
    shipped_cfg = yaml.safe_load((folder / "config.yaml").read_text())
    assert upgrade_config(shipped_cfg) == upgrade_config(ckpt["config"])
    # the recipe reproduces the shipped config (threads and the schedule length may differ, as in --resume)
    recipe = zoo.CONFIG_DIR / f"{name}.yaml"
    assert recipe.is_file(), f"no recipe {recipe}"
    assert resume_mismatch(upgrade_config(ckpt["config"]), validate_config(yaml.safe_load(recipe.read_text()))) is None
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["step"] == ckpt["step"]
    if metrics.get("complete", True):
        assert ckpt["step"] == ckpt["config"]["optim"]["steps"]
    else:  # an unfinished campaign run (--time-limit): committed weights so far, resumed next session
        assert ckpt["step"] < metrics["steps_total"]
    assert metrics["psnr"] == pytest.approx(ckpt["metrics"]["psnr"])


@pytest.mark.parametrize("name", [n for n in DEEP_JSCC if n in zoo.names()])
def test_load_and_run(name):
    task, model, config, meta = zoo.load(name)
    assert task.kind == "deep-jscc" and not model.training
    x = torch.rand(1, 3, 36, 44)
    with torch.no_grad():
        out = model(x, 10.0, seeds=[0])
    assert out["x_hat"].shape == x.shape
    assert meta["metrics"]["psnr"] > 20.0  # trained, not random (a random model gives ~11 dB)


def test_resolve_names_paths_and_errors(tmp_path):
    name = zoo.names()[0]
    path = zoo.resolve(name)
    assert path == zoo.CHECKPOINT_DIR / name / "model.pt"
    assert zoo.resolve(str(path)) == path
    assert zoo.resolve(path.parent) == path
    with pytest.raises(FileNotFoundError, match="did you mean"):
        zoo.resolve(name + "x")
    with pytest.raises(FileNotFoundError):
        zoo.resolve(tmp_path)  # a folder without model.pt


def test_all_recipes_validate():
    recipes = zoo.recipes()
    assert len(recipes) >= len(DEEP_JSCC)
    for path in recipes:
        cfg = yaml.safe_load(path.read_text())
        if cfg["model"]["kind"] == "deep-jscc":
            assert cfg["name"] == path.stem, path
            validate_config(cfg)


def test_cli_lists_every_checkpoint(capsys):
    assert zoo_main([]) == 0
    out = capsys.readouterr().out
    for name in zoo.names():
        assert name in out
    assert "val PSNR" in out and "CBR" in out
    assert zoo_main(["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    row = {r["name"]: r for r in rows}["deepjscc-cifar10-awgn10-c8"]
    assert row["cbr"] == pytest.approx(1 / 6) and row["train_snr_db"] == "10" and row["channel"] == "awgn"


def test_cached_load_sees_a_rewritten_checkpoint(tmp_path):
    """cache=True shares one model per file version: weights written since are loaded again
    (their results carry the new sha256, so the model must be the new one too)."""
    import os
    import shutil

    path = tmp_path / "model.pt"
    shutil.copy(zoo.resolve("deepjscc-cifar10-awgn10-c2"), path)
    m1 = zoo.load(path, cache=True)[1]
    assert zoo.load(path, cache=True)[1] is m1  # unchanged file: the shared model
    ck = torch.load(path, weights_only=True)
    key = next(k for k, v in ck["state_dict"].items() if v.is_floating_point())
    ck["state_dict"][key] = ck["state_dict"][key] + 1.0
    torch.save(ck, path)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    m2 = zoo.load(path, cache=True)[1]
    assert m2 is not m1
    assert torch.equal(m2.state_dict()[key], ck["state_dict"][key])
