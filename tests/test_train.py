"""The generic training entry point: config validation, data, the loop, checkpoints, exact resume.

Everything runs on tiny folder datasets cut from scikit-image's bundled photos
(no ../shared needed), with the deep JSCC task as the trainable model.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from conftest import CIFAR, REPO
from ntscc_sim.scenario import ScenarioError
from ntscc_sim.train import (Task, TrainUsageError, eval_snr, get_task, load_checkpoint, read_checkpoint, train,
                             train_snr, validate_config)
from ntscc_sim.train.__main__ import main as train_main
from ntscc_sim.train.data import TrainData, validation_images
from ntscc_sim.train.loop import lr_factor


@pytest.fixture(scope="module")
def image_dirs(tmp_path_factory):
    """train/ (4 photos, downscaled) and val/ (2 photos) folders of PNGs."""
    from ntscc_sim.datasets import BuiltinImages

    root = tmp_path_factory.mktemp("imgs")
    names = ["astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field"]
    ds = BuiltinImages(names)
    for i, (name, img) in enumerate(ds):
        sub = root / ("train" if i < 4 else "val")
        sub.mkdir(exist_ok=True)
        im = Image.fromarray(img)
        im.thumbnail((96, 96))
        im.save(sub / f"{name}.png")
    return root


def tiny_config(image_dirs, **over) -> dict:
    cfg = {
        "name": "tiny",
        "seed": 7,
        "threads": 1,
        "data": {"kind": "folder", "path": str(image_dirs / "train"), "val_path": str(image_dirs / "val"),
                 "crop": 32, "batch_size": 4, "val_limit": 2},
        "channel": {"kind": "awgn", "snr_db": [5, 15]},
        "model": {"kind": "deep-jscc", "c": 4, "filters": [8, 8, 8, 8]},
        "optim": {"lr": 3e-3, "steps": 6, "lr_milestones": [4]},
        "log": {"every": 1, "val_every": 2, "ckpt_every": 3, "tensorboard": False},
    }
    for k, v in over.items():
        cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
    return cfg


# --- config validation -------------------------------------------------------------
@pytest.mark.parametrize("mutate, key, hint", [
    (lambda c: c.update(seeed=1), "seeed", "seed"),
    (lambda c: c["data"].update(batch_sise=4), "data.batch_sise", "batch_size"),
    (lambda c: c["model"].update(filtres=[8, 8, 8, 8]), "model.filtres", "filters"),
    (lambda c: c["model"].update(kind="deep-jsc"), "model.kind", "deep-jscc"),
    (lambda c: c["optim"].update(lr_milestone=[3]), "optim.lr_milestone", "lr_milestones"),
    (lambda c: c["channel"].update(kind="rayleigh"), "channel.kind", "rayleigh-fast"),
])
def test_unknown_keys_name_the_path_and_hint(image_dirs, mutate, key, hint):
    cfg = tiny_config(image_dirs)
    mutate(cfg)
    with pytest.raises(ScenarioError) as err:
        validate_config(cfg)
    assert err.value.key == key
    assert hint in str(err.value)


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c["channel"].update(snr_db=[20, 5]), "channel.snr_db"),
    (lambda c: c["channel"].update(snr_db=[1, 2, 3]), "channel.snr_db"),
    (lambda c: c["model"].pop("c"), "model.c"),
    (lambda c: c["model"].update(c=None, cbr="1/7"), "model.cbr"),
    (lambda c: c["model"].update(cbr="1/6"), "model.cbr"),  # disagrees with c = 4
    (lambda c: c["model"].update(filters=[8, 8]), "model.filters"),
    (lambda c: c["data"].update(crop=None), "data.crop"),
    (lambda c: c["data"].update(val_path=None), "data.val_path"),
    (lambda c: c["optim"].update(lr_milestones=[4, 2]), "optim.lr_milestones"),
    (lambda c: c.update(name="a b"), "name"),
])
def test_invalid_values_name_the_key(image_dirs, mutate, key):
    cfg = tiny_config(image_dirs)
    mutate(cfg)
    with pytest.raises(ScenarioError) as err:
        validate_config(cfg)
    assert err.value.key == key


def test_cbr_resolves_to_c_and_validation_is_idempotent(image_dirs):
    cfg = tiny_config(image_dirs)
    cfg["model"] = {"kind": "deep-jscc", "cbr": "1/12"}
    out = validate_config(cfg)
    assert out["model"]["c"] == 4
    assert validate_config(out) == out
    assert out["optim"]["grad_clip"] is None and out["log"]["tensorboard"] is False


def test_cli_exit_2_names_the_key(image_dirs, tmp_path, capsys):
    cfg = tiny_config(image_dirs)
    cfg["data"]["val_limt"] = 3
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert train_main([str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "data.val_limt" in err and "val_limit" in err
    assert not (tmp_path / "out").exists()
    # the real process exit code, once
    proc = subprocess.run([sys.executable, "-m", "ntscc_sim.train", str(path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and "data.val_limt" in proc.stderr


def test_missing_data_folder_is_a_config_error(image_dirs, tmp_path):
    cfg = tiny_config(image_dirs, data={"val_path": str(tmp_path / "nope")})
    with pytest.raises(ScenarioError) as err:
        train(cfg, tmp_path / "out", progress=False)
    assert err.value.key == "data.val_path"


# --- helpers: SNR draws, learning rate, data -----------------------------------------
def test_train_snr_is_a_function_of_seed_and_step(image_dirs):
    cfg = validate_config(tiny_config(image_dirs))
    draws = [train_snr(cfg, s) for s in range(200)]
    assert draws == [train_snr(cfg, s) for s in range(200)]
    assert 5 <= min(draws) < 6 and 14 < max(draws) <= 15
    assert eval_snr(cfg) == 10.0
    cfg["channel"]["val_snr_db"] = 3.0
    assert eval_snr(cfg) == 3.0
    cfg["channel"]["snr_db"] = 12.0
    assert train_snr(cfg, 5) == 12.0


def test_lr_milestones(image_dirs):
    cfg = validate_config(tiny_config(image_dirs, optim={"lr_milestones": [2, 4], "lr_gamma": 0.5}))
    assert [lr_factor(cfg, s) for s in range(6)] == [1, 1, 0.5, 0.5, 0.25, 0.25]


def test_batches_are_deterministic_and_cover_epochs(image_dirs):
    cfg = validate_config(tiny_config(image_dirs, data={"batch_size": 3}))
    a, b = TrainData(cfg), TrainData(cfg)
    assert torch.equal(a.batch(5), b.batch(5))
    assert not torch.equal(a.batch(5), a.batch(6))
    x = a.batch(0)
    assert x.shape == (3, 3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(torch.round(x * 255), x * 255)  # uint8 / 255
    # 4 images, batch 3: every epoch visits each image once
    seen = a.indices(0) + a.indices(1) + a.indices(2) + a.indices(3)
    assert sorted(seen) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert a.epoch(4) == 3
    (val,) = a.val_batches()
    assert val.shape == (2, 3, 32, 32)
    assert torch.equal(validation_images(cfg).float() / 255.0, val)  # the same images without the training set


@pytest.mark.skipif(not CIFAR.is_dir(), reason="../shared CIFAR-10 not available")
def test_cifar10_batches():
    cfg = validate_config({"name": "c", "data": {"kind": "cifar10", "path": str(CIFAR), "limit": 100, "val_limit": 10,
                                                  "batch_size": 8},
                           "channel": {"snr_db": 10}, "model": {"kind": "deep-jscc", "c": 2}})
    data = TrainData(cfg)
    assert len(data) == 100 and data.num_val == 10
    assert data.batch(3).shape == (8, 3, 32, 32)


# --- the loop ----------------------------------------------------------------------
def test_twenty_steps_lower_the_loss(image_dirs, tmp_path):
    # one SNR: a random SNR per batch adds more spread to 5-step loss means than 20 steps remove
    cfg = tiny_config(image_dirs, optim={"steps": 20, "lr_milestones": []}, channel={"snr_db": 10},
                      log={"every": 5, "val_every": 100, "ckpt_every": 100})
    metrics = train(cfg, tmp_path / "run", progress=False)
    log = np.genfromtxt(tmp_path / "run" / "train_log.csv", delimiter=",", names=True)
    assert list(log["step"]) == [5, 10, 15, 20]
    assert log["loss"][-1] < 0.8 * log["loss"][0]
    for f in ("model.pt", "checkpoint.pt", "config.yaml", "metrics.json", "train_log.csv"):
        assert (tmp_path / "run" / f).is_file()
    assert metrics["step"] == 20 and np.isfinite(metrics["psnr"]) and metrics["cbr"] == pytest.approx(4 / 48)
    assert np.isfinite(log["val_psnr"][-1])  # the last row carries the final validation


def test_checkpoint_round_trip_weights_only(image_dirs, tmp_path):
    cfg = tiny_config(image_dirs, optim={"steps": 2})
    train(cfg, tmp_path / "run", progress=False)
    raw = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert raw["format"] == "ntscc_sim-checkpoint-v1" and raw["task"] == "deep-jscc" and raw["step"] == 2
    assert raw["optimizer"] is None and isinstance(raw["config"], dict)
    assert yaml.safe_load(yaml.safe_dump(raw["config"])) == raw["config"]  # plain python types only
    full = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert full["optimizer"] is not None and full["rng"]["torch"].dtype == torch.uint8
    task, model, config, meta = load_checkpoint(tmp_path / "run", "cpu")
    assert not model.training and meta["step"] == 2 and config == raw["config"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, raw["state_dict"][k])
    # the reloaded model gives identical outputs to a second reload
    x = torch.rand(1, 3, 20, 24)
    _, model2, _, _ = load_checkpoint(tmp_path / "run" / "model.pt")
    with torch.no_grad():
        assert torch.equal(model(x, 10.0, seeds=[1])["x_hat"], model2(x, 10.0, seeds=[1])["x_hat"])
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()) == raw["config"]


def test_resume_is_exact(image_dirs, tmp_path):
    cfg = tiny_config(image_dirs)
    whole = train(cfg, tmp_path / "a", progress=False)
    train(cfg, tmp_path / "b", steps=3, progress=False)
    resumed = train(cfg, tmp_path / "b", resume=True, progress=False)
    a, b = read_checkpoint(tmp_path / "a" / "checkpoint.pt"), read_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert a["step"] == b["step"] == 6
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    for i in sa:
        for k in sa[i]:
            assert torch.equal(sa[i][k], sb[i][k])
    assert whole["psnr"] == resumed["psnr"] and whole["loss"] == resumed["loss"]

    def rows(p):
        lines = (p / "train_log.csv").read_text().splitlines()
        return [line.split(",")[:2] + line.split(",")[3:] for line in lines]  # drop 'seconds'

    ra, rb = rows(tmp_path / "a"), rows(tmp_path / "b")
    # b has one extra validation at step 3 (the end of its first part); otherwise the same
    assert ra[0] == rb[0] and [r[:4] for r in ra] == [r[:4] for r in rb]


def test_resume_guards(image_dirs, tmp_path):
    cfg = tiny_config(image_dirs, optim={"steps": 2})
    train(cfg, tmp_path / "run", progress=False)
    with pytest.raises(TrainUsageError, match="--resume"):
        train(cfg, tmp_path / "run", progress=False)
    changed = tiny_config(image_dirs, optim={"steps": 2, "lr": 1e-4})
    with pytest.raises(TrainUsageError, match="optim.lr"):
        train(changed, tmp_path / "run", resume=True, progress=False)
    more = train(cfg, tmp_path / "run", resume=True, steps=3, progress=False)  # extending is allowed
    assert more["step"] == 3


def test_init_from_another_checkpoint(image_dirs, tmp_path):
    cfg = tiny_config(image_dirs, optim={"steps": 2})
    train(cfg, tmp_path / "base", progress=False)
    base = read_checkpoint(tmp_path / "base" / "model.pt")
    # default hook: copy every tensor whose name and shape match
    task = get_task("deep-jscc")
    wider = validate_config(tiny_config(image_dirs, model={"c": 6}))
    model = task.build(wider)
    info = Task.init_from(task, model, base, wider)
    assert "encoder.0.weight" in info["loaded"] and "encoder.8.weight" in info["skipped"]
    assert torch.equal(model.state_dict()["encoder.0.weight"], base["state_dict"]["encoder.0.weight"])
    # through the config: init: <path>, then 1 step at a tiny learning rate stays close to the base
    cfg2 = tiny_config(image_dirs, optim={"steps": 1, "lr": 1e-9}, init=str(tmp_path / "base"))
    train(cfg2, tmp_path / "ft", progress=False)
    ft = read_checkpoint(tmp_path / "ft" / "model.pt")
    for k, v in base["state_dict"].items():
        assert torch.allclose(ft["state_dict"][k], v, atol=1e-6), k


def test_paper_scale_configs_run_at_tiny_size(image_dirs, tmp_path):
    """The shipped deep JSCC paper-scale recipes are valid and train (2 steps on tiny data)."""
    paper = sorted((REPO / "ntscc_sim" / "zoo" / "configs").glob("deepjscc-*paper*.yaml"))
    assert paper, "no paper-scale recipe shipped"
    for path in paper:
        cfg = yaml.safe_load(path.read_text())
        validate_config(cfg)
        cfg["data"] = tiny_config(image_dirs)["data"] | {"batch_size": 2, "val_limit": 1}
        cfg["log"] = {"tensorboard": False}
        metrics = train(cfg, tmp_path / path.stem, steps=2, progress=False)
        assert metrics["step"] == 2 and np.isfinite(metrics["loss"])


# --- random streams, wall-time limit, precision ------------------------------------
def test_channel_noise_is_independent_of_torchs_default_stream():
    """Quantisation noise (torch's default generator) and channel noise (Sionna's) drawn at the
    same step must come from different streams; a channel reseed leaves torch's stream alone."""
    from ntscc_sim.channels import Channel
    from ntscc_sim.config import seed_everything

    seed_everything(123)
    quant = torch.empty(4096).uniform_(-0.5, 0.5)  # as CompressAI's noise quantiser draws it
    y, _ = Channel("awgn")(torch.zeros(1, 4096, dtype=torch.complex64), 0.0)
    seed_everything(123)
    quant_normal = torch.randn(4096)  # what torch's default stream gives for a normal draw
    noise = y.real.flatten() * np.sqrt(2.0)
    assert not torch.allclose(noise, quant_normal)
    assert abs(float(torch.corrcoef(torch.stack([noise, quant_normal]))[0, 1])) < 0.1
    assert abs(float(torch.corrcoef(torch.stack([noise, quant]))[0, 1])) < 0.1
    # per-image channel seeding does not reseed torch's default generator
    state = torch.get_rng_state()
    Channel("awgn")(torch.zeros(1, 8, dtype=torch.complex64), 0.0, seed=5)
    assert torch.equal(state, torch.get_rng_state())


