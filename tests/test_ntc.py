"""NTC: transforms, hyperprior entropy models, real bitstreams, training task, source codec, NTC + capacity."""

import math

import numpy as np
import pytest
import torch

from ntscc_sim.models.ntc import build_ntc, pad_to
from ntscc_sim.models.swin import SwinAnalysis, SwinBlock, SwinSynthesis



TINY_NTC = {"kind": "ntc", "transform": "conv", "N": 16, "M": 24, "conv_channels": 16, "stages": 2, "lambda": 0.01}


def make_image_folder(path, n=6, size=48):
    """A few natural-image crops (scikit-image builtin photos) as PNG files."""
    import skimage.data
    from PIL import Image

    path.mkdir(parents=True, exist_ok=True)
    srcs = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()]
    for i in range(n):
        img = srcs[i % 3]
        top, left = 40 * (i + 1), 30 * (i + 2)
        Image.fromarray(img[top : top + size, left : left + size]).save(path / f"img{i}.png")
    return path


def tiny_train_config(tmp_path, model, name="tiny", steps=20, init=None, lr=1e-3):
    folder = make_image_folder(tmp_path / "imgs")
    return {
        "name": name, "seed": 0, "threads": 1,
        "data": {"kind": "folder", "path": str(folder), "val_path": str(folder), "crop": 32, "batch_size": 4, "val_limit": 4},
        "channel": {"kind": "awgn", "snr_db": 10},
        "model": model,
        "optim": {"lr": lr, "steps": steps},
        "log": {"every": 5, "val_every": 1000, "ckpt_every": 1000, "tensorboard": False},
        "init": init,
    }


