"""Tests of the BPG source codec (baselines/bpg.py).

Reference for the Kodak validation: CompressAI's published bpgenc 0.9.8 results,
InterDigitalInc/CompressAI ``results/image/kodak/bpg_444_x265_ycbcr.json`` (copied in
``baselines.bpg.PUBLISHED_KODAK_BPG444``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from baselines import bpg
from baselines.bpg import PUBLISHED_KODAK_BPG444, BPGCodec

KODAK = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kodak"


def _psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2))


def _test_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A natural-looking test image: a Kodak crop if available, else smooth colour + texture."""
    if (KODAK / "kodim23.png").is_file():
        from PIL import Image

        with Image.open(KODAK / "kodim23.png") as im:
            full = np.asarray(im.convert("RGB"))
        return np.ascontiguousarray(full[100:100 + h, 150:150 + w])
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 80 * np.sin(xx / 9.0), 128 + 70 * np.cos(yy / 7.0), 64 + xx * 100 / w], -1)
    return np.clip(base + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def codec(tmp_path):
    return BPGCodec(backend="x265", cache_dir=tmp_path / "cache")


# ------------------------------------------------------------------------------ colour transform
def test_colour_transform_matches_bpgenc_fixed_point():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255],
                     [12, 200, 99]]], dtype=np.uint8)
    ycc = bpg.rgb_to_ycbcr(rgb)
    # full range BT.601 (k_r=0.299, k_b=0.114): black/white are neutral, pure colours as JPEG
    assert ycc[:, 0, 0].tolist() == [0, 128, 128]
    assert ycc[:, 0, 1].tolist() == [255, 128, 128]
    x = rgb.astype(np.float64)
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    ref = np.stack([y, 128 + (x[..., 2] - y) / 1.772, 128 + (x[..., 0] - y) / 1.402])
    assert np.max(np.abs(ycc - np.clip(ref, 0, 255))) <= 0.5 + 1e-9  # rounding, not truncation
    # libbpg's inverse: round trip of all grey levels is exact, colours within 1-2 levels
    grey = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    assert np.array_equal(bpg.ycbcr_to_rgb(bpg.rgb_to_ycbcr(grey)), grey)
    rnd = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert np.max(np.abs(bpg.ycbcr_to_rgb(bpg.rgb_to_ycbcr(rnd)).astype(int) - rnd)) <= 2


def test_ycbcr_to_rgb_all_inputs_match_libbpg_arithmetic():
    """The numba kernel against a numpy transcription of libbpg's convert_init, all 2^24 inputs."""
    cbcr = np.arange(1 << 16, dtype=np.int64)
    for y0 in range(0, 256, 32):  # 32 luma values x all chroma pairs per chunk
        v = (np.arange(y0, y0 + 32, dtype=np.int64)[:, None] << 16 | cbcr).ravel()
        planes = np.stack([v >> 16, (v >> 8) & 255, v & 255]).astype(np.uint8).reshape(3, 512, 4096)
        y = planes[0].astype(np.int64) << bpg._DEC_SHIFT
        cb, cr = planes[1].astype(np.int64) - 128, planes[2].astype(np.int64) - 128
        rnd = 1 << (bpg._DEC_SHIFT - 1)
        ref = np.stack([(y + bpg._C_R_CR * cr + rnd) >> bpg._DEC_SHIFT,
                        (y - bpg._C_G_CB * cb - bpg._C_G_CR * cr + rnd) >> bpg._DEC_SHIFT,
                        (y + bpg._C_B_CB * cb + rnd) >> bpg._DEC_SHIFT], axis=-1)
        ref = np.clip(ref, 0, 255).astype(np.uint8)
        assert np.array_equal(bpg.ycbcr_to_rgb(planes), ref)
    assert np.array_equal(bpg.ycbcr_to_rgb(planes[:, ::7, ::5]), ref[::7, ::5])  # strided input


# ------------------------------------------------------------------------------ protocol basics
def test_protocol_attributes(codec):
    assert codec.name == "bpg"
    assert codec.qualities == list(range(52))  # QP: best quality first
    assert codec.preset == "veryslow"  # bpgenc 0.9.8 default -m 8
    params = codec.x265_params(29, 768, 512)
    for item in ("qp=29", "keyint=1", "info=0", "hash=0", "repeat-headers=1", "amp=1", "rect=1"):
        assert item in params.split(":")
    with pytest.raises(ValueError):
        codec.encode(_test_image(16, 16), 52)
    with pytest.raises(ValueError):
        codec.encode(_test_image(16, 16).astype(np.float32), 30)
    with pytest.raises(ValueError):
        BPGCodec(backend="nope")


@pytest.mark.parametrize("h,w", [(321, 481), (17, 23), (5, 7)])
def test_roundtrip_shape_dtype_odd_sizes(codec, h, w):
    img = _test_image(h, w)
    data = codec.encode(img, 25)
    assert isinstance(data, bytes) and data[:4] == b"BPG\xfb"
    rec = codec.decode(data, shape=(h, w))
    assert rec.shape == (h, w, 3) and rec.dtype == np.uint8
    assert _psnr(img, rec) > 30
    with pytest.raises(ValueError):
        codec.decode(data, shape=(h + 1, w))


