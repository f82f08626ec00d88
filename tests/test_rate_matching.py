"""Rate matching shares every image's BPG sizes: each (image, QP) is encoded once per sweep,
and the answers (so points.csv) are those of the former search, byte for byte."""

import numpy as np
import pytest
from PIL import Image

from baselines.bpg import BPGCodec
from baselines.separation import source
from baselines.separation.source import choose_quality
from conftest import write_yaml
from ntscc_sim.run import main


# natural photos (skimage's), centre crops of 64x64 .. 128x128 written as PNG files
CROPS = [("astronaut", 64, 64), ("coffee", 128, 128), ("chelsea", 64, 128)]


def _crop(name, h, w):
    from ntscc_sim.datasets import build_dataset

    return build_dataset({"kind": "builtin", "names": [name], "crop": [h, w]}).get(name)


_ENCODE = BPGCodec._encode_x265  # the real encoder, counted below


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    for name, h, w in CROPS:
        Image.fromarray(_crop(name, h, w)).save(d / f"{name}.png")
    return d


def _scenario(folder):
    cbr = ["1/24", "1/12"]
    return {
        "name": "rate_matching", "seed": 4,
        "dataset": {"kind": "folder", "path": str(folder)},
        "channel": {"kind": "awgn"},
        "snr_db": [4.0, 14.0],
        "schemes": [
            {"name": "ldpc", "kind": "bpg-ldpc", "cbr": cbr, "mcs": {"modulation": "16qam", "rate": "2/3"}, "code": {"k": 1024}},
            {"name": "cap", "kind": "bpg-capacity", "cbr": cbr},
        ],
        "report": {"enabled": False},
    }


def _run(tmp_path, folder, name, monkeypatch, search):
    """One sweep on an empty cache: (points.csv text, encodes run, cache files, the QPs chosen)."""
    import pandas as pd

    cache = tmp_path / f"cache-{name}"
    monkeypatch.setenv("NTSCC_SIM_CACHE", str(cache))
    monkeypatch.setattr(source, "DEFAULT_SEARCH", search)
    encodes = []
    monkeypatch.setattr(BPGCodec, "_encode_x265", lambda self, img, qp: encodes.append((img.shape, qp)) or _ENCODE(self, img, qp))
    f = write_yaml(tmp_path / f"{name}.yaml", _scenario(folder))
    out = tmp_path / name
    assert main([str(f), "--out", str(out), "--quiet"]) == 0
    files = list((cache / "bpg").rglob("*.bpg"))
    qps = pd.read_csv(out / "points.csv").groupby("image")["qp"].apply(lambda s: set(s.dropna().astype(int)))
    return (out / "points.csv").read_text(), encodes, files, qps


def test_sweep_encodes_each_image_qp_once_and_keeps_points(tmp_path, image_folder, monkeypatch):
    new, enc_new, files_new, qps = _run(tmp_path, image_folder, "bracket", monkeypatch, "bracket")
    old, enc_old, files_old, _ = _run(tmp_path, image_folder, "walk", monkeypatch, "walk")
    assert new == old, "the shared-size search changed points.csv"
    # every encode is a new (image, QP): nothing is encoded twice, by any scheme, CBR or SNR
    assert len(enc_new) == len(set(enc_new)) == len(files_new)
    assert len(enc_new) < len(enc_old)
    # the floor: each chosen QP and its better neighbour (to know that it does not fit); the
    # search adds the first probe per image and a few on the way (measured: 36 for a floor of 31,
    # the former search 45)
    floor = sum(len(s | {q - 1 for q in s if q > 0}) for s in qps)
    assert floor <= len(enc_new) <= floor + 3 * len(CROPS), (floor, len(enc_new), len(enc_old))
    # warm: the same sweep again finds every size in the disk cache, encodes nothing
    out = tmp_path / "warm"
    enc_new.clear()
    f = tmp_path / "bracket.yaml"
    monkeypatch.setenv("NTSCC_SIM_CACHE", str(tmp_path / "cache-bracket"))
    monkeypatch.setattr(source, "DEFAULT_SEARCH", "bracket")
    from baselines import bpg

    bpg._SIZE_TABLES.clear()  # a new process: sizes come from the disk cache
    assert main([str(f), "--out", str(out), "--quiet"]) == 0
    assert enc_new == [] and (out / "points.csv").read_text() == new


def test_bracket_search_matches_walk_and_reuses_known_sizes(tmp_path):
    img = _crop("rocket", 48, 64)
    codec = BPGCodec(backend="x265", cache_dir=tmp_path)
    sizes_all = {q: len(codec.encode(img, q)) * 8 for q in codec.qualities}
    budgets = sorted(set(sizes_all.values()))
    budgets = budgets[:: max(1, len(budgets) // 12)] + [b + 1 for b in budgets[::9]] + [budgets[0] - 1, budgets[-1] * 2]
    table: dict = {}
    calls = []
    encode = codec.encode
    codec.encode = lambda im, q: calls.append(q) or encode(im, q)
    for b in budgets:
        walk = choose_quality(codec, img, b, search="walk")
        bracket = choose_quality(codec, img, b, sizes=table, search="bracket")
        assert walk == bracket
        if bracket[0] is not None:
            i = codec.qualities.index(bracket[0])
            assert sizes_all[bracket[0]] <= b and (i == 0 or sizes_all[codec.qualities[i - 1]] > b)
    # a full table answers every budget with one cache read (the chosen bitstream) and no probe
    calls.clear()
    full = dict(sizes_all)
    for b in budgets:
        q, _ = choose_quality(codec, img, b, sizes=full)
        assert calls == ([q] if q is not None else [])
        calls.clear()
    with pytest.raises(ValueError, match="search"):
        choose_quality(codec, img, 1000, search="bisect")
