"""Tests of the Pillow image codecs (baselines/image_codecs.py) and the codec RD tool."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from baselines.image_codecs import JPEG2000Codec, JPEGCodec, WebPCodec, available_codecs, get_codec
from baselines import codec_rd


def _image(h=176, w=200, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 90 * np.sin(xx / 11.0 + seed), 128 + 80 * np.cos(yy / 8.0),
                     60 + 120 * xx / w], -1)
    return np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def _psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2))


# ------------------------------------------------------------------------------ Pillow codecs
@pytest.mark.parametrize("cls", [JPEGCodec, WebPCodec, JPEG2000Codec])
def test_pillow_codec_protocol(cls):
    if cls.name not in available_codecs():
        pytest.skip(f"Pillow without {cls.name}")
    codec = cls()
    img = _image(61, 83)  # odd size
    qs = codec.qualities
    assert len(qs) > 5 and qs == sorted(qs, reverse=(cls is not JPEG2000Codec))
    picks = [qs[0], qs[len(qs) // 3], qs[2 * len(qs) // 3], qs[-1]]  # best -> worst
    sizes, psnrs = [], []
    for q in picks:
        data = codec.encode(img, q)
        rec = codec.decode(data, shape=(61, 83))
        assert rec.shape == (61, 83, 3) and rec.dtype == np.uint8
        sizes.append(len(data))
        psnrs.append(_psnr(img, rec))
    assert all(a > b for a, b in zip(sizes, sizes[1:])), sizes
    assert all(a > b for a, b in zip(psnrs, psnrs[1:])), psnrs
    assert codec.encode(img, picks[1]) == codec.encode(img, picks[1])  # deterministic
    for bad in (b"", b"\x00" * 50, data[: len(data) // 3]):
        with pytest.raises(ValueError):
            codec.decode(bad, (61, 83))
    with pytest.raises(ValueError):
        codec.encode(img, max(qs) + 1000)


def test_get_codec():
    assert get_codec("jpeg").name == "jpeg"
    assert get_codec("bpg", backend="x265", disk_cache=False).name == "bpg"
    with pytest.raises(ValueError):
        get_codec("png")


# ------------------------------------------------------------------------------ metrics
def test_metrics():
    img = _image()
    assert codec_rd.psnr(img, img) == float("inf")
    noisy = np.clip(img.astype(int) + 4, 0, 255).astype(np.uint8)
    assert codec_rd.psnr(img, noisy) == pytest.approx(_psnr(img, noisy))
    assert codec_rd.ms_ssim(img, img) == pytest.approx(1.0, abs=1e-6)
    assert 0.9 < codec_rd.ms_ssim(img, noisy) < 1.0
    assert np.isnan(codec_rd.ms_ssim(img[:100, :100], img[:100, :100]))  # too small: 5 scales


def test_evaluate_codec_averages_per_quality():
    images = [_image(seed=0), _image(seed=1)]
    codec = JPEGCodec()
    res = codec_rd.evaluate_codec(codec, images, [30, 80], progress=False)
    assert set(res) >= {"bpp", "psnr-rgb", "ms-ssim", "encoding_time", "decoding_time"}
    assert res["quality"] == [30, 80]  # sorted by increasing bpp
    for q, bpp, ps in zip(res["quality"], res["bpp"], res["psnr-rgb"]):
        datas = [codec.encode(im, q) for im in images]
        assert bpp == pytest.approx(np.mean([8 * len(d) / (176 * 200) for d in datas]))
        assert ps == pytest.approx(np.mean([_psnr(im, codec.decode(d)) for im, d in zip(images, datas)]))
    assert res["bpp"][0] < res["bpp"][1] and res["psnr-rgb"][0] < res["psnr-rgb"][1]


# ------------------------------------------------------------------------------ CLI
@pytest.fixture
def dataset(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    for i in range(3):
        Image.fromarray(_image(seed=i)).save(d / f"img{i}.png")
    (d / "notes.txt").write_text("not an image")
    return d


@pytest.mark.parametrize("name", ["jpeg", "webp", "jpeg2000"])
def test_cli_writes_compressai_json(dataset, tmp_path, name):
    if name not in available_codecs():
        pytest.skip(f"Pillow without {name}")
    out = tmp_path / f"{name}.json"
    qs = {"jpeg": ["85", "20"], "webp": ["85", "20"], "jpeg2000": ["8", "64"]}[name]
    rc = codec_rd.main(["--codec", name, "--dataset", str(dataset), "--out", str(out),
                        "--qualities", *qs, "--limit", "2", "--no-progress"])
    assert rc == 0
    js = json.loads(out.read_text())
    assert js["name"] == name and "2 images" in js["description"]
    r = js["results"]
    for key in ("bpp", "psnr-rgb", "ms-ssim", "encoding_time", "decoding_time"):
        assert len(r[key]) == 2 and all(isinstance(v, float) for v in r[key])
    assert r["bpp"] == sorted(r["bpp"]) and r["psnr-rgb"] == sorted(r["psnr-rgb"])
    assert all(0 < m <= 1 for m in r["ms-ssim"])


def test_cli_bpg(dataset, tmp_path):
    out = tmp_path / "bpg.json"
    args = ["--codec", "bpg", "--bpg-backend", "x265", "--dataset", str(dataset), "--out", str(out),
            "--qualities", "40", "28", "--limit", "1", "--cache-dir", str(tmp_path / "c"),
            "--no-progress"]
    assert codec_rd.main(args) == 0
    r = json.loads(out.read_text())["results"]
    assert r["quality"] == [40, 28] and r["bpp"][0] < r["bpp"][1]
    assert all(t > 0 for t in r["encoding_time"])
    assert len(list((tmp_path / "c").rglob("*.bpg"))) == 2


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_cli_bad_dataset_exit_code_2(tmp_path, capsys, kind):
    path = tmp_path / "nothing"
    if kind == "empty":
        path.mkdir()
    rc = codec_rd.main(["--codec", "jpeg", "--dataset", str(path), "--out", str(tmp_path / "o.json")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert str(path) in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.json").exists()


def test_module_entry_point(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-m", "baselines.codec_rd", "--codec", "jpeg",
                          "--dataset", str(tmp_path / "missing"), "--out", str(tmp_path / "o.json")],
                         cwd=root, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "missing" in res.stderr
