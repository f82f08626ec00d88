"""NTSCC: rate allocation, f_e / f_d, power normalisation, CBR accounting, Algorithm 1 training,
checkpoints, the ``ntscc`` scheme (batching independence, side info, rate maps), paper configs."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ntscc_sim.channels import Channel
from ntscc_sim.models.ntscc import build_ntscc, transmit
from ntscc_sim.models.rate_allocation import RateAllocator, default_rate_values, patch_information
from ntscc_sim.schemes.base import SchemeContext

from test_ntc import TINY_NTC, tiny_train_config



REPO = Path(__file__).resolve().parents[1]
VALUES = [4, 8, 12, 16]
TINY_NTSCC = {
    "kind": "ntscc", "transform": "conv", "N": 16, "M": 24, "conv_channels": 16, "stages": 2,
    "jscc_dim": 24, "jscc_depth_enc": 1, "jscc_depth_dec": 1, "jscc_heads": 2, "jscc_window": 4,
    "rate_values": VALUES, "eta": 0.2, "eta_range": [0.1, 0.4], "lambda": 200,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Algorithm 1 at tiny size with the real loop: NTC 20 steps, then NTSCC 20 steps from it."""
    from ntscc_sim.train import train

    tmp = tmp_path_factory.mktemp("ntscc")
    torch.manual_seed(0)
    train(tiny_train_config(tmp, dict(TINY_NTC), name="ntc"), out_dir=tmp / "ntc", progress=False)
    train(tiny_train_config(tmp, dict(TINY_NTSCC), name="ntscc", init=str(tmp / "ntc" / "model.pt")), out_dir=tmp / "ntscc", progress=False)
    with open(tmp / "ntscc" / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    return tmp, rows


def tiny_model(**over):
    cfg = {k: v for k, v in TINY_NTSCC.items() if k != "kind"}
    cfg.update(over)
    torch.manual_seed(0)
    return build_ntscc(cfg)


# --- rate allocation ---------------------------------------------------------------------
def test_default_values_match_paper():
    v = default_rate_values()
    assert v == list(range(16, 257, 16)) and RateAllocator(v).bits_per_patch == 4


def test_rate_indices_within_v_and_nearest():
    alloc = RateAllocator(VALUES)
    k = torch.tensor([-5.0, 0.0, 5.9, 6.1, 9.9, 13.0, 14.1, 1e6])
    idx, kbar = alloc(k)
    assert idx.min() >= 0 and idx.max() < len(VALUES)
    assert kbar.tolist() == [4, 4, 4, 8, 8, 12, 16, 16]
    assert alloc.bits_per_patch == 2 and RateAllocator([6]).bits_per_patch == 0
    with pytest.raises(ValueError):
        RateAllocator([4, 7])  # odd: not complex pairs


def test_straight_through_gradient():
    alloc = RateAllocator(VALUES)
    k = torch.tensor([5.0, 11.0], requires_grad=True)
    _, kbar = alloc.straight_through(k)
    assert kbar.tolist() == [4.0, 12.0]
    kbar.sum().backward()
    assert k.grad.tolist() == [1.0, 1.0]


def test_patch_information_sums_channels():
    lik = torch.full((1, 3, 2, 2), 0.5)
    assert torch.equal(patch_information(lik), torch.full((1, 2, 2), 3.0))


# --- channel path ------------------------------------------------------------------------
def test_power_normalisation_exact_over_sent_symbols():
    torch.manual_seed(0)
    s = torch.randn(2, 5, 8) * 3
    lengths = torch.tensor([[2, 4, 8, 2, 6], [8, 8, 2, 2, 4]])
    mask = torch.arange(8)[None, None] < lengths[..., None]
    out = transmit(s * mask, mask, Channel("awgn"), 100.0, seeds=[1, 2])  # ~noiseless
    energy = (out**2).sum(dim=(1, 2)) / (mask.sum(dim=(1, 2)) / 2)  # per complex symbol sent
    assert torch.allclose(energy, torch.ones(2), atol=1e-6)
    assert (out[~mask] == 0).all()
    # noise level matches the SNR over the sent symbols only
    noisy = transmit(s * mask, mask, Channel("awgn"), 0.0, seeds=[1, 2])
    err = ((noisy - out) ** 2).sum(dim=(1, 2)) / (mask.sum(dim=(1, 2)) / 2)
    assert (err > 0.4).all() and (err < 2.5).all()


def test_transmit_noise_depends_only_on_own_seed():
    s = torch.randn(2, 4, 8)
    mask = torch.ones_like(s, dtype=torch.bool)
    a = transmit(s, mask, Channel("awgn"), 5.0, seeds=[11, 12])
    b = transmit(s[1:], mask[1:], Channel("awgn"), 5.0, seeds=[12])
    assert torch.equal(a[1:], b)


# --- model -------------------------------------------------------------------------------
def test_forward_shapes_and_cbr_accounting():
    model = tiny_model().eval()
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        out = model(x, Channel("awgn"), 10.0, eta=0.2, seeds=[1, 2], pixels=[30 * 45, 32 * 48])
    assert out["x_hat"].shape == x.shape and out["index"].shape == (2, 8, 12)
    assert set(out["k"].unique().tolist()) <= set(VALUES)
    assert int(out["mask"][0].sum()) == int(out["k"][0].sum())
    cap = math.log2(11.0)
    for b, pixels in enumerate((30 * 45, 32 * 48)):
        side_bits = float(out["z_bits"][b]) + 8 * 12 * 2  # z + kq = 2 bits per patch
        assert float(out["side_bits"][b]) == pytest.approx(side_bits)
        expect = (float(out["k"][b].sum()) / 2 + side_bits / cap) / (3 * pixels)
        assert float(out["cbr"][b]) == pytest.approx(expect, rel=1e-6)


def test_eta_scales_bandwidth():
    model = tiny_model().eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        lo = model(x, Channel("awgn"), 10.0, eta=0.05, seeds=[0])
        hi = model(x, Channel("awgn"), 10.0, eta=5.0, seeds=[0])
    assert float(hi["cbr"]) > float(lo["cbr"])
    assert torch.equal(hi["k_raw"], 100 * lo["k_raw"]) or torch.allclose(hi["k_raw"], 100 * lo["k_raw"], rtol=1e-5)


def test_variants():
    x = torch.rand(1, 3, 32, 32)
    ch = Channel("awgn")
    c1 = tiny_model(variant="comparison-1").eval()
    with torch.no_grad():
        o1 = c1(x, ch, 10.0, seeds=[0])
    assert float(o1["z_bits"]) == 0 and float(o1["side_bits"]) == 8 * 8 * 2  # indices only
    c2 = tiny_model(variant="comparison-2", fixed_k=6).eval()
    with torch.no_grad():
        o2 = c2(x, ch, 10.0, seeds=[0])
    assert float(o2["side_bits"]) == 0 and (o2["k"] == 6).all()
    assert float(o2["cbr"]) == pytest.approx(64 * 3 / 3072)
    full = tiny_model().eval()
    with torch.no_grad():
        a = full(x, ch, 10.0, seeds=[0], variant="no-z")
    assert float(a["z_bits"]) == 0
    with pytest.raises(ValueError):
        full(x, ch, 10.0, seeds=[0], variant="comparison-2")


def test_only_selected_rate_heads_get_gradients():
    model = tiny_model().train()
    x = torch.rand(2, 3, 32, 32)
    out = model(x, Channel("awgn"), 10.0, eta=0.01)  # everything at the smallest rate
    assert (out["index"] == 0).all()
    (out["x_hat"].square().mean() + out["cbr"].mean()).backward()
    assert model.f_e.heads[0].weight.grad is not None
    assert all(h.weight.grad is None for h in model.f_e.heads[1:])
    # the rate term reaches the entropy model through the straight-through estimator
    assert model.ntc.h_s[0].weight.grad is not None


def test_nested_rate_heads_send_prefixes_and_train_only_sent_symbols():
    model = tiny_model(jscc_rate_heads="nested").train()
    assert not hasattr(model.f_e, "heads") and model.f_e.head.out_features == max(VALUES)
    y = torch.randn(1, 24, 2, 2)
    lo, hi = torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), 3)
    s_lo, m_lo = model.f_e(y, lo)
    s_hi, m_hi = model.f_e(y, hi)
    assert m_lo.sum(-1).eq(VALUES[0]).all() and m_hi.sum(-1).eq(VALUES[3]).all()
    assert s_lo[~m_lo].abs().max() == 0  # nothing outside the sent prefix
    # same rate token -> the low rate's symbols are exactly a prefix of one shared layer's output
    model.f_e.rate_tokens.data.zero_()
    s_lo, _ = model.f_e(y, lo)
    s_hi, _ = model.f_e(y, hi)
    torch.testing.assert_close(s_lo[..., : VALUES[0]], s_hi[..., : VALUES[0]])
    out = model(torch.rand(2, 3, 32, 32), Channel("awgn"), 10.0, eta=0.01)  # smallest rate only
    assert (out["index"] == 0).all()
    out["x_hat"].square().mean().backward()
    g_e, g_d = model.f_e.head.weight.grad, model.f_d.head.weight.grad
    assert g_e[: VALUES[0]].abs().sum() > 0 and g_e[VALUES[0]:].abs().sum() == 0
    assert g_d[:, : VALUES[0]].abs().sum() > 0 and g_d[:, VALUES[0]:].abs().sum() == 0


