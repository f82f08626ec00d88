"""One meaning per column: ``payload_bits`` (digital source bits sent) and ``side_bits`` (side
information), NaN where they do not apply; ``summary.csv`` never averages parameter columns."""

import math

import pandas as pd
import pytest

from conftest import tiny_scenario, write_yaml
from ntscc_sim.report.data import aggregate_curves, read_points
from ntscc_sim.run import main


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("columns")
    sc = tiny_scenario(
        dataset={"kind": "builtin", "names": ["astronaut", "coffee", "chelsea"], "crop": [64, 64]},
        snr_db=[10.0],
        schemes=[
            {"name": "cap", "kind": "bpg-capacity", "cbr": ["1/12", "1/6"]},
            {"name": "ntc", "kind": "ntc-capacity", "cbr": ["1/12"],
             "checkpoint": ["ntc-bsds500-p16-lam0.0018", "ntc-bsds500-p16-lam0.0035", "ntc-bsds500-p16-lam0.0067"]},
            {"name": "ntscc", "kind": "ntscc", "checkpoint": "ntscc-bsds500-awgn10-lam1500", "eta": [0.2]},
            {"name": "djscc", "kind": "deep-jscc", "checkpoint": ["deepjscc-bsds500-awgn10-c2"]},
        ],
    )
    f = write_yaml(tmp / "s.yaml", sc)
    out = tmp / "o"
    assert main([str(f), "--out", str(out), "--quiet"]) == 0
    return out


def test_points_have_one_meaning_per_column(sweep):
    df = pd.read_csv(sweep / "points.csv")
    assert "bits" not in df.columns
    by = {k: g for k, g in df.groupby("kind")}
    sep = pd.concat([by["bpg-capacity"], by["ntc-capacity"]])
    assert (sep["payload_bits"] > 0).all() and sep["side_bits"].isna().all()
    assert by["ntscc"]["payload_bits"].isna().all() and (by["ntscc"]["side_bits"] > 0).all()
    assert by["deep-jscc"]["payload_bits"].isna().all() and by["deep-jscc"]["side_bits"].isna().all()


def test_report_does_not_take_ntscc_for_a_digital_scheme(sweep):
    curves = aggregate_curves(read_points(sweep)).groupby("scheme")["digital"].all()
    assert bool(curves["cap"]) and bool(curves["ntc"])
    assert not bool(curves["ntscc"]) and not bool(curves["djscc"])


def test_summary_groups_by_parameters_never_averages_them(sweep):
    pts = pd.read_csv(sweep / "points.csv")
    s = pd.read_csv(sweep / "summary.csv")
    assert "bits" not in s.columns and {"payload_bits", "side_bits"} <= set(s.columns)
    # per-image choices are left out, configuration parameters are carried unaveraged
    assert "qp" not in s.columns and "ntc_lambda" not in s.columns
    assert pts.groupby(["scheme", "config"])["qp"].nunique().max() >= 1
    cfg_values = pts["target_cbr"].dropna().unique()
    assert all(abs(cfg_values - v).min() < 1e-6 for v in s["target_cbr"].dropna())
    assert set(s["lambda"].dropna()) <= set(pts["lambda"].dropna())
    assert len(s) == len(pts.groupby(["scheme", "config", "snr_db"]))
    ntscc = s[s["scheme"] == "ntscc"].iloc[0]
    assert math.isnan(ntscc["payload_bits"]) and ntscc["side_bits"] == pytest.approx(pts[pts["scheme"] == "ntscc"]["side_bits"].mean())


def test_legacy_bits_column_is_split_on_read(tmp_path):
    (tmp_path / "points.csv").write_text(
        "scheme,kind,config,snr_db,image,cbr,bits,psnr,outage\n"
        "B,bpg-ldpc,c,10,a,0.05,1000,30,0\n"
        "N,ntscc,c,10,a,0.05,200,31,0\n"
        "D,deep-jscc,c,10,a,0.05,,29,0\n")
    p = read_points(tmp_path).set_index("scheme")
    assert p.loc["B", "payload_bits"] == 1000 and math.isnan(p.loc["B", "side_bits"])
    assert p.loc["N", "side_bits"] == 200 and math.isnan(p.loc["N", "payload_bits"])
    assert math.isnan(p.loc["D", "payload_bits"]) and "bits" not in p.columns
    digital = aggregate_curves(read_points(tmp_path)).set_index("scheme")["digital"]
    assert bool(digital["B"]) and not bool(digital["N"])
