"""Banana-source experiment: source, Blahut–Arimoto bound, schema, tiny end-to-end run."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from ntscc_sim.banana import (
    BOUND_COLUMNS,
    SDR_COLUMNS,
    BananaSource,
    banana_bound,
    blahut_arimoto_2d,
    describe,
    gaussian_rd,
    run_banana,
    validate_banana_scenario,
)
from ntscc_sim.banana.figures import make_figures, read_maps
from ntscc_sim.channels import awgn_capacity
from ntscc_sim.scenario import ScenarioError

REPO = Path(__file__).resolve().parents[1]



SNR_DB = 5.0
CAP = math.log2(1 + 10 ** (SNR_DB / 10))


# ---------------------------------------------------------------------------
# source
# ---------------------------------------------------------------------------


def test_source_shape_determinism_and_statistics():
    src = BananaSource()
    x = src.sample(200_000, seed=3)
    assert x.shape == (200_000, 2) and x.dtype == np.float64
    assert np.array_equal(x, src.sample(200_000, seed=3))
    assert not np.array_equal(x, src.sample(200_000, seed=4))
    # closed forms: mean R(-240°)(0, -0.9) - (1, 1); variance 9 + 0.25 + 2*0.01*81
    assert src.variance() == pytest.approx(10.87)
    c, s = math.cos(math.radians(120)), math.sin(math.radians(120))
    assert np.allclose(src.mean(), [0.9 * s - 1, -0.9 * c - 1])
    n = len(x)
    m2 = (x**2).sum(1)
    assert abs(m2.mean() - src.second_moment()) < 5 * m2.std() / math.sqrt(n)
    for i in range(2):
        assert abs(x[:, i].mean() - src.mean()[i]) < 5 * x[:, i].std() / math.sqrt(n)
    assert x.var(0).sum() == pytest.approx(src.variance(), rel=0.02)


def test_source_map_matches_reference_definition():
    """x = R(-240°) (z0, z1 - 0.1 z0²) - (1, 1) with z ~ N(0, diag(9, 0.25)) (tfc toy_sources)."""
    src = BananaSource()
    z = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, -0.5]])
    x = src.u_to_x(src.bend(z))
    c, s = math.cos(math.radians(120)), math.sin(math.radians(120))
    for (z0, z1), xi in zip(z, x):
        u0, u1 = z0, z1 - 0.1 * z0**2
        assert xi == pytest.approx([c * u0 - s * u1 - 1, s * u0 + c * u1 - 1])
    assert np.allclose(src.x_to_z(x), z)


def test_source_density_is_normalised_and_matches_samples():
    src = BananaSource()
    g0 = np.linspace(-6, 16, 441)
    g1 = np.linspace(-8, 15, 461)
    xx = np.stack(np.meshgrid(g0, g1), -1).reshape(-1, 2)
    mass = src.pdf(xx).sum() * (g0[1] - g0[0]) * (g1[1] - g1[0])
    assert mass == pytest.approx(1.0, abs=2e-3)
    # Monte-Carlo cross-entropy = differential entropy
    x = src.sample(100_000, seed=0)
    assert -src.log_prob(x).mean() / math.log(2) == pytest.approx(src.entropy_bits(), abs=0.02)


# ---------------------------------------------------------------------------
# Blahut–Arimoto
# ---------------------------------------------------------------------------


def _gaussian_grid(sig0, sig1, d0, d1, half=6.0):
    a0 = np.arange(-half * sig0, half * sig0 + 1e-9, d0)
    a1 = np.arange(-half * sig1, half * sig1 + 1e-9, d1)
    p = np.exp(-0.5 * (a0[:, None] / sig0) ** 2 - 0.5 * (a1[None, :] / sig1) ** 2)
    return a0, a1, p / p.sum()


def test_ba_iid_gaussian_matches_closed_form():
    a0, a1, p = _gaussian_grid(1.0, 1.0, 0.1, 0.1)
    curve = blahut_arimoto_2d(p, a0, a1, slopes=np.geomspace(0.6, 20, 6), max_iter=500)
    # D(R) = 2 sigma^2 2^(-R) for R bits per 2-D vector (sigma^2 2^(-2R) per dimension)
    assert np.allclose(curve.distortion, 2 * 2.0 ** (-curve.rate_bits), rtol=2e-3)
    assert np.all(np.diff(curve.rate_bits) > 0) and np.all(np.diff(curve.distortion) < 0)


def test_ba_anisotropic_gaussian_matches_reverse_water_filling():
    a0, a1, p = _gaussian_grid(3.0, 0.5, 0.3, 0.05)
    curve = blahut_arimoto_2d(p, a0, a1, slopes=[0.1, 0.5, 1.5, 5.0], max_iter=150)
    ref = gaussian_rd([9.0, 0.25], curve.rate_bits)
    assert np.allclose(curve.distortion, ref, rtol=0.01)
    # the water level passes the small variance: below it only one component is coded
    assert gaussian_rd([9.0, 0.25], [1.0])[0] == pytest.approx(9 * 2.0**-2 + 0.25)


def test_gaussian_rd_reverse_water_filling_formula():
    assert gaussian_rd([1.0, 1.0], [4.0])[0] == pytest.approx(2 * 2.0**-4)
    assert gaussian_rd([4.0], [0.0])[0] == pytest.approx(4.0)


@pytest.fixture(scope="module")
def coarse_bound():
    return banana_bound(BananaSource(), CAP, step=0.3, num_slopes=8, max_iter=80)


def test_bound_monotone_and_consistent(coarse_bound):
    b = coarse_bound
    src = BananaSource()
    cbr = np.linspace(0, 4, 81)
    sdr = b.sdr_db(cbr)
    assert np.all(np.diff(sdr) >= -1e-9)
    assert sdr[0] == pytest.approx(10 * math.log10(src.second_moment() / src.variance()))
    assert np.allclose(b.rate_for_cbr(cbr), 2 * cbr * awgn_capacity(SNR_DB))
    # never above the Shannon lower bound (a rigorous upper bound on SDR)
    slb_sdr = 10 * np.log10(src.second_moment() / src.shannon_lower_bound(b.rate_for_cbr(cbr)))
    assert np.all(sdr <= slb_sdr + 1e-9)
    # BA met the SLB at its last point (the banana is locally Gaussian at high rate)
    assert abs(b.slb_gap_db) < 0.1
    assert np.all(b.tolerance_db(cbr) >= 0)


def test_bound_above_analytic_linear_schemes(coarse_bound):
    """Uncoded linear transmission + LMMSE is achievable, so it must lie below the bound."""
    src = BananaSource()
    snr = 10 ** (SNR_DB / 10)
    cov_u = np.diag([9.0, 0.25 + 2 * 0.01 * 81])  # covariance of u (Cov(z0, z0^2) = 0)
    # CBR 1/2: both components on one complex use, 1/2 power per real dim
    d_half = np.trace(cov_u) / (1 + snr)
    # CBR 1/4: the major component on one real dim, the minor one dropped
    d_quarter = 9.0 / (1 + snr) + cov_u[1, 1]
    for cbr, d in ((0.5, d_half), (0.25, d_quarter)):
        assert 10 * math.log10(src.second_moment() / d) < float(coarse_bound.sdr_db(cbr))


# ---------------------------------------------------------------------------
# schema
# ---------------------------------------------------------------------------


def _minimal():
    return {
        "name": "b",
        "dataset": {"kind": "banana"},
        "snr_db": 5,
        "schemes": [
            {"name": "ntc", "kind": "ntc"},
            {"name": "cap", "kind": "ntc-capacity"},
            {"name": "jscc", "kind": "deep-jscc", "cbr": [0.25, "1/2"]},
            {"name": "ntscc", "kind": "ntscc"},
        ],
    }


def test_schema_defaults_and_resolution():
    d = validate_banana_scenario(_minimal())
    assert d["lambdas"] == [1 / 32, 1 / 256, 1 / 1024]
    s = {x["name"]: x for x in d["schemes"]}
    assert s["cap"]["ntc"] == "ntc" and s["ntscc"]["ntc"] == "ntc"
    assert s["ntscc"]["lambdas"] == d["lambdas"] and s["ntscc"]["train_eta"] == s["ntscc"]["eta"]
    assert s["ntscc"]["rate_levels"] == 16
    assert s["jscc"]["cbr"] == [0.25, 0.5]
    assert d["channel"]["kind"] == "awgn" and d["snr_db"] == 5.0
    text = describe(d)
    assert "ntscc" in text and "Blahut" in text


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda d: d["dataset"].pop("kind"), "dataset.kind"),
        (lambda d: d["dataset"].update(kind="cifar10"), "dataset.kind"),
        (lambda d: d["dataset"].update(train_sample=10), "dataset.train_sample"),
        (lambda d: d.update(snr_db=[5, 10]), "snr_db"),
        (lambda d: d.update(lambdas=["1/0"]), "lambdas[0]"),
        (lambda d: d["schemes"][1].update(kind="ntc+capacity"), "schemes[1].kind"),
        (lambda d: d["schemes"][2].update(cbr=[0.25, 0.3]), "schemes[2].cbr[1]"),
        (lambda d: d["schemes"][3].update(eta=[-1]), "schemes[3].eta[0]"),
        (lambda d: d["schemes"][3].update(ntc="jscc"), "schemes[3].ntc"),
        (lambda d: d["schemes"].pop(0), "schemes[0].ntc"),
        (lambda d: d["schemes"][1].update(name="ntc"), "schemes[1].name"),
        (lambda d: d.update(channel={"kind": "rayleigh-fast"}), "channel.kind"),
        (lambda d: d.update(bound={"step": 0}), "bound.step"),
        (lambda d: d.update(train={"stepz": 3}), "train.stepz"),
        (lambda d: d.update(report={"map_lambda": "1/100"}), "report.map_lambda"),
        (lambda d: d.update(report={"map_scheme": "jscc"}), "report.map_scheme"),
    ],
)
def test_schema_errors_name_the_key(mutate, key):
    raw = _minimal()
    mutate(raw)
    with pytest.raises(ScenarioError) as exc:
        validate_banana_scenario(raw)
    assert exc.value.key == key, str(exc.value)


def test_shipped_scenario_validates():
    raw = yaml.safe_load((REPO / "scenarios" / "banana.yaml").read_text())
    assert raw["experiment"] == "banana"
    d = validate_banana_scenario(raw)
    assert d["dataset"]["kind"] == "banana" and d["snr_db"] == 5.0
    assert {s["kind"] for s in d["schemes"]} == {"ntc", "ntc-capacity", "deep-jscc", "ntscc"}
    ntscc = [s for s in d["schemes"] if s["kind"] == "ntscc"]
    assert all(s["rate_levels"] == 16 for s in ntscc)
    assert any(math.isclose(lam, v) for lam in (1 / 32, 1 / 256, 1 / 1024) for s in ntscc for v in s["lambdas"])


# ---------------------------------------------------------------------------
# tiny end-to-end run
# ---------------------------------------------------------------------------

TINY = {
    "name": "banana-tiny",
    "seed": 7,
    "device": "cpu",
    "dataset": {"kind": "banana", "train_samples": 5000, "test_samples": 3000},
    "snr_db": 5,
    "lambdas": ["1/32"],
    "train": {"steps": 150, "batch": 128},
    "bound": {"step": 0.3, "slopes": 8, "max_iter": 80, "cbr_points": 31, "cbr_max": 3},
    "schemes": [
        {"name": "ntc", "kind": "ntc", "hidden": [64, 64]},
        {"name": "ntc-capacity", "kind": "ntc-capacity"},
        {"name": "deep-jscc", "kind": "deep-jscc", "cbr": [0.25, 1], "hidden": [64, 64]},
        {"name": "ntscc", "kind": "ntscc", "eta": [0.5, 1.0], "hidden": [64, 64]},
    ],
    "report": {"map_lambda": "1/32", "map_grid": 20, "map_noise_draws": 1, "formats": ["png"]},
}


def _read_csv(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        return header, [dict(zip(header, row)) for row in r]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("banana")
    info = run_banana(validate_banana_scenario(TINY), out, "cpu", progress=False)
    return out, info


def test_tiny_run_writes_outputs(tiny_run):
    out, info = tiny_run
    header, rows = _read_csv(out / "sdr.csv")
    assert tuple(header) == SDR_COLUMNS
    assert {r["scheme"] for r in rows} == {"ntc-capacity", "deep-jscc", "ntscc"}
    assert len(rows) == 1 + 2 + 2
    bheader, brows = _read_csv(out / "bound.csv")
    assert tuple(bheader) == BOUND_COLUMNS and len(brows) == 31
    for r in rows:
        assert float(r["cbr"]) > 0 and math.isfinite(float(r["sdr_db"]))
        assert (r["eta"] != "") == (r["scheme"] == "ntscc")
        assert (r["lambda"] != "") == (r["scheme"] != "deep-jscc")
    jscc = sorted(float(r["cbr"]) for r in rows if r["scheme"] == "deep-jscc")
    assert jscc == [0.25, 1.0]
    run = json.loads((out / "run.json").read_text())
    assert run["scenario"]["name"] == "banana-tiny" and "torch" in run["versions"] and "total_s" in run["timings"]
    names = {Path(f).name for f in run["figures"]}
    assert names == {f"{s}.png" for s in ("fig9a_true_density", "fig9b_learned_density", "fig9c_bandwidth",
                                         "fig10a_sdr_deep_jscc", "fig10b_sdr_ntscc", "fig10c_sdr_vs_cbr")}
    for f in run["figures"]:
        assert (out / f).stat().st_size > 1000
    assert not list(out.rglob(".*.tmp-*"))
    maps, meta = read_maps(out / "maps.npz")
    g = TINY["report"]["map_grid"]
    assert {k: v.shape for k, v in maps.items()} == {"extent": (4,), **{k: (g, g) for k in (
        "true_density", "learned_density", "channel_uses", "sdr_ntscc", "sdr_jscc")}}
    assert meta["kinds"] == {"ntc": "ntc", "ntc-capacity": "ntc-capacity", "deep-jscc": "deep-jscc", "ntscc": "ntscc"}
    assert meta["jscc_cbr"] in (0.25, 1.0) and 0 < meta["cbr_map"]


def test_figures_are_drawn_from_the_result_files_alone(tiny_run, tmp_path):
    """compute -> files -> plots: a folder holding only sdr.csv, bound.csv and maps.npz redraws every figure."""
    out, info = tiny_run
    for name in ("sdr.csv", "bound.csv", "maps.npz"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    assert make_figures(tmp_path) == info["figures"]
    for f in info["figures"]:
        assert (tmp_path / f).stat().st_size > 1000


def test_runner_selects_the_banana_experiment_by_its_key(tmp_path, capsys):
    from ntscc_sim.run import main

    raw = {**TINY, "experiment": "banana"}
    path = tmp_path / "banana.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main([str(path), "--dry-run"]) == 0
    assert "banana experiment 'banana-tiny'" in capsys.readouterr().out
    path.write_text(yaml.safe_dump({**raw, "experiment": "bananas"}))
    assert main([str(path), "--out", str(tmp_path / "o")]) == 2
    assert "experiment" in capsys.readouterr().err and not (tmp_path / "o").exists()
    # without the key a scenario is a sweep, whose dataset kinds do not include the banana source
    path.write_text(yaml.safe_dump(TINY))
    assert main([str(path), "--out", str(tmp_path / "o")]) == 2
    assert "experiment: banana" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_tiny_run_cbr_accounting(tiny_run):
    out, info = tiny_run
    for p in info["points"]:
        if p["kind"] == "ntc-capacity":
            assert p["cbr"] == pytest.approx(p["bits"] / (2 * CAP))
        if p["kind"] == "ntscc":
            # data bandwidth + ideal-coded rate indices over a capacity-achieving code
            assert p["cbr"] == pytest.approx(p["cbr_data"] + p["side_info_bits"] / CAP / 2)
            hist = np.array(p["rate_histogram"])
            assert hist.sum() == TINY["dataset"]["test_samples"] and len(hist) == 16
            assert p["cbr_data"] == pytest.approx((hist * np.arange(1, 17)).sum() / hist.sum() / 4)


def test_tiny_run_no_point_above_bound(tiny_run):
    """Every learned scheme stays below the RD bound. Tolerance: the bound's grid
    discretisation (tolerance_db) plus 0.1 dB for BA convergence and the test-set
    Monte-Carlo error of the SDR estimate."""
    out, _ = tiny_run
    _, rows = _read_csv(out / "sdr.csv")
    b = banana_bound(BananaSource(), CAP, step=0.3, num_slopes=8, max_iter=80)
    bcbr, bsdr = zip(*[(float(r["cbr"]), float(r["sdr_db"])) for r in _read_csv(out / "bound.csv")[1]])
    assert np.allclose(b.sdr_db(np.array(bcbr)), bsdr)
    for r in rows:
        cbr, sdr = float(r["cbr"]), float(r["sdr_db"])
        assert sdr <= float(b.sdr_db(cbr)) + float(b.tolerance_db(cbr)) + 0.1, r


def test_tiny_run_is_deterministic(tiny_run, tmp_path):
    out, _ = tiny_run
    data = validate_banana_scenario({**TINY, "report": {"enabled": False}, "bound": {**TINY["bound"], "max_iter": 5}})
    data["schemes"] = [s for s in data["schemes"] if s["kind"] != "deep-jscc"]
    run_banana(data, tmp_path, "cpu", progress=False)
    _, first = _read_csv(out / "sdr.csv")
    _, again = _read_csv(tmp_path / "sdr.csv")
    assert again == [r for r in first if r["scheme"] != "deep-jscc"]