def test_per_rate_model_converts_to_nested():
    from ntscc_sim.models.ntscc import nest_rate_heads

    per_rate = tiny_model().eval()
    nested = tiny_model(jscc_rate_heads="nested").eval()
    nested.load_state_dict(nest_rate_heads(per_rate.state_dict(), VALUES))
    y = torch.randn(1, 24, 2, 2)
    index = torch.zeros(1, 2, 2, dtype=torch.long)  # smallest rate: its head owns every sent row
    s_pr, mask = per_rate.f_e(y, index)
    s_ne, _ = nested.f_e(y, index)
    torch.testing.assert_close(s_pr, s_ne)
    w = per_rate.f_e.heads[1].weight  # rows VALUES[0]..VALUES[1]-1 come from the second head
    torch.testing.assert_close(nested.f_e.head.weight[VALUES[0]:VALUES[1]], w[VALUES[0]:])
    with pytest.raises(ValueError, match="rate_heads"):
        tiny_model(jscc_rate_heads="shared")


# --- Algorithm 1 training and checkpoints ------------------------------------------------------
def test_training_lowers_loss_and_round_trips(trained):
    from ntscc_sim.train import load_checkpoint

    tmp, rows = trained
    losses = [float(r["loss"]) for r in rows if r.get("loss")]
    assert len(losses) >= 4 and losses[-1] < losses[0]
    ckpt = torch.load(tmp / "ntscc" / "model.pt", weights_only=True)
    assert ckpt["task"] == "ntscc" and ckpt["config"]["model"]["rate_values"] == VALUES
    _, model, _, meta = load_checkpoint(tmp / "ntscc" / "model.pt")
    own = model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in ckpt["state_dict"].items())
    assert meta["step"] == 20