def test_time_limit_stops_resumably_and_resume_is_exact(image_dirs, tmp_path, capsys):
    cfg = tiny_config(image_dirs)
    whole = train(cfg, tmp_path / "a", progress=False)
    part = train(cfg, tmp_path / "b", progress=False, time_limit=1e-9)  # stops after the first step
    assert part["complete"] is False and part["step"] == 1 and part["steps_total"] == 6
    assert "continue with: python -m ntscc_sim.train" in capsys.readouterr().err
    for f in ("checkpoint.pt", "model.pt", "metrics.json"):
        assert (tmp_path / "b" / f).is_file()
    assert read_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 1
    done = train(cfg, tmp_path / "b", resume=True, progress=False)
    assert done["complete"] is True and whole["complete"] is True
    a, b = read_checkpoint(tmp_path / "a" / "model.pt"), read_checkpoint(tmp_path / "b" / "model.pt")
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    assert whole["psnr"] == done["psnr"]


def test_sigterm_stops_like_the_time_limit_and_resume_is_exact(image_dirs, tmp_path, monkeypatch, capsys):
    """A batch scheduler's SIGTERM (e.g. SLURM at the wall time) during step 3: the step finishes,
    checkpoint.pt / model.pt / metrics.json ("complete": false) are written, the call returns,
    the previous SIGTERM handling is back, and --resume ends where the uninterrupted run ends."""
    import os
    import signal

    import ntscc_sim.train.loop as loop_mod

    cfg = tiny_config(image_dirs)
    whole = train(cfg, tmp_path / "a", progress=False)
    batch = loop_mod.TrainData.batch

    def batch_then_sigterm(self, step):
        if step == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return batch(self, step)

    outside = []  # a handler of the caller's: it must not see a SIGTERM meant for the run
    caller = lambda signum, frame: outside.append(signum)  # noqa: E731
    previous = signal.signal(signal.SIGTERM, caller)
    monkeypatch.setattr(loop_mod.TrainData, "batch", batch_then_sigterm)
    try:
        part = train(cfg, tmp_path / "b", progress=False)
        assert signal.getsignal(signal.SIGTERM) is caller and outside == []
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert part["complete"] is False and part["step"] == 3
    assert "SIGTERM received after step 3 of 6" in capsys.readouterr().err
    assert read_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 3
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["complete"] is False
    monkeypatch.setattr(loop_mod.TrainData, "batch", batch)
    done = train(cfg, tmp_path / "b", resume=True, progress=False)
    a, b = read_checkpoint(tmp_path / "a" / "model.pt"), read_checkpoint(tmp_path / "b" / "model.pt")
    assert done["complete"] is True and all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert whole["psnr"] == done["psnr"]