def test_rate_and_quality_monotone_in_qp(codec):
    img = _test_image(96, 128)
    sizes, psnrs = [], []
    for qp in (10, 22, 34, 46):
        data = codec.encode(img, qp)
        sizes.append(len(data))
        psnrs.append(_psnr(img, codec.decode(data, (96, 128))))
    assert all(a > b for a, b in zip(sizes, sizes[1:])), sizes
    assert all(a > b for a, b in zip(psnrs, psnrs[1:])), psnrs


def test_deterministic_and_thread_independent(tmp_path):
    img = _test_image(64, 80)
    a = BPGCodec(backend="x265", disk_cache=False, threads=1).encode(img, 30)
    b = BPGCodec(backend="x265", disk_cache=False, threads=1).encode(img, 30)
    c = BPGCodec(backend="x265", disk_cache=False, threads=2).encode(img, 30)
    assert a == b == c
    dec = BPGCodec(backend="x265", disk_cache=False)
    assert np.array_equal(dec.decode(a), dec.decode(a))


# ------------------------------------------------------------------------------ BPG packaging
def test_bpg_file_layout_matches_bpgenc_repackaging(codec):
    """Bytes = BPG header + modified SPS + x265's NALs from the PPS on (first start code off)."""
    h, w = 40, 200
    img = _test_image(h, w)
    raw = codec.x265_annexb(img, 30)
    nals = bpg._split_annexb(raw)
    assert [bpg._nal_type(raw[p]) for _, p, _ in nals][:3] == [32, 33, 34]  # VPS, SPS, PPS
    data = codec.encode(img, 30)
    header = b"BPG\xfb" + bytes([0x60, 0x00]) + bpg._put_ue7(w) + bpg._put_ue7(h) + b"\x00"
    assert data.startswith(header)
    msps_len = data[len(header)]
    assert 1 <= msps_len <= 8
    assert data[len(header) + 1 + msps_len:] == raw[nals[2][1]:]
    # the VPS and full SPS (~60-70 bytes) are replaced by <= 20 bytes of BPG header
    assert len(raw) - len(data) > 40


def test_repackaged_stream_decodes_identically(codec):
    """Decoding our BPG file (rebuilt VPS/SPS) == decoding the original x265 stream."""
    import av

    img = _test_image(72, 104)
    raw = codec.x265_annexb(img, 27)
    ctx = av.CodecContext.create("hevc", "r")
    frames = list(ctx.decode(av.Packet(raw))) + list(ctx.decode(None))
    ref = bpg.ycbcr_to_rgb(frames[0].to_ndarray()[:, :72, :104])
    assert np.array_equal(codec.decode(codec.encode(img, 27), (72, 104)), ref)


def test_ue7_roundtrip():
    for v in (0, 1, 127, 128, 768, 16383, 16384, 2**28 - 1):
        enc = bpg._put_ue7(v)
        assert bpg._get_ue7(enc, 0) == (v, len(enc))
    assert bpg._put_ue7(768) == b"\x86\x00"


# ------------------------------------------------------------------------------ cache
def test_cache_hit_avoids_reencoding(tmp_path):
    img = _test_image(48, 64)
    c1 = BPGCodec(backend="x265", cache_dir=tmp_path)
    d1 = c1.encode(img, 33)
    assert c1.stats == {"encodes": 1, "mem_hits": 0, "disk_hits": 0}
    assert c1.encode(img, 33) == d1 and c1.stats["mem_hits"] == 1 and c1.stats["encodes"] == 1
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert len(files) == 2 and not any(n.startswith(".tmp") for n in files)  # data + meta
    c2 = BPGCodec(backend="x265", cache_dir=tmp_path)  # fresh process-like instance
    d2, info = c2.encode_with_info(img, 33)
    assert d2 == d1 and info["cached"] and info["encode_time"] > 0
    assert c2.stats == {"encodes": 0, "mem_hits": 0, "disk_hits": 1}
    # a different QP, image or setting is a different entry
    c2.encode(img, 34)
    c2.encode(img[:, ::-1].copy(), 33)
    BPGCodec(backend="x265", cache_dir=tmp_path, compress_level=5).encode(img, 33)
    assert c2.stats["encodes"] == 2 and len(list(tmp_path.rglob("*.bpg"))) == 4
    assert c1.cache_key(img, 33) != BPGCodec(backend="x265", compress_level=5,
                                             cache_dir=tmp_path).cache_key(img, 33)


def test_default_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("NTSCC_SIM_CACHE", str(tmp_path))
    assert bpg.default_cache_dir() == tmp_path / "bpg"
    assert BPGCodec(backend="x265").cache_dir == tmp_path / "bpg"