def test_init_from_ntc_copies_transforms(trained):
    from ntscc_sim.train.tasks.ntscc import NTSCCTask
    from ntscc_sim.train.tasks import get_task

    tmp, _ = trained
    ntc = torch.load(tmp / "ntc" / "model.pt", weights_only=True)
    task = get_task("ntscc")
    assert isinstance(task, NTSCCTask)
    from ntscc_sim.train.config import load_config

    cfg = load_config(tmp / "ntscc" / "config.yaml")
    model = task.build(cfg)
    info = task.init_from(model, ntc, cfg)
    assert "ntc.g_a.0.weight" in info["loaded"] and any(k.startswith("f_e.") for k in info["skipped"])
    assert torch.equal(model.ntc.g_a[0].weight, ntc["state_dict"]["g_a.0.weight"])
    bad = build_ntscc({**{k: v for k, v in TINY_NTSCC.items() if k != "kind"}, "M": 32, "jscc_dim": 32})
    with pytest.raises(ValueError):
        task.init_from(bad, ntc, cfg)


@pytest.mark.parametrize("name", ["ntscc-cifar10-paper", "ntscc-kodak-paper"])
def test_paper_configs_at_tiny_size(name):
    """The paper-scale recipes validate; their architecture (Swin g_a/g_s, N_e/N_d blocks,
    V = 16..256) builds and trains one step at a tiny width."""
    import yaml

    from ntscc_sim.train.config import validate_config
    from ntscc_sim.train.tasks import get_task

    raw = yaml.safe_load((REPO / "ntscc_sim" / "zoo" / "configs" / f"{name}.yaml").read_text())
    full = validate_config(raw)
    assert full["model"]["rate_values"] == list(range(16, 257, 16)) and full["model"]["jscc_depth_enc"] == 4
    stages = full["model"]["stages"]
    raw["model"].update(N=8, M=16, dims=[8] * stages, heads=2, jscc_dim=16, jscc_heads=2, window=4)
    cfg = validate_config(raw)
    task = get_task("ntscc")
    model = task.build(cfg)
    side = model.pad_multiple
    x = torch.rand(1, 3, side, side)
    loss, values = task.loss(model, x, cfg, 0)
    loss.backward()
    assert math.isfinite(float(loss.detach())) and values["cbr"] > 0