@pytest.fixture(scope="module")
def trained_ntc(tmp_path_factory):
    """An NTC trained 20 steps by the real loop; returns (run folder, train_log rows)."""
    import csv

    from ntscc_sim.train import train

    tmp = tmp_path_factory.mktemp("ntc")
    torch.manual_seed(0)
    train(tiny_train_config(tmp, dict(TINY_NTC)), out_dir=tmp / "run", progress=False)
    with open(tmp / "run" / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    return tmp / "run", rows


def test_conv_ntc_shapes_and_likelihoods():
    model = build_ntc(TINY_NTC)
    out = model(torch.rand(2, 3, 32, 48))
    assert out["x_hat"].shape == (2, 3, 32, 48)
    assert out["likelihoods"]["y"].shape == (2, 24, 8, 12)
    assert out["likelihoods"]["z"].shape == (2, 16, 2, 3)
    assert ((out["likelihoods"]["y"] > 0) & (out["likelihoods"]["y"] <= 1)).all()
    assert model.pad_multiple == 16


def test_swin_transforms_any_size_and_window():
    g_a = SwinAnalysis(out_dim=20, dims=[16, 24], depths=[2, 2], heads=[2, 4], window=4)
    g_s = SwinSynthesis(in_dim=20, dims=[16, 24], depths=[2, 2], heads=[2, 4], window=4)
    x = torch.rand(1, 3, 24, 40)  # token grids 12x20 and 6x10: not multiples of the window
    y = g_a(x)
    assert y.shape == (1, 20, 6, 10)
    assert g_s(y).shape == (1, 3, 24, 40)
    blk = SwinBlock(8, 2, window=4, shift=True)
    t = torch.rand(2, 5, 7, 8, requires_grad=True)
    blk(t).sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()


def test_swin_block_is_per_image():
    """Attention never mixes images of a batch (results independent of batching)."""
    torch.manual_seed(0)
    blk = SwinBlock(8, 2, window=4, shift=True).eval()
    t = torch.rand(3, 8, 8, 8)
    with torch.no_grad():
        full = blk(t)
        single = torch.cat([blk(t[i : i + 1]) for i in range(3)])
    assert torch.allclose(full, single, atol=1e-6)


def test_swin_ntc_builds_from_config():
    model = build_ntc({"transform": "swin", "N": 16, "M": 24, "dims": [16, 16], "depths": [1, 2], "heads": [2], "window": 4})
    assert model.stages == 2 and model.pad_multiple == 16
    out = model(torch.rand(1, 3, 32, 32))
    assert out["x_hat"].shape == (1, 3, 32, 32)


def test_compress_decompress_real_bitstreams():
    torch.manual_seed(1)
    model = build_ntc(TINY_NTC).eval()
    model.update(force=True, update_quantiles=True)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        enc = model.compress(x)
        dec = model.decompress(enc["strings"], enc["shape"])["x_hat"]
        ref = model(x)
    y_strings, z_strings = enc["strings"]
    assert len(y_strings) == 2 and all(isinstance(s, bytes) and len(s) > 0 for s in y_strings + z_strings)
    # decoding the rANS strings gives exactly the eval-mode (rounded) reconstruction
    assert torch.allclose(dec, ref["x_hat"].clamp(0, 1), atol=1e-5)
    # the stream length is close to the model's information content
    est = sum(-torch.log2(l[0]).sum().item() for l in ref["likelihoods"].values())
    real = 8 * (len(y_strings[0]) + len(z_strings[0]))
    assert real >= 0.9 * est - 64 and real <= 1.2 * est + 256


def test_pad_to_multiple():
    x = torch.rand(1, 3, 30, 33)
    p = pad_to(x, 16)
    assert p.shape == (1, 3, 32, 48)
    assert torch.equal(p[..., :30, :33], x)


def test_ntc_training_lowers_loss_and_checkpoint_round_trip(trained_ntc):
    from ntscc_sim.train import load_checkpoint

    run, rows = trained_ntc
    losses = [float(r["loss"]) for r in rows if r.get("loss")]
    assert len(losses) >= 4 and losses[-1] < losses[0]
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["task"] == "ntc" and ckpt["config"]["model"]["lambda"] == 0.01
    _, model, config, meta = load_checkpoint(run / "model.pt")
    assert meta["step"] == 20
    # finalize() ran update(): the loaded model writes and reads real bitstreams
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        enc = model.compress(x)
        dec = model.decompress(enc["strings"], enc["shape"])["x_hat"]
    assert dec.shape == x.shape


def test_ntc_config_validation_names_the_key():
    from ntscc_sim.scenario import ScenarioError
    from ntscc_sim.train.config import validate_config

    base = {"name": "t", "data": {"kind": "cifar10", "path": "x"}, "channel": {"snr_db": 10}}
    with pytest.raises(ScenarioError) as exc:
        validate_config({**base, "model": {**TINY_NTC, "distorsion": "mse"}})
    assert "model.distorsion" in str(exc.value) and "distortion" in str(exc.value)
    with pytest.raises(ScenarioError) as exc:
        validate_config({**base, "model": {**TINY_NTC, "transform": "swin", "dims": [10, 16], "depths": [1, 1], "heads": [4]}})
    assert "model.dims[0]" in str(exc.value)


def test_ntc_codec_round_trip_and_header(trained_ntc):
    from baselines.separation.ntc_codec import NTCCodec, read_varint, write_varint

    run, _ = trained_ntc
    for n in (0, 1, 127, 128, 300, 70000):
        assert read_varint(write_varint(n), 0) == (n, len(write_varint(n)))
    codec = NTCCodec([str(run / "model.pt")])
    assert codec.qualities == [0] and codec.lambdas == [0.01]
    rng = np.random.default_rng(0)
    img = (rng.random((37, 45, 3)) * 255).astype(np.uint8)  # odd size: padded inside, cropped back
    data = codec.encode(img, 0)
    out = codec.decode(data, img.shape[:2])
    assert out.shape == img.shape and out.dtype == np.uint8
    # the whole stream (header + z + y) is what is counted; decoding is deterministic
    assert data[0] == 0 and np.array_equal(out, codec.decode(data, img.shape[:2]))
    with pytest.raises(ValueError):
        codec.decode(data, (38, 45))
    # the second decode of a stream (encoder's choice, then the receiver) is a cache lookup
    calls = []
    real = codec._models[0].decompress
    codec._models[0].decompress = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        out[0, 0] ^= 1  # callers may modify what they get
        again = codec.decode(data, img.shape[:2])
        assert calls == [] and not np.array_equal(again, out)
        flipped = bytes([data[0]]) + data[1:-1] + bytes([data[-1] ^ 0x55])  # another stream: decoded
        codec.decode(flipped, img.shape[:2])
        assert calls == [1]
    finally:
        codec._models[0].decompress = real


def test_ntc_capacity_scheme_never_overspends(trained_ntc, tmp_path):
    from baselines.separation.ntc import NTCCapacityScheme
    from ntscc_sim.schemes.base import SchemeContext

    run, _ = trained_ntc
    ctx = SchemeContext(channel={"kind": "awgn", "csi": "perfect", "coherence": None}, metrics=("psnr",))
    scheme = NTCCapacityScheme("ntc-cap", {"cbr": [0.5, 3.0], "fallback": "grey", "checkpoint": [str(run / "model.pt")]}, ctx)
    scheme.setup()
    rng = np.random.default_rng(1)
    img = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    cap = math.log2(1 + 10.0)
    for cfg in scheme.configurations():
        (row,) = scheme.run(cfg, 10.0, [("a", img)], [1])
        assert row["cbr"] <= cfg["target_cbr"] + 1e-12
        if row["outage"] == 0:
            assert row["payload_bits"] == 8 * len(scheme.codec.encode(img, row["qp"]))
            assert row["cbr"] == pytest.approx(row["payload_bits"] / cap / (3 * 32 * 32))
            assert row["ntc_lambda"] == 0.01


def test_ntc_ldpc_scheme_end_to_end(trained_ntc):
    from baselines.separation.ntc import NTCLDPCScheme
    from ntscc_sim.schemes.base import SchemeContext

    run, _ = trained_ntc
    ctx = SchemeContext(channel={"kind": "awgn", "csi": "perfect", "coherence": None}, metrics=("psnr",))
    params = {"cbr": [2.0], "mcs": "4qam-1/2", "code": {"k": 1024, "n": None}, "fallback": "grey", "decoder": "minsum",
              "num_iter": 20, "residual_errors": False, "checkpoint": str(run / "model.pt")}
    params = NTCLDPCScheme.check_params(params, "schemes[0]", {})
    scheme = NTCLDPCScheme("ntc-ldpc", params, ctx)
    scheme.setup()
    img = (np.random.default_rng(2).random((32, 32, 3)) * 255).astype(np.uint8)
    (cfg,) = scheme.configurations()
    (row,) = scheme.run(cfg, 12.0, [("a", img)], [3])
    assert row["outage"] == 0 and row["qp"] == 0 and 0 < row["cbr"] <= 2.0
    ref = scheme.codec.decode(scheme.codec.encode(img, 0), img.shape[:2])
    from ntscc_sim.metrics import psnr

    assert row["psnr"] == pytest.approx(psnr(img, ref))


def test_ste_quantization_feeds_rounded_latents_to_g_s():
    model = build_ntc({**TINY_NTC, "quantization": "ste"}).train()
    y = torch.randn(1, 24, 4, 4, requires_grad=True)
    means = torch.randn(1, 24, 4, 4)
    d = model.decoder_input(y, y + 0.3, means)
    assert torch.allclose(d, torch.round(y - means) + means)
    d.sum().backward()
    assert torch.equal(y.grad, torch.ones_like(y))  # straight-through
    model.eval()
    assert torch.equal(model.decoder_input(y, y + 0.3, means), y + 0.3)  # eval: the rounded y_hat as given
    with pytest.raises(ValueError):
        build_ntc({**TINY_NTC, "quantization": "round"})


def test_ntc_entries_of_one_run_share_codec_and_scores(trained_ntc):
    """ntc-capacity and ntc-ldpc over the same checkpoint encode and score an image once per run."""
    from baselines.separation.ntc import NTCCapacityScheme, NTCLDPCScheme
    from ntscc_sim.schemes.base import SchemeContext

    run, _ = trained_ntc
    ck = str(run / "model.pt")
    ctx = SchemeContext(channel={"kind": "awgn", "csi": "perfect", "coherence": None}, metrics=("psnr",))
    cap = NTCCapacityScheme("cap", {"cbr": [3.0], "fallback": "grey", "checkpoint": [ck]}, ctx)
    params = NTCLDPCScheme.check_params({"cbr": [3.0], "mcs": "4qam-1/2", "code": {"k": 1024, "n": None}, "fallback": "grey",
                                         "decoder": "minsum", "num_iter": 20, "residual_errors": False, "checkpoint": ck},
                                        "schemes[1]", {})
    ldpc = NTCLDPCScheme("ldpc", params, ctx)
    other = NTCCapacityScheme("other", {"cbr": [3.0], "fallback": "grey", "checkpoint": [ck]},
                              SchemeContext(channel=ctx.channel, metrics=("psnr",)))
    for s in (cap, ldpc, other):
        s.setup()
    assert cap.codec is ldpc.codec and cap.scorer is ldpc.scorer and other.codec is not cap.codec
    img = (np.random.default_rng(4).random((32, 32, 3)) * 255).astype(np.uint8)
    (row_cap,) = cap.run(cap.configurations()[0], 12.0, [("a", img)], [1])
    encodes = []
    original = ldpc.codec.encode
    ldpc.codec.encode = lambda image, q: encodes.append(q) or original(image, q)
    (row_ldpc,) = ldpc.run(ldpc.configurations()[0], 12.0, [("a", img)], [1])
    assert row_ldpc["outage"] == 0 and row_ldpc["psnr"] == row_cap["psnr"]
    assert encodes and len(ldpc.codec._cache) == 1  # served from the encoding cap made


def test_ntc_rate_matching_sends_the_best_fitting_reconstruction(trained_ntc, tmp_path):
    """A larger lambda is not a better model across checkpoint families: the encoder decodes
    every fitting stream and sends the best one (the former choice, the largest fitting lambda,
    sent a broken decoder's stream here)."""
    from baselines.separation.ntc import NTCCapacityScheme
    from baselines.separation.ntc_codec import NTCCodec
    from ntscc_sim.metrics import psnr
    from ntscc_sim.schemes.base import SchemeContext

    run, _ = trained_ntc
    ck = torch.load(run / "model.pt", weights_only=True)
    ck["config"]["model"]["lambda"] = 0.1  # claims a higher quality ...
    ck["state_dict"]["g_s.2.bias"] = ck["state_dict"]["g_s.2.bias"] + 0.7  # ... with a washed-out decoder
    bad = tmp_path / "bad.pt"
    torch.save(ck, bad)
    good = str(run / "model.pt")
    codec = NTCCodec([good, str(bad)])
    assert codec.lambdas == [0.1, 0.01]  # numbered by lambda: the broken model is quality 0
    img = (np.random.default_rng(5).random((32, 32, 3)) * 255).astype(np.uint8)
    sizes = [8 * len(codec.encode(img, q)) for q in codec.qualities]
    scores = [psnr(img, codec.decode(codec.encode(img, q), img.shape[:2])) for q in codec.qualities]
    assert sizes[0] == sizes[1] and scores[1] > scores[0] + 3
    q, data = codec.choose(img, sizes[1])
    assert q == 1 and data == codec.encode(img, 1)
    assert codec.choose(img, sizes[1] - 1) == (None, None)  # never overspends

    ctx = SchemeContext(channel={"kind": "awgn", "csi": "perfect", "coherence": None}, metrics=("psnr",))
    scheme = NTCCapacityScheme("ntc-cap", {"cbr": [3.0], "fallback": "grey", "checkpoint": [str(bad), good]}, ctx)
    scheme.setup()
    (row,) = scheme.run(scheme.configurations()[0], 10.0, [("a", img)], [1])
    assert row["outage"] == 0 and row["qp"] == 1 and row["ntc_lambda"] == 0.01
    assert row["psnr"] == pytest.approx(scores[1])
    assert scheme.fingerprint()["ntc_choice"] == "best-fitting-reconstruction"