def test_cli_time_limit_exits_0(image_dirs, tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(tiny_config(image_dirs)))
    assert train_main([str(path), "--out", str(tmp_path / "run"), "--quiet", "--time-limit", "1e-9"]) == 0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["complete"] is False
    with pytest.raises(SystemExit) as exc:
        train_main([str(path), "--time-limit", "0"])
    assert exc.value.code == 2


@pytest.mark.parametrize("over", [{"precision": "bf16"}, {"channels_last": True},
                                  {"precision": "bf16", "channels_last": True}])
def test_bf16_and_channels_last_train(image_dirs, tmp_path, over):
    cfg = tiny_config(image_dirs, optim={"steps": 3, "lr_milestones": []}, **over)
    metrics = train(cfg, tmp_path / "run", progress=False)
    assert np.isfinite(metrics["psnr"]) and metrics["cbr"] == pytest.approx(4 / 48)
    with pytest.raises(ScenarioError, match="precision"):
        validate_config(tiny_config(image_dirs, precision="fp16"))


@pytest.mark.skipif(not CIFAR.is_dir(), reason="../shared CIFAR-10 not available")
def test_cifar10_holdout_validation_is_never_trained_on():
    base = {"name": "c", "data": {"kind": "cifar10", "path": str(CIFAR), "val_limit": 50, "batch_size": 8},
            "channel": {"snr_db": 10}, "model": {"kind": "deep-jscc", "c": 2}}
    data = TrainData(validate_config(base))
    assert len(data) == 50000 - 50 and data.num_val == 50
    val = {bytes(v.numpy()) for v in data._val}
    train_tail = {bytes(v.numpy()) for v in data._images[-2000:]}
    assert not val & train_tail
    test = TrainData(validate_config({**base, "data": {**base["data"], "val_split": "test"}}))
    assert len(test) == 50000 and not torch.equal(test._val, data._val)
    assert torch.equal(validation_images(validate_config(base)), data._val)


