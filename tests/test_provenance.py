"""No stale results: rows computed with other weights, another code version or other parameters
are never reused; a fresh quickstart run reproduces the committed reference."""

import json
import shutil

import pandas as pd
import pytest
import torch
import yaml

import ntscc_sim
from conftest import REPO, write_yaml
from ntscc_sim import zoo
from ntscc_sim.run import main

SMALL = "deepjscc-cifar10-awgn10-c2"


def _scenario(ckpt) -> dict:
    return {
        "name": "stale", "seed": 2,
        "dataset": {"kind": "builtin", "names": ["astronaut"], "crop": [32, 32]},
        "snr_db": [10.0],
        "schemes": [{"name": "djscc", "kind": "deep-jscc", "checkpoint": [str(ckpt)]}],
        "report": {"enabled": False},
    }


def _perturb(path):
    ckpt = torch.load(path, weights_only=True)
    name = next(k for k, v in ckpt["state_dict"].items() if v.is_floating_point() and v.numel() > 100)
    ckpt["state_dict"][name] = ckpt["state_dict"][name] * 1.5
    torch.save(ckpt, path)


def test_changed_weights_are_never_reused(tmp_path, capsys):
    ckpt = tmp_path / "ck" / "model.pt"
    ckpt.parent.mkdir()
    shutil.copy(zoo.resolve(SMALL), ckpt)
    f = write_yaml(tmp_path / "s.yaml", _scenario(ckpt))
    out = tmp_path / "o"
    assert main([str(f), "--out", str(out), "--quiet"]) == 0
    first = (out / "points.csv").read_text()
    assert main([str(f), "--out", str(out), "--quiet"]) == 0  # unchanged: reused
    assert "1 already done, 0 to compute" in capsys.readouterr().err
    before = {p: (out / p).read_text() for p in ("points.csv", "run.json", "summary.csv")}
    assert before["points.csv"] == first

    _perturb(ckpt)
    assert main([str(f), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"scheme 'djscc': checkpoint {ckpt}: weights changed (sha256 " in err
    assert "--overwrite" in err and "--out" in err
    assert {p: (out / p).read_text() for p in before} == before, "nothing may be written on refusal"

    assert main([str(f), "--out", str(out), "--quiet", "--overwrite"]) == 0
    new = pd.read_csv(out / "points.csv")
    old = pd.read_csv(pd.io.common.StringIO(before["points.csv"]))
    assert len(new) == len(old) == 1
    assert new["psnr"][0] != old["psnr"][0], "the row must be recomputed with the new weights"
    fresh = tmp_path / "fresh"
    assert main([str(f), "--out", str(fresh), "--quiet"]) == 0
    assert (fresh / "points.csv").read_text() == (out / "points.csv").read_text()
    assert main([str(f), "--out", str(out), "--quiet"]) == 0  # now consistent again


def test_code_version_and_unhashed_folders_are_refused(tmp_path, capsys, monkeypatch):
    f = write_yaml(tmp_path / "s.yaml", _scenario(SMALL))
    out = tmp_path / "o"
    assert main([str(f), "--out", str(out), "--quiet"]) == 0
    points = (out / "points.csv").read_text()
    monkeypatch.setattr(ntscc_sim, "__version__", "999.0")
    assert main([str(f), "--out", str(out), "--quiet"]) == 2
    assert "scheme 'djscc': package ntscc_sim version changed" in capsys.readouterr().err
    monkeypatch.undo()
    # a folder written before checkpoint hashes were recorded cannot be trusted
    run = json.loads((out / "run.json").read_text())
    for spec in run["fingerprint"]["schemes"].values():
        del spec["checkpoints"], spec["version"]
    (out / "run.json").write_text(json.dumps(run))
    assert main([str(f), "--out", str(out), "--quiet"]) == 2
    assert "before code versions and checkpoint hashes were recorded" in capsys.readouterr().err
    # rows without any run.json either
    (out / "run.json").unlink()
    assert main([str(f), "--out", str(out), "--quiet"]) == 2
    assert "records no fingerprint" in capsys.readouterr().err
    assert (out / "points.csv").read_text() == points
    assert main([str(f), "--out", str(out), "--quiet", "--overwrite"]) == 0
    assert (out / "points.csv").read_text() == points  # same weights, same code: same numbers


def test_overwrite_drops_only_the_stale_scheme(tmp_path, capsys):
    ckpt = tmp_path / "model.pt"
    shutil.copy(zoo.resolve(SMALL), ckpt)
    sc = _scenario(ckpt)
    sc["schemes"].append({"name": "other", "kind": "deep-jscc", "checkpoint": [SMALL]})
    f = write_yaml(tmp_path / "s.yaml", sc)
    out = tmp_path / "o"
    assert main([str(f), "--out", str(out), "--quiet"]) == 0
    old = pd.read_csv(out / "points.csv").set_index("scheme")["psnr"]
    _perturb(ckpt)
    assert main([str(f), "--out", str(out), "--overwrite"]) == 0
    assert "dropping the rows of ['djscc']" in capsys.readouterr().err
    new = pd.read_csv(out / "points.csv").set_index("scheme")["psnr"]
    assert new["other"] == old["other"] and new["djscc"] != old["djscc"]


def test_prune_keeps_exactly_this_sweep(tmp_path, capsys):
    sc = _scenario(SMALL)
    sc["snr_db"] = [5.0, 10.0]
    sc["schemes"].append({"name": "other", "kind": "deep-jscc", "checkpoint": [SMALL]})
    f = write_yaml(tmp_path / "s.yaml", sc)
    out = tmp_path / "o"
    assert main([str(f), "--out", str(out), "--quiet"]) == 0
    full = pd.read_csv(out / "points.csv")
    assert len(full) == 4
    sc["snr_db"], sc["schemes"] = [10.0], sc["schemes"][:1]  # drop an SNR and a scheme
    write_yaml(f, sc)
    assert main([str(f), "--out", str(out), "--quiet"]) == 0  # without --prune the rows stay
    assert len(pd.read_csv(out / "points.csv")) == 4
    assert "other" in json.loads((out / "run.json").read_text())["fingerprint"]["schemes"]
    assert main([str(f), "--out", str(out), "--quiet", "--prune"]) == 0
    assert "0 to compute" in capsys.readouterr().err
    kept = pd.read_csv(out / "points.csv")
    assert list(zip(kept.scheme, kept.snr_db)) == [("djscc", 10.0)]
    ref = full[(full.scheme == "djscc") & (full.snr_db == 10.0)]
    assert kept.psnr.tolist() == ref.psnr.tolist(), "a kept row is not recomputed"
    assert list(json.loads((out / "run.json").read_text())["fingerprint"]["schemes"]) == ["djscc"]


def test_default_out_is_runs_not_the_committed_results(tmp_path, monkeypatch, capsys):
    f = write_yaml(tmp_path / "s.yaml", _scenario(SMALL))
    monkeypatch.chdir(tmp_path)
    assert main([str(f), "--dry-run"]) == 0
    assert "-> runs/stale" in capsys.readouterr().out


# -- the committed reference ---------------------------------------------------------------
EXACT = ["scheme", "kind", "config", "snr_db", "image", "pixels", "cbr", "bits", "payload_bits", "side_bits", "outage",
         "target_cbr", "mcs", "qp", "code_k", "checkpoint", "train_snr_db", "eta", "lambda", "ntc_lambda", "derived"]
# learned models and MS-SSIM are float32 / oneDNN numerics: last digits vary across CPUs
CLOSE = {"psnr": 1e-3, "ms_ssim_db": 1e-3}


def _moved_rows(ref: pd.DataFrame, new: pd.DataFrame) -> list[str]:
    key = ["scheme", "config", "snr_db", "image"]
    ref, new = ref.set_index(key), new.set_index(key)
    moved = [f"missing {k}" for k in ref.index.difference(new.index)]
    moved += [f"extra {k}" for k in new.index.difference(ref.index)]
    for k in ref.index.intersection(new.index):
        a, b = ref.loc[k], new.loc[k]
        for c in EXACT + list(CLOSE):
            if c in key or c not in ref.columns:
                continue
            x, y = a[c], b[c]
            if pd.isna(x) and pd.isna(y):
                continue
            same = abs(float(x) - float(y)) <= CLOSE[c] if c in CLOSE and not (pd.isna(x) or pd.isna(y)) else x == y
            if not same:
                moved.append(f"{k}: {c} {x!r} -> {y!r}")
    return moved


def _quickstart(tmp_path, subset: bool):
    sc = yaml.safe_load((REPO / "scenarios" / "quickstart.yaml").read_text())
    sc["report"] = {"enabled": False}
    if subset:  # one SNR, the cheap schemes, one eta: ~20 s on a busy 2-core machine
        sc["snr_db"] = [12]
        keep = {"BPG + LDPC QPSK 1/2", "deep JSCC", "NTSCC", "NTC + LDPC QPSK 1/2"}
        sc["schemes"] = [s for s in sc["schemes"] if s["name"] in keep]
        for s in sc["schemes"]:
            if s["kind"] == "ntscc":
                s["eta"] = [0.2]
    f = write_yaml(tmp_path / "quickstart.yaml", sc)
    out = tmp_path / "quickstart"
    assert main([str(f), "--out", str(out), "--quiet"]) == 0
    return pd.read_csv(out / "points.csv")


def _reference_rows(new: pd.DataFrame) -> pd.DataFrame:
    ref = pd.read_csv(REPO / "results" / "quickstart" / "points.csv")
    keys = set(map(tuple, new[["scheme", "config", "snr_db"]].astype(str).values))
    return ref[[k in keys for k in map(tuple, ref[["scheme", "config", "snr_db"]].astype(str).values)]]


def test_quickstart_subset_reproduces_committed_reference(tmp_path):
    new = _quickstart(tmp_path, subset=True)
    ref = _reference_rows(new)
    assert len(ref) == len(new) > 20
    moved = _moved_rows(ref, new)
    assert not moved, "rows moved against results/quickstart/points.csv:\n" + "\n".join(moved[:40])


@pytest.mark.slow
def test_quickstart_reproduces_committed_reference(tmp_path):
    new = _quickstart(tmp_path, subset=False)
    ref = pd.read_csv(REPO / "results" / "quickstart" / "points.csv")
    moved = _moved_rows(ref, new)
    assert not moved, "rows moved against results/quickstart/points.csv:\n" + "\n".join(moved[:40])