# --- the scheme ------------------------------------------------------------------------------
def _scheme(ckpt, tmp_path, **params):
    from ntscc_sim.schemes.ntscc import NTSCCScheme

    ctx = SchemeContext(channel={"kind": "awgn", "csi": "perfect", "coherence": None}, metrics=("psnr",),
                        out_dir=str(tmp_path), options={"rate_maps": params.pop("rate_maps", False)})
    p = {"checkpoint": [str(ckpt)], "eta": [0.2], "side_info": "capacity", "variant": None}
    p.update(params)
    s = NTSCCScheme("NTSCC tiny", p, ctx)
    s.setup()
    return s


def _same(a, b):
    """Row lists equal (NaN == NaN)."""
    def norm(rows):
        return [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    return norm(a) == norm(b)


def _images():
    rng = np.random.default_rng(3)
    return [(f"im{i}", (rng.random(shape) * 255).astype(np.uint8)) for i, shape in enumerate([(32, 32, 3), (37, 45, 3), (32, 32, 3)])]


def test_ntscc_entries_of_one_run_share_transmitter_memos(trained, tmp_path, monkeypatch):
    """Two ntscc entries (fixed / context index code) on one run context: the second reuses the
    first's analysis, and its rows equal those of an entry run on its own."""
    from ntscc_sim.schemes.ntscc import NTSCCScheme

    tmp, _ = trained
    ck = tmp / "ntscc" / "model.pt"
    alone = _scheme(ck, tmp_path, index_code="context")
    cfg = alone.configurations()[0]
    imgs, seeds = _images(), [5, 6, 7]
    expected = alone.run(cfg, 10.0, imgs, seeds)
    first = _scheme(ck, tmp_path, index_code="fixed")
    second = NTSCCScheme("NTSCC context", {**first.params, "index_code": "context"}, first.context)
    second.setup()
    first.run(cfg, 10.0, imgs, seeds)
    model = second._model(cfg["checkpoint"])
    calls = []
    monkeypatch.setattr(model, "analyse", lambda x: calls.append(x) or pytest.fail("analysis recomputed"))
    assert _same(second.run(cfg, 10.0, imgs, seeds), expected) and not calls
    assert second._memos is first._memos and len(first._memos) == len(imgs)


def test_scheme_rows_batching_and_cbr(trained, tmp_path):
    tmp, _ = trained
    s = _scheme(tmp / "ntscc" / "model.pt", tmp_path, eta=[0.1, 0.4])
    cfgs = s.configurations()
    assert [c["eta"] for c in cfgs] == [0.1, 0.4] and cfgs[0]["lambda"] == 200 and cfgs[0]["train_snr_db"] == 10
    imgs = _images()
    seeds = [5, 6, 7]
    together = s.run(cfgs[0], 10.0, imgs, seeds)
    alone = [s.run(cfgs[0], 10.0, [im], [sd])[0] for im, sd in zip(imgs, seeds)]
    assert _same(together, alone)
    # same seed -> same numbers; another seed -> other noise
    assert _same(s.run(cfgs[0], 10.0, imgs[:1], [5]), together[:1])
    assert s.run(cfgs[0], 10.0, imgs[:1], [9])[0]["psnr"] != together[0]["psnr"]
    hi = s.run(cfgs[1], 10.0, imgs, seeds)
    for lo_row, hi_row, (_, img) in zip(together, hi, imgs):
        assert hi_row["cbr"] >= lo_row["cbr"]
        assert lo_row["outage"] == 0 and lo_row["side_bits"] > 0
        # CBR on the unpadded pixels, side information included
        h, w = img.shape[:2]
        side_uses = lo_row["side_bits"] / math.log2(11.0)
        assert lo_row["cbr"] * 3 * h * w >= side_uses
    # the 37x45 image is padded to 48x48: 12x12 patches, each at least 4 symbols
    assert together[1]["cbr"] * 3 * 37 * 45 >= 144 * 4 / 2 + together[1]["side_bits"] / math.log2(11.0) - 1e-6


def test_scheme_reuses_the_transmitter_side_across_snrs_and_etas(trained, tmp_path, monkeypatch):
    """g_a and the hyperprior run once per image, f_e once per (image, eta); rows are the same
    bit for bit as computed from scratch at each (eta, SNR)."""
    from ntscc_sim.models.ntscc import NTSCC

    tmp, _ = trained
    calls = {"analyse": 0, "f_e": 0}
    analyse = NTSCC.analyse

    def counting(self, x):
        calls["analyse"] += 1
        return analyse(self, x)

    s = _scheme(tmp / "ntscc" / "model.pt", tmp_path, eta=[0.1, 0.4], side_info="4qam-1/2")
    cfgs = s.configurations()
    imgs, seeds = _images(), [5, 6, 7]
    monkeypatch.setattr(NTSCC, "analyse", counting)
    f_e_model = s._model(cfgs[0]["checkpoint"]).f_e
    f_e_model.register_forward_hook(lambda *a: calls.__setitem__("f_e", calls["f_e"] + 1))
    grid = [(c, snr) for c in cfgs for snr in (2.0, 12.0)]
    reused = [s.run(c, snr, imgs, seeds) for c, snr in grid]
    assert calls == {"analyse": 3, "f_e": 6} and len(s._memos) == 3
    for (c, snr), rows in zip(grid, reused):
        fresh = _scheme(tmp / "ntscc" / "model.pt", tmp_path, eta=[0.1, 0.4], side_info="4qam-1/2")
        assert _same(fresh.run(c, snr, imgs, seeds), rows)
    # a tiny memory budget keeps nothing and changes nothing
    monkeypatch.setattr(s._memos, "max_bytes", 0)
    assert _same(s.run(cfgs[1], 12.0, imgs, seeds), reused[-1]) and len(s._memos) == 0


def test_scheme_side_info_over_ldpc(trained, tmp_path):
    tmp, _ = trained
    cap = _scheme(tmp / "ntscc" / "model.pt", tmp_path)
    mcs = _scheme(tmp / "ntscc" / "model.pt", tmp_path, side_info="4qam-1/2")
    cfg = cap.configurations()[0]
    imgs = _images()[:1]
    a = cap.run(cfg, 10.0, imgs, [1])[0]
    b = mcs.run(cfg, 10.0, imgs, [1])[0]
    assert b["outage"] == 0 and b["psnr"] == a["psnr"]  # same analog noise, side info decoded
    assert b["side_bits"] % 8 == 0 and b["cbr"] > a["cbr"]  # real code blocks cost more than capacity
    bad = mcs.run(cfg, -8.0, imgs, [1])[0]
    assert bad["outage"] == 1  # side info lost: grey image
    assert bad["psnr"] == pytest.approx(__import__("ntscc_sim.metrics", fromlist=["psnr"]).psnr(imgs[0][1], np.full_like(imgs[0][1], 128)))


def test_scheme_fallback_mean_on_lost_side_info(trained, tmp_path):
    """``fallback: mean`` works for NTSCC as for the separation schemes (grey was hard-coded)."""
    from ntscc_sim.fallback import dataset_mean_color
    from ntscc_sim.metrics import quality
    from ntscc_sim.schemes.ntscc import NTSCCScheme

    tmp, _ = trained
    spec = {"kind": "builtin", "names": ["astronaut", "coffee"], "crop": [32, 32], "limit": None}
    ctx = SchemeContext(channel={"kind": "awgn", "csi": "perfect", "coherence": None}, metrics=("psnr",), dataset=spec)
    p = {"checkpoint": [str(tmp / "ntscc" / "model.pt")], "eta": [0.2], "side_info": "4qam-1/2", "variant": None, "fallback": "mean"}
    s = NTSCCScheme("n", p, ctx)
    s.setup()
    img = _images()[0][1]
    bad = s.run(s.configurations()[0], -8.0, [("im0", img)], [1])[0]
    assert bad["outage"] == 1
    mean = np.broadcast_to(np.rint(dataset_mean_color(spec)).astype(np.uint8), img.shape)
    assert bad["psnr"] == pytest.approx(quality(img, mean, ms_ssim=False)["psnr"])
    grey = quality(img, np.full_like(img, 128), ms_ssim=False)["psnr"]
    assert abs(bad["psnr"] - grey) > 1e-3, "the mean fallback must differ from grey here"
    # capacity side information never fails: the fallback does not enter the fingerprint
    assert "fallback" not in NTSCCScheme("n", {**p, "side_info": "capacity"}, ctx).fingerprint()
    assert s.fingerprint()["fallback"] == "mean"


def test_scheme_writes_rate_maps(trained, tmp_path):
    from PIL import Image

    tmp, _ = trained
    s = _scheme(tmp / "ntscc" / "model.pt", tmp_path, rate_maps=True)
    cfg = s.configurations()[0]
    s.run(cfg, 10.0, [("test_batch:7", _images()[1][1])], [1])
    path = tmp_path / "figures" / "rate_maps" / "NTSCC-tiny_test_batch-7_eta0.2.png"
    assert path.is_file()
    with Image.open(path) as im:
        assert im.size[0] > 100 and im.size[1] > 100
    # a map left by an earlier run (other weights) is replaced; other SNRs of this run reuse it
    path.write_bytes(b"stale")
    fresh = _scheme(tmp / "ntscc" / "model.pt", tmp_path, rate_maps=True)
    fresh.run(cfg, 10.0, [("test_batch:7", _images()[1][1])], [1])
    assert path.read_bytes()[:4] == b"\x89PNG"
    stamp = path.stat().st_mtime_ns
    fresh.run(cfg, 4.0, [("test_batch:7", _images()[1][1])], [1])
    assert path.stat().st_mtime_ns == stamp


def test_scenario_validation_of_ntscc_params(trained):
    from ntscc_sim.scenario import ScenarioError
    from ntscc_sim.scenario.loader import validate_scenario

    tmp, _ = trained
    base = {"name": "t", "dataset": {"kind": "builtin", "names": ["astronaut"], "crop": [64, 64]}, "snr_db": 10}
    ok = validate_scenario({**base, "schemes": [{"name": "n", "kind": "ntscc", "checkpoint": str(tmp / "ntscc"), "eta": 0.2}]})
    assert ok.schemes[0]["eta"] == [0.2] and ok.schemes[0]["side_info"] == "capacity"
    with pytest.raises(ScenarioError) as exc:
        validate_scenario({**base, "schemes": [{"name": "n", "kind": "ntscc", "checkpoint": "no-such-model"}]})
    assert "schemes[0].checkpoint" in str(exc.value)
    with pytest.raises(ScenarioError) as exc:
        validate_scenario({**base, "channel": {"kind": "rayleigh-block"},
                           "schemes": [{"name": "n", "kind": "ntscc", "checkpoint": str(tmp / "ntscc")}]})
    assert "schemes[0].side_info" in str(exc.value)
    with pytest.raises(ScenarioError) as exc:
        validate_scenario({**base, "schemes": [{"name": "n", "kind": "ntscc", "checkpoint": str(tmp / "ntscc"), "side_info": "17qam-1/2"}]})
    assert "schemes[0].side_info" in str(exc.value)


# --- rate-index entropy coding (index_code: context) ------------------------------------
def test_index_coder_round_trip_and_code_length():
    from ntscc_sim.models.index_coding import IndexCoder

    gen = torch.Generator().manual_seed(0)
    counts = torch.rand(16, 16, generator=gen, dtype=torch.float64) ** 4 * 1000  # skewed rows
    coder = IndexCoder(counts)
    ctx = torch.randint(0, 16, (24, 40), generator=gen)
    idx = torch.multinomial(coder.pmf[ctx.reshape(-1)], 1, generator=gen).reshape(ctx.shape)
    s = coder.encode(idx, ctx)
    assert torch.equal(coder.decode(s, ctx), idx)
    ideal = coder.ideal_bits(idx, ctx)
    assert ideal - 8 <= 8 * len(s) <= ideal + 64  # rANS: the model's code length plus a flush
    assert 8 * len(s) < 0.9 * 4 * idx.numel()  # beats the fixed 4 bits per index
    # every index stays codable, even one the counts never saw
    sure = IndexCoder(torch.eye(16, dtype=torch.float64) * 1e6)
    odd = (ctx + 1) % 16
    assert torch.equal(sure.decode(sure.encode(odd, ctx), ctx), odd)
    with pytest.raises(ValueError):
        coder.encode(torch.full((2, 2), 16), torch.zeros(2, 2, dtype=torch.long))


def test_side_info_single_stream_round_trips():
    """z (CompressAI's bottleneck tables) and the indices share one rANS string that decodes to
    both, and costs less than the two separate strings it replaces."""
    from ntscc_sim._compressai import compressai  # noqa: F401
    from compressai.entropy_models import EntropyBottleneck

    from ntscc_sim.models.index_coding import IndexCoder, decode_side_info, encode_side_info

    gen = torch.Generator().manual_seed(3)
    eb = EntropyBottleneck(8).eval()
    eb.update(force=True)
    z = torch.randn(2, 8, 3, 5, generator=gen) * 3
    coder = IndexCoder(torch.rand(16, 16, generator=gen, dtype=torch.float64) * 100)
    ctx = torch.randint(0, 16, (2, 6, 10), generator=gen)
    idx = torch.randint(0, 16, (2, 6, 10), generator=gen)
    strings = encode_side_info(eb, z, idx, ctx, coder)
    z_ref = eb.decompress(eb.compress(z), z.shape[2:])
    seen = []
    for i, st in enumerate(strings):
        def contexts(z_hat, i=i):
            seen.append(z_hat)
            return ctx[i]
        z_hat, got = decode_side_info(eb, st, (1, 8, 3, 5), contexts, coder)
        assert torch.equal(z_hat, z_ref[i:i + 1]) and torch.equal(seen[-1], z_hat)
        assert torch.equal(got, idx[i])
        separate = len(eb.compress(z[i:i + 1])[0]) + len(coder.encode(idx[i], ctx[i]))
        assert len(st) < separate
    _, bad = decode_side_info(eb, strings[0], (1, 8, 3, 5), lambda z_hat: (ctx[0] + 1) % 16, coder)
    assert not torch.equal(bad, idx[0])  # the indices depend on the receiver's contexts


def test_training_fits_the_index_prior(trained):
    from ntscc_sim.train.checkpoint import read_checkpoint

    tmp, _ = trained
    ckpt = read_checkpoint(tmp / "ntscc" / "model.pt")
    rec, counts = ckpt["calibration"], ckpt["state_dict"]["index_counts"]
    assert counts.shape == (len(VALUES), len(VALUES))
    # every (predicted, chosen) pair of every patch at every calibration eta was counted once
    patches = (32 // 4) ** 2
    assert rec["etas"][0] == pytest.approx(0.1) and rec["etas"][-1] == pytest.approx(0.4) and len(rec["etas"]) == 8
    assert int(counts.sum()) == rec["pairs"] == rec["images"] * patches * len(rec["etas"])


def test_scheme_context_index_code(trained, tmp_path):
    """Same reconstruction as the fixed code; the side bits are the one rANS string, which
    decodes to z and then to the indices from the receiver's own contexts."""
    from ntscc_sim.models.index_coding import decode_side_info, predicted_index

    tmp, _ = trained
    ck = tmp / "ntscc" / "model.pt"
    imgs, seeds = _images(), [5, 6, 7]
    for side in ("capacity", "4qam-1/2"):
        fixed = _scheme(ck, tmp_path, side_info=side, index_code="fixed")
        ctx = _scheme(ck, tmp_path, side_info=side, index_code="context")
        cfg = fixed.configurations()[0]
        a, b = fixed.run(cfg, 10.0, imgs, seeds), ctx.run(cfg, 10.0, imgs, seeds)
        for ra, rb in zip(a, b):
            assert rb["outage"] == 0 and rb["psnr"] == ra["psnr"]
            assert rb["side_bits"] != ra["side_bits"]
    model = ctx._model(str(ck))
    x = torch.rand(1, 3, 32, 32)
    out = model(x, Channel("awgn"), 10.0, eta=0.2, z_strings=True, index_code="context")
    pred = predicted_index(model.allocator, model.analyse(x)["scales"], 0.2)[0]
    st = out["side_string"][0]
    contexts = lambda z_hat: predicted_index(model.allocator, model.ntc.params(z_hat)[1], 0.2)[0]  # noqa: E731
    z_hat, got = decode_side_info(model.ntc.entropy_bottleneck, st, (1, *model.analyse(x)["z"].shape[1:]), contexts,
                                  model.index_coder)
    assert torch.equal(got, out["index"][0]) and torch.equal(contexts(z_hat), pred)
    assert float(out["side_bits"][0]) == 8 * len(st)
    two_strings = len(out["z_string"][0]) + len(model.index_coder.encode(out["index"][0], pred))
    assert float(out["side_bits"][0]) < 8 * two_strings  # one flush instead of two
    assert "index_code" not in fixed.fingerprint() and ctx.fingerprint()["index_code"] == "context"
    assert ctx.fingerprint()["side_stream"] == "single" and "side_stream" not in fixed.fingerprint()


def test_index_prior_cli_and_unfitted_checkpoints(trained, tmp_path):
    """A checkpoint without ``index_counts`` (older code) loads and runs with the fixed code,
    is refused for ``index_code: context`` naming the key, and the CLI fits it."""
    from ntscc_sim.scenario import ScenarioError
    from ntscc_sim.scenario.loader import validate_scenario
    from ntscc_sim.train.checkpoint import atomic_save, read_checkpoint
    from ntscc_sim.train.index_prior import main

    tmp, _ = trained
    ckpt = read_checkpoint(tmp / "ntscc" / "model.pt")
    del ckpt["state_dict"]["index_counts"]
    old = tmp_path / "old.pt"
    atomic_save(ckpt, old)
    rows = _scheme(old, tmp_path).run(_scheme(old, tmp_path).configurations()[0], 10.0, _images()[:1], [1])
    assert rows[0]["outage"] == 0
    base = {"name": "t", "dataset": {"kind": "builtin", "names": ["astronaut"], "crop": [64, 64]}, "snr_db": 10}
    scheme = {"name": "n", "kind": "ntscc", "checkpoint": str(old), "index_code": "context"}
    with pytest.raises(ScenarioError) as exc:
        validate_scenario({**base, "schemes": [scheme]})
    assert "schemes[0].index_code" in str(exc.value) and "index_prior" in str(exc.value)
    assert main([str(old), "--batches", "2"]) == 0
    fitted = read_checkpoint(old)
    assert fitted["calibration"]["batches"] == 2 and float(fitted["state_dict"]["index_counts"].sum()) > 0
    assert validate_scenario({**base, "schemes": [scheme]}).schemes[0]["index_code"] == "context"
    with pytest.raises(ScenarioError) as exc:  # without z the receiver has no context
        validate_scenario({**base, "schemes": [{**scheme, "variant": "no-z"}]})
    assert "schemes[0].index_code" in str(exc.value) and "no-z" in str(exc.value)
    assert main([str(tmp_path / "missing.pt")]) == 2


def test_eta_sweep_cli_on_validation_images(trained, tmp_path, capsys, monkeypatch):
    """Checkpoint selection on validation images: one RD point per eta, same noise every call."""
    import json

    from ntscc_sim.train.eta_sweep import main

    import ntscc_sim.train.data as data_mod

    def no_training_images(*a, **k):
        raise AssertionError("eta_sweep must read only the validation images")

    tmp, _ = trained
    ck = str(tmp / "ntscc" / "model.pt")
    out = tmp_path / "sweep.json"
    monkeypatch.setattr(data_mod, "TrainData", no_training_images)
    assert main([ck, ck, "--etas", "0.1,0.4", "--val-limit", "3", "--json", str(out)]) == 0
    a, b = json.loads(out.read_text())
    assert a["images"] == 3 and a["snr_db"] == 10.0 and [r["eta"] for r in a["rows"]] == [0.1, 0.4]
    assert a["rows"] == b["rows"], "same checkpoint, same seeds: same numbers"
    lo, hi = a["rows"]
    assert hi["cbr"] > lo["cbr"] > 0 and all(10 < r["psnr"] < 60 for r in a["rows"])
    assert a["mean_psnr"] == pytest.approx((lo["psnr"] + hi["psnr"]) / 2)
    assert "mean" in capsys.readouterr().out
    assert main([str(tmp / "ntc" / "model.pt")]) == 2  # an NTC checkpoint
    assert "expected 'ntscc'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([ck, "--etas", "0.1,x"])
    assert exc.value.code == 2


def test_warning_when_crops_never_exercise_shifted_windows(tmp_path, capsys):
    """A 128-px crop with 4 stages is an 8 x 8 latent grid: one 8 x 8 window, so the shifted-window
    blocks never shift in training; Kodak's 48 x 32 grid shifts. Training says so."""
    from ntscc_sim.train import train
    from ntscc_sim.train.config import validate_config
    from ntscc_sim.train.tasks import get_task

    task = get_task("ntscc")
    model = {**TINY_NTSCC, "jscc_depth_enc": 2, "jscc_depth_dec": 2}  # stages 2: grid = crop / 4
    cfg = tiny_train_config(tmp_path, model, steps=1)  # crop 32: an 8 x 8 grid
    assert task.warnings(validate_config({**cfg, "model": {**model, "jscc_window": 4}})) == []
    warned = task.warnings(validate_config({**cfg, "model": {**model, "jscc_window": 8}}))
    assert len(warned) == 1 and "data.crop 32" in warned[0] and "crop >= 36" in warned[0]
    single = {**model, "jscc_window": 8, "jscc_depth_enc": 1, "jscc_depth_dec": 1}  # no shifted block at all
    assert task.warnings(validate_config({**cfg, "model": single})) == []
    train({**cfg, "model": {**model, "jscc_window": 8}}, out_dir=tmp_path / "run", progress=False)
    assert "warning: data.crop 32" in capsys.readouterr().err