# --- learning curves and the zoo table read run folders only ------------------------
def test_learning_curves_from_a_run_folder(image_dirs, tmp_path):
    from ntscc_sim.report.training_curves import CurveInputError, main as curves_main, read_curve

    cfg = tiny_config(image_dirs)  # batch 4, validation every 2 of 6 steps
    train(cfg, tmp_path / "run", progress=False)
    curve = read_curve(tmp_path / "run")
    assert curve["name"] == "tiny" and curve["images"] == [8, 16, 24]
    log = np.genfromtxt(tmp_path / "run" / "train_log.csv", delimiter=",", names=True)
    assert curve["values"] == pytest.approx([v for v in log["val_psnr"] if np.isfinite(v)])
    out = tmp_path / "fig" / "curves.png"
    assert curves_main([str(tmp_path / "run"), "--out", str(out)]) == 0 and out.stat().st_size > 1000
    assert curves_main([str(tmp_path), "--out", str(out)]) == 2  # not a run folder
    with pytest.raises(CurveInputError, match="train_log.csv"):
        read_curve(tmp_path)
    # a model trained in phases of different batch sizes carries cumulative images seen
    import csv

    with open(tmp_path / "run" / "train_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, r in enumerate(rows):
        r["images"] = 100 * (i + 1)
    with open(tmp_path / "run" / "train_log.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    phased = read_curve(tmp_path / "run")
    assert phased["images"] == [r["images"] for r in rows if r["val_psnr"]] != curve["images"]
    assert phased["values"] == curve["values"]


def test_zoo_markdown_table_lists_every_checkpoint(capsys):
    from ntscc_sim import zoo
    from ntscc_sim.zoo.__main__ import main as zoo_main

    assert zoo_main(["--markdown"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| model | data | steps | epochs | core-hours")
    assert sorted(line.split("|")[1].strip() for line in lines[2:]) == sorted(zoo.names())