# ------------------------------------------------------------------------------ corruption
def test_corrupted_streams_raise_value_error(codec):
    img = _test_image(64, 96)
    data = codec.encode(img, 30)
    rng = np.random.default_rng(0)
    bad = [
        b"",
        b"BPG\xfb",
        data[:12],
        rng.bytes(len(data)),
        data[:6] + rng.bytes(len(data) - 6),  # garbage after the flags
        data[:4] + b"\x20" + data[5:],  # 4:2:0 flag: unsupported variant
    ]
    for b in bad:
        with pytest.raises(ValueError):
            codec.decode(b, (64, 96))
    # without a picture hash, payload corruption is not always detectable: it must then still
    # return an image of the right shape (never crash)
    for _ in range(5):
        b = bytearray(data)
        b[int(rng.integers(20, len(b)))] ^= 0x10
        try:
            rec = codec.decode(bytes(b), (64, 96))
        except ValueError:
            continue
        assert rec.shape == (64, 96, 3) and rec.dtype == np.uint8


def test_picture_hash_detects_corruption(tmp_path):
    c = BPGCodec(backend="x265", disk_cache=False, picture_hash=True)
    img = _test_image(64, 96)
    data = c.encode(img, 30)
    assert c.decode(data, (64, 96)).shape == (64, 96, 3)
    assert len(data) > len(BPGCodec(backend="x265", disk_cache=False).encode(img, 30))
    rng = np.random.default_rng(3)
    for _ in range(5):
        b = bytearray(data)
        b[int(rng.integers(20, len(b)))] ^= 1 << int(rng.integers(8))
        with pytest.raises(ValueError):
            c.decode(bytes(b), (64, 96))
    with pytest.raises(ValueError):
        c.decode(data[: len(data) // 2], (64, 96))


# ------------------------------------------------------------------------------ external bpgenc
@pytest.mark.skipif(not (shutil.which("bpgenc") and shutil.which("bpgdec")), reason="no bpgenc")
def test_bpgenc_backend_matches_x265_backend_roughly(tmp_path):
    img = _test_image(128, 160)
    real = BPGCodec(backend="bpgenc", cache_dir=tmp_path)
    ours = BPGCodec(backend="x265", cache_dir=tmp_path)
    d_real, d_ours = real.encode(img, 30), ours.encode(img, 30)
    assert d_real[:4] == b"BPG\xfb"
    p_real, p_ours = _psnr(img, real.decode(d_real)), _psnr(img, ours.decode(d_ours))
    assert abs(p_real - p_ours) < 1.0 and 0.7 < len(d_ours) / len(d_real) < 1.3
    # real bpgdec reads our files
    assert np.array_equal(real.decode(d_ours), ours.decode(d_ours))


# ------------------------------------------------------------------------------ Kodak validation
def _published_psnr_at(bpp):
    from scipy.interpolate import PchipInterpolator

    ref = PUBLISHED_KODAK_BPG444
    f = PchipInterpolator(np.log(ref["bpp"]), ref["psnr-rgb"], extrapolate=False)
    return float(f(np.log(bpp)))


def _kodak_images():
    from PIL import Image

    files = sorted(KODAK.glob("kodim*.png"))
    if len(files) != 24:
        pytest.skip("Kodak dataset not available")
    out = []
    for f in files:
        with Image.open(f) as im:
            out.append(np.asarray(im.convert("RGB")).copy())
    return out


def test_kodak_one_qp_on_published_curve(tmp_path):
    """All 24 Kodak images at QP 37: mean (bpp, PSNR) lies within 0.3 dB of bpgenc's curve."""
    images = _kodak_images()
    codec = BPGCodec(backend="x265", cache_dir=tmp_path)
    bpps, psnrs = [], []
    for img in images:
        data = codec.encode(img, 37)
        bpps.append(8 * len(data) / img.shape[0] / img.shape[1])
        psnrs.append(_psnr(img, codec.decode(data, img.shape[:2])))
    bpp, psnr = float(np.mean(bpps)), float(np.mean(psnrs))
    gap = psnr - _published_psnr_at(bpp)
    assert abs(gap) < 0.3, (bpp, psnr, gap)


@pytest.mark.slow
def test_kodak_full_curve_bd_vs_published(tmp_path):
    """24 images x 8 QPs (~4 min): BD-PSNR within +-0.3 dB, BD-rate within +-5 % of bpgenc 0.9.8.

    Run with ``pytest -m slow``; ``NTSCC_SIM_CACHE_TEST=DIR`` reuses encodings between runs.
    """
    import bjontegaard as bd

    from baselines.codec_rd import evaluate_codec

    images = _kodak_images()
    codec = BPGCodec(backend="x265", cache_dir=os.environ.get("NTSCC_SIM_CACHE_TEST", tmp_path))
    res = evaluate_codec(codec, images, [12, 17, 22, 27, 32, 37, 42, 47], progress=False)
    ref = PUBLISHED_KODAK_BPG444
    kw = {"method": "pchip", "require_matching_points": False, "min_overlap": 0.5}
    bd_psnr = bd.bd_psnr(ref["bpp"], ref["psnr-rgb"], res["bpp"], res["psnr-rgb"], **kw)
    bd_rate = bd.bd_rate(ref["bpp"], ref["psnr-rgb"], res["bpp"], res["psnr-rgb"], **kw)
    assert abs(bd_psnr) < 0.3 and abs(bd_rate) < 5.0, (bd_psnr, bd_rate)
