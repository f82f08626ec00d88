"""Tests of the reporting layer (ntscc_sim.report): BD values, aggregation, tables, figures, CLI."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.interpolate import PchipInterpolator

from ntscc_sim.report import (ReportInputError, aggregate_curves, bd_metrics, build_report,
                              load_overlay, rd_envelope, read_points)
from ntscc_sim.report.__main__ import main as cli_main

CBR = np.array([0.02, 0.04, 0.08, 0.16])
PSNR = np.array([26.0, 29.0, 31.5, 33.0])

# Example data published in the bjontegaard package README (libx265 presets).
README_RATE_A = [9487.76, 4593.60, 2486.44, 1358.24]
README_PSNR_A = [40.037, 38.615, 36.845, 34.851]
README_RATE_T = [9787.80, 4469.00, 2451.52, 1356.24]
README_PSNR_T = [40.121, 38.651, 36.970, 34.987]


# --------------------------------------------------------------------------- BD core
@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_bd_cbr_of_scaled_rate_is_exact(method):
    r = bd_metrics(CBR, PSNR, 0.8 * CBR, PSNR, method=method)
    assert r.bd_cbr_pct == pytest.approx(-20.0, abs=1e-9)
    assert r.bd_psnr_db > 0
    r = bd_metrics(CBR, PSNR, 1.25 * CBR, PSNR, method=method)
    assert r.bd_cbr_pct == pytest.approx(25.0, abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_bd_psnr_of_offset_curve_is_exact(method):
    r = bd_metrics(CBR, PSNR, CBR, PSNR + 1.0, method=method)
    assert r.bd_psnr_db == pytest.approx(1.0, abs=1e-9)
    assert r.bd_cbr_pct < 0
    same = bd_metrics(CBR, PSNR, CBR, PSNR, method=method)
    assert same.bd_cbr_pct == 0.0 and same.bd_psnr_db == 0.0 and same.note == ""


def _independent_pchip_bd(ra, pa, rt, pt):
    """BD-rate / BD-PSNR computed directly with scipy (no bjontegaard package)."""
    la, lt = np.log10(ra), np.log10(rt)

    def avg(xa, ya, xt, yt):
        ia, it = np.argsort(xa), np.argsort(xt)
        fa, ft = PchipInterpolator(xa[ia], ya[ia]), PchipInterpolator(xt[it], yt[it])
        lo, hi = max(xa.min(), xt.min()), min(xa.max(), xt.max())
        return (ft.integrate(lo, hi) - fa.integrate(lo, hi)) / (hi - lo)

    pa, pt = np.asarray(pa), np.asarray(pt)
    return (10 ** avg(pa, la, pt, lt) - 1) * 100, avg(la, pa, lt, pt)


def test_bd_matches_bjontegaard_readme_example():
    r = bd_metrics(README_RATE_A, README_PSNR_A, README_RATE_T, README_PSNR_T, method="pchip")
    ref_rate, ref_psnr = _independent_pchip_bd(np.array(README_RATE_A), README_PSNR_A,
                                               np.array(README_RATE_T), README_PSNR_T)
    assert r.bd_cbr_pct == pytest.approx(ref_rate, abs=1e-9)
    assert r.bd_psnr_db == pytest.approx(ref_psnr, abs=1e-9)
    # pinned values (bjontegaard 1.3.0, cross-checked above for PCHIP)
    assert r.bd_cbr_pct == pytest.approx(-4.4175, abs=1e-4)
    assert r.bd_psnr_db == pytest.approx(0.1197, abs=1e-4)
    ak = bd_metrics(README_RATE_A, README_PSNR_A, README_RATE_T, README_PSNR_T, method="akima")
    assert ak.bd_cbr_pct == pytest.approx(-4.4252, abs=1e-4)
    assert ak.bd_psnr_db == pytest.approx(0.1194, abs=1e-4)
    with pytest.raises(ValueError):
        bd_metrics(CBR, PSNR, CBR, PSNR, method="linear")


def test_rd_envelope_drops_dominated_points():
    c, q = rd_envelope([0.1, 0.02, 0.05, 0.04, 0.04, np.nan, -1], [30, 25, 27, 28, 26, 40, 50])
    np.testing.assert_allclose(c, [0.02, 0.04, 0.1])
    np.testing.assert_allclose(q, [25, 28, 30])


def test_bd_non_overlapping_and_too_few_points():
    r = bd_metrics(CBR, PSNR - 10, CBR * 10, PSNR + 10)
    assert r.bd_cbr_pct is None and r.bd_psnr_db is None
    assert "no PSNR overlap" in r.note and "no CBR overlap" in r.note
    # CBR ranges overlap, PSNR ranges do not: BD-PSNR defined, BD-CBR not
    r = bd_metrics(CBR, PSNR - 10, CBR, PSNR)
    assert r.bd_cbr_pct is None and r.bd_psnr_db == pytest.approx(10.0)
    r = bd_metrics(CBR[:3], PSNR[:3], CBR, PSNR)
    assert r.bd_cbr_pct is None and r.bd_psnr_db is None and "anchor has 3 points (<4)" in r.note
    # 4 raw points, one dominated -> 3 on the envelope
    r = bd_metrics(CBR, PSNR, CBR, [26.0, 29.0, 28.0, 33.0])
    assert r.bd_cbr_pct is None and "test has 3 points on RD envelope of 4" in r.note


# --------------------------------------------------------------------------- BD over a fixed CBR range
RANGE_CBR = 0.01 * 2.0 ** np.arange(7)  # 0.01 ... 0.64


def _concave(c):
    x = np.log2(c / 0.01)
    return 24.0 + 3.5 * x - 0.2 * x ** 2


def _clip_ref(c, q, lo, hi):
    """Envelope clipped to [lo, hi], boundary points from scipy's PCHIP on log10 CBR (reference)."""
    f = PchipInterpolator(np.log10(c), q)
    xs = np.array(sorted(set(c[(c >= lo) & (c <= hi)]) | {x for x in (lo, hi) if c[0] < x < c[-1]}))
    return xs, f(np.log10(xs))


@pytest.mark.parametrize("cbr_range", [(0.03, 0.1), (1 / 64, 1 / 16), (0.011, 0.6), (0.02, 0.16)])
def test_bd_cbr_range_constant_shift_is_exact(cbr_range):
    q = _concave(RANGE_CBR)
    r = bd_metrics(RANGE_CBR, q, RANGE_CBR, q + 1.5, cbr_range=cbr_range)
    assert r.bd_psnr_db == pytest.approx(1.5, abs=1e-9)
    assert r.bd_cbr_pct < 0 and "CBR" not in r.note  # both curves span the range


def test_bd_cbr_range_matches_independent_integral():
    """Clipping + PCHIP integral over [max(lo, overlap start), min(hi, overlap end)], redone with scipy."""
    from scipy.integrate import quad

    ac, aq = RANGE_CBR, _concave(RANGE_CBR)
    tc = np.array([0.025, 0.035, 0.05, 0.07, 0.11, 0.2])  # other sampling; starts inside the range
    tq = _concave(tc * 1.3) + 0.2 * np.sin(7 * np.log(tc))
    lo, hi = 0.018, 0.15
    r = bd_metrics(ac, aq, tc, tq, cbr_range=(lo, hi))
    (xa, ya), (xt, yt) = _clip_ref(ac, aq, lo, hi), _clip_ref(tc, tq, lo, hi)
    assert xt[0] == 0.025 and xt[-1] == hi and xa[0] == lo
    fa, ft = PchipInterpolator(np.log10(xa), ya), PchipInterpolator(np.log10(xt), yt)
    a, b = np.log10(max(lo, tc[0])), np.log10(hi)
    ref_psnr = quad(lambda x: ft(x) - fa(x), a, b, epsabs=1e-12)[0] / (b - a)
    assert r.bd_psnr_db == pytest.approx(ref_psnr, abs=1e-6)
    ref_cbr, _ = _independent_pchip_bd(xa, ya, xt, yt)
    assert r.bd_cbr_pct == pytest.approx(ref_cbr, abs=1e-6)
    assert "test covers CBR 0.025-0.15 of 0.018-0.15" in r.note


def test_bd_cbr_range_ignores_points_outside():
    """An extra test point far outside the range changes the overlap-only value, not the ranged one."""
    ac, aq = np.append(RANGE_CBR, 1.28), _concave(np.append(RANGE_CBR, 1.28))
    tc, tq = 0.85 * RANGE_CBR, _concave(RANGE_CBR) - 0.3 * np.log2(RANGE_CBR / 0.01) ** 0.5
    tc2, tq2 = np.append(tc, 1.0), np.append(tq, tq[-1] + 2.0)
    for rng in [(0.03, 0.1), (1 / 64, 1 / 16)]:
        r1 = bd_metrics(ac, aq, tc, tq, cbr_range=rng)
        r2 = bd_metrics(ac, aq, tc2, tq2, cbr_range=rng)
        assert (r2.bd_cbr_pct, r2.bd_psnr_db, r2.note) == (r1.bd_cbr_pct, r1.bd_psnr_db, r1.note)
    r1, r2 = bd_metrics(ac, aq, tc, tq), bd_metrics(ac, aq, tc2, tq2)
    assert abs(r2.bd_psnr_db - r1.bd_psnr_db) > 1e-3 and abs(r2.bd_cbr_pct - r1.bd_cbr_pct) > 1e-3


def test_bd_cbr_range_outside_or_short_curve():
    q = _concave(RANGE_CBR)
    r = bd_metrics(RANGE_CBR, q, RANGE_CBR[:4], q[:4] + 1, cbr_range=(0.1, 0.5))
    assert r.bd_cbr_pct is None and r.bd_psnr_db is None
    assert r.note == "test outside CBR range 0.1-0.5"
    # 0.04, 0.08 inside + interpolated 0.03 and 0.1 = 4 points: enough; 0.05-0.1 holds 0.08 + 2 boundaries
    assert bd_metrics(RANGE_CBR, q, RANGE_CBR, q + 1, cbr_range=(0.03, 0.1)).bd_psnr_db == pytest.approx(1.0)
    r = bd_metrics(RANGE_CBR, q, RANGE_CBR, q + 1, cbr_range=(0.05, 0.1))
    assert r.bd_psnr_db is None and "anchor has 3 points in CBR range 0.05-0.1 (<4)" in r.note
    assert bd_metrics(RANGE_CBR, q, RANGE_CBR, q + 1, min_points=3, cbr_range=(0.05, 0.1)).bd_psnr_db == \
        pytest.approx(1.0)
    for bad in [(0.1, 0.05), (0, 0.1), (0.1,), "0.1"]:
        with pytest.raises(ValueError, match="cbr_range"):
            bd_metrics(RANGE_CBR, q, RANGE_CBR, q, cbr_range=bad)


# --------------------------------------------------------------------------- synthetic results
IMAGES = ["a", "b", "c"]
IMG_OFF = {"a": -1.0, "b": 0.5, "c": 0.5}
TARGETS = [1 / 48, 1 / 32, 1 / 24, 1 / 16, 1 / 12]


def _quality(t, snr):
    return 25.0 + 4.0 * np.log2(t / 0.02) + 0.3 * snr


def _write_points(folder: Path, rows, run=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "points.csv", index=False)
    if run is not None:
        (folder / "run.json").write_text(json.dumps(run))
    return folder


def _rows(scheme, kind, snrs, rate_scale=1.0, offset=0.0, targets=TARGETS, **extra):
    out = []
    for snr in snrs:
        for t in targets:
            for im in IMAGES:
                out.append(dict(scheme=scheme, kind=kind, config=f"target_cbr={t:g}", snr_db=snr, image=im,
                                pixels=64 * 96, cbr=t * rate_scale, bits="", outage=0, target_cbr=t,
                                psnr=_quality(t, snr) + offset + IMG_OFF[im],
                                ms_ssim_db=_quality(t, snr) - 12 + offset + IMG_OFF[im], **extra))
    return out


@pytest.fixture
def two_schemes(tmp_path):
    rows = _rows("Ref", "bpg-ldpc", [5, 10], mcs="16qam-1/2") + _rows("Better", "ntscc", [5, 10], 0.8)
    return _write_points(tmp_path / "res", rows, run={"scenario": {"name": "t", "report": {"anchor": "Ref"}},
                                                      "versions": {"numpy": np.__version__},
                                                      "seed": 3, "git_commit": "deadbeef",
                                                      "timings": {"total_s": 1.5}})


def test_build_report_bd_csv_pinned(two_schemes):
    out = build_report(two_schemes, formats=("csv", "md", "tex"), figures=False)
    assert out["anchor"] == "Ref"  # from run.json
    text = (two_schemes / "bd.csv").read_text()
    df = pd.read_csv(two_schemes / "bd.csv", keep_default_na=False)
    assert list(df.columns) == ["scheme", "anchor", "snr_db", "metric", "bd_cbr_pct", "bd_psnr_db", "note"]
    assert "nan" not in text.lower()
    better = df[(df["scheme"] == "Better") & (df["metric"] == "psnr")]
    assert len(better) == 2
    np.testing.assert_allclose(better["bd_cbr_pct"].astype(float), -20.0, atol=1e-9)
    assert (better["bd_psnr_db"].astype(float) > 0).all()
    ref = df[df["scheme"] == "Ref"]
    np.testing.assert_allclose(ref["bd_cbr_pct"].astype(float), 0.0)
    assert set(df["metric"]) == {"psnr", "ms_ssim_db"}
    md = (two_schemes / "bd.md").read_text()
    assert "-20.00%" in md and "SNR = 10 dB" in md
    assert r"\multicolumn{2}{c}{SNR = 5 dB}" in (two_schemes / "bd.tex").read_text()


def test_bd_table_footnotes_ntscc_side_info(tmp_path):
    """Each NTSCC curve of the BD table says how its side information was sent (from run.json)."""
    rows = (_rows("Ref", "bpg-ldpc", [10], mcs="16qam-2/3") + _rows("NTSCC cap", "ntscc", [10], 0.8)
            + _rows("NTSCC ldpc", "ntscc", [10], 0.9))
    schemes = [{"name": "Ref", "kind": "bpg-ldpc"}, {"name": "NTSCC cap", "kind": "ntscc", "side_info": "capacity"},
               {"name": "NTSCC ldpc", "kind": "ntscc", "side_info": "16qam-2/3"}]
    res = _write_points(tmp_path / "res", rows, run={"scenario": {"name": "t", "schemes": schemes,
                                                                  "report": {"anchor": "Ref"}}})
    build_report(res, formats=("md", "tex"), figures=False)
    md = (res / "bd.md").read_text()
    for scheme, mode in (("NTSCC cap", "side_info: capacity"), ("NTSCC ldpc", "side_info: 16qam-2/3")):
        row = next(line for line in md.splitlines() if line.startswith(f"| {scheme} ["))
        k = row.split("[", 1)[1].split("]", 1)[0]
        note = next(line for line in md.splitlines() if line.startswith(f"[{k}] "))
        assert note.startswith(f"[{k}] {scheme}: side information") and mode in note
    assert "LDPC with 16qam-2/3; a decoding failure is an outage" in md
    assert "| Ref (anchor) |" in md  # only NTSCC curves get the note
    assert "side\\_info: capacity" in (res / "bd.tex").read_text()
    (res / "run.json").unlink()
    build_report(res, formats=("md",), figures=False)
    assert "side-information mode unknown" in (res / "bd.md").read_text()


def test_aggregation_means_in_db_and_t_interval(tmp_path):
    rows = [dict(scheme="S", snr_db=10, image=im, cbr=c, psnr=p)
            for im, c, p in [("x", 0.05, 20.0), ("y", 0.07, 40.0), ("z", 0.06, 33.0)]]
    rows.append(dict(scheme="S", snr_db=20, image="x", cbr=0.05, psnr=25.0))
    pts = read_points(_write_points(tmp_path / "r", rows))
    assert (pts["config"] == "cbr=0.05") .sum() == 2  # no config / target_cbr: keyed by rounded CBR
    rows = [dict(r, cbr=0.05) for r in rows]
    cur = aggregate_curves(read_points(_write_points(tmp_path / "r2", rows)))
    c10 = cur[cur["snr_db"] == 10].iloc[0]
    assert c10["psnr"] == pytest.approx(31.0)  # mean of dB values
    lo, hi = stats.t.interval(0.95, 2, loc=31.0, scale=np.std([20, 40, 33], ddof=1) / np.sqrt(3))
    assert c10["psnr_ci95"] == pytest.approx((hi - lo) / 2)
    c20 = cur[cur["snr_db"] == 20].iloc[0]
    assert c20["n_images"] == 1 and np.isnan(c20["psnr_ci95"])


def test_missing_points_and_nan_free_output(tmp_path):
    rows = _rows("Ref", "bpg-ldpc", [0, 10]) + _rows("Test", "deep-jscc", [10], 0.9)
    rows += _rows("Sparse", "ntscc", [0, 10], targets=TARGETS[:3])
    rows[0]["psnr"] = np.nan  # one missing measurement
    folder = _write_points(tmp_path / "res", rows)
    out = build_report(folder, anchor="Ref", formats=("csv",), figures=False)
    df = pd.read_csv(folder / "bd.csv", keep_default_na=False)
    assert "nan" not in (folder / "bd.csv").read_text().lower()
    num = df[["bd_cbr_pct", "bd_psnr_db"]]
    empty = (num == "").any(axis=1)
    assert (df.loc[empty, "note"] != "").all()  # every missing number says why
    sparse = df[(df["scheme"] == "Sparse") & (df["metric"] == "psnr")]
    assert (sparse["note"].str.contains(r"test has 3 points \(<4\)")).all()
    test0 = df[(df["scheme"] == "Test") & (df["snr_db"] == 0) & (df["metric"] == "psnr")]
    assert test0["note"].iloc[0] == "no PSNR points at this SNR"
    t10 = out["bd"].query("scheme == 'Test' and snr_db == 10 and metric == 'psnr'")
    assert t10["bd_cbr_pct"].iloc[0] == pytest.approx(-10.0, abs=1e-9)


def test_extra_anchor_and_min_points(tmp_path, capsys):
    """Every scheme is also compared with an extra anchor; min_points admits 3-point curves."""
    rows = (_rows("Ref", "bpg-ldpc", [10]) + _rows("Better", "ntscc", [10], 0.8)
            + _rows("Three", "deep-jscc", [10], 0.9, targets=TARGETS[1:4]))
    run = {"scenario": {"report": {"anchor": "Ref", "extra_anchors": ["Three"], "min_points": 3}}}
    folder = _write_points(tmp_path / "res", rows, run)
    out = build_report(folder, formats=("csv", "md"), figures=False)  # both from run.json
    assert out["extra_anchors"] == ["Three"] and out["min_points"] == 3
    bd = out["bd"].query("metric == 'psnr'").set_index(["anchor", "scheme"])
    # 3 points now suffice: Three has 10 % lower CBR than Ref, Better 20 % lower (same quality)
    assert bd.loc[("Ref", "Three"), "bd_cbr_pct"] == pytest.approx(-10.0, abs=1e-6)
    assert bd.loc[("Three", "Better"), "bd_cbr_pct"] == pytest.approx((0.8 / 0.9 - 1) * 100, abs=1e-6)
    assert bd.loc[("Three", "Ref"), "bd_psnr_db"] < 0 < bd.loc[("Three", "Better"), "bd_psnr_db"]
    md = (folder / "bd.md").read_text()
    assert "against Three" in md and "Three (anchor)" in md and "Ref (anchor)" in md
    # explicit arguments override run.json; the default of 4 points leaves Three without a value
    out4 = build_report(folder, extra_anchors=[], min_points=4, formats=("csv",), figures=False)
    assert out4["extra_anchors"] == [] and set(out4["bd"]["anchor"]) == {"Ref"}
    three = out4["bd"].query("scheme == 'Three' and metric == 'psnr'").iloc[0]
    assert np.isnan(three["bd_cbr_pct"]) and "test has 3 points (<4)" in three["note"]
    with pytest.raises(ReportInputError, match="extra anchor 'Nope'"):
        build_report(folder, extra_anchors=["Nope"], figures=False)
    assert cli_main([str(folder), "--no-figures", "--format", "csv", "--extra-anchor", "Better",
                     "--min-points", "3"]) == 0
    printed = capsys.readouterr().out
    assert "against Better" in printed and "also against: Better" in printed
    with pytest.raises(SystemExit):
        cli_main([str(folder), "--min-points", "2"])


def test_single_scheme_single_point(tmp_path):
    folder = _write_points(tmp_path / "one", [dict(scheme="Only", snr_db=10, image="a", cbr=0.05, psnr=30.0)])
    out = build_report(folder)
    assert out["anchor"] == "Only"
    assert out["bd"]["note"].str.contains(r"\(<4\)").all()
    assert any(p.endswith("rd_psnr_snr10dB.png") for p in out["figures"])
    assert (folder / "report.md").is_file() and (folder / "report.html").is_file()


def test_figures_written(tmp_path, monkeypatch):
    snrs, tg = [1, 5, 10], [1 / 24, 1 / 16]
    rows = _rows("NTSCC", "ntscc", snrs, 0.9, 1.0, targets=tg, train_snr_db=10)
    for snr in snrs:  # matched-training rows for the other SNRs
        if snr != 10:
            rows += [dict(r, train_snr_db=snr, psnr=r["psnr"] + 0.2)
                     for r in _rows("NTSCC", "ntscc", [snr], 0.9, 1.0, targets=tg)]
    for mcs, thr in (("qpsk-1/2", 0), ("16qam-1/2", 6)):
        for r in _rows("BPG + LDPC", "bpg-ldpc", snrs, targets=tg, mcs=mcs):
            ok = r["snr_db"] >= thr
            rows.append(dict(r, config=r["config"] + f";mcs={mcs}", bits=5000, outage=int(not ok),
                             psnr=r["psnr"] if ok else 12.0))
    folder = _write_points(tmp_path / "fig", rows)
    maps = folder / "figures" / "rate_maps"
    maps.mkdir(parents=True)
    from matplotlib.figure import Figure
    fig = Figure(figsize=(1, 1))
    fig.add_subplot().imshow(np.eye(4))
    fig.savefig(maps / "kodim01_rate.png")
    out = build_report(folder, anchor="bpg-ldpc")  # anchor given as a unique kind
    assert out["anchor"] == "BPG + LDPC"
    names = {Path(p).name for p in out["figures"]}
    for stem in ("rd_psnr_snr1dB", "rd_ms_ssim_db_snr10dB", "vs_snr_psnr_target_CBR_0.0625",
                 "cliff_psnr_target_CBR_0.0625", "outage_target_CBR_0.0625"):
        assert f"{stem}.png" in names
        png = folder / "figures" / f"{stem}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (folder / "figures" / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
    md = (folder / "report.md").read_text()
    assert "figures/rate_maps/kodim01_rate.png" in md and "figures/cliff_psnr_target_CBR_0.0625.png" in md
    html_text = (folder / "report.html").read_text()
    assert html_text.count("data:image/png;base64,") == len(out["figures"]) + 1
    # drawn by 2 forked workers: the same figures, byte for byte, in the same order
    serial = {p.name: p.read_bytes() for p in (folder / "figures").glob("*.p*")}
    import shutil
    shutil.rmtree(folder / "figures" / "rate_maps")
    for f in (folder / "figures").glob("*.p*"):
        f.unlink()
    import os

    from ntscc_sim.report import figures as figures_module

    drawn_by = tmp_path / "drawn_by"
    drawn_by.mkdir()
    save = figures_module._save

    def recording(fig, out_dir, stem):  # which process saved each figure (inherited by the forked workers)
        (drawn_by / f"{stem}.pid").write_text(str(os.getpid()))
        return save(fig, out_dir, stem)

    monkeypatch.setattr(figures_module, "_save", recording)
    again = build_report(folder, anchor="bpg-ldpc", workers=2)
    assert again["figures"] == out["figures"]
    assert {p.name: p.read_bytes() for p in (folder / "figures").glob("*.p*")} == serial
    pids = {f.read_text() for f in drawn_by.iterdir()}
    assert str(os.getpid()) not in pids and len(pids) == 2, "figures were not drawn by 2 worker processes"


def test_overlays(tmp_path):
    js = tmp_path / "ca.json"
    js.write_text(json.dumps({"name": "bmshj2018", "results": {"bpp": [0.1, 0.2, 0.4],
                                                               "psnr-rgb": [27.0, 29.0, 31.0],
                                                               "ms-ssim-rgb": [0.9, 0.95, 0.99]}}))
    cs = tmp_path / "ref.csv"
    pd.DataFrame({"cbr": [0.02, 0.05, 0.08], "psnr": [26.0, 30.0, 32.0], "name": "paper", "snr_db": 10}).to_csv(cs)
    a = load_overlay(js)[0]
    assert a.x_kind == "bpp" and a.snr_db is None
    np.testing.assert_allclose(a.ms_ssim_db, [10.0, -10 * np.log10(0.05), 20.0])
    b = load_overlay(cs)[0]
    assert (b.name, b.x_kind, b.snr_db) == ("paper", "cbr", 10.0)
    folder = _write_points(tmp_path / "ov", _rows("Ref", "ntscc", [5, 10], targets=[1 / 16]))
    out = build_report(folder, formats=("md",), overlays=[js, cs])
    assert "bmshj2018" in (folder / "report.md").read_text()
    assert any(p.endswith("rd_psnr_snr10dB.png") for p in out["figures"])
    with pytest.raises(ReportInputError, match="bad.json"):
        (tmp_path / "bad.json").write_text('{"results": {"psnr": [1]}}')
        load_overlay(tmp_path / "bad.json")


def test_input_errors(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert cli_main([str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(missing) in err
    bad = _write_points(tmp_path / "bad", [dict(scheme="S", snr_db=1, image="a", cbr=0.1)])
    assert cli_main([str(bad)]) == 2
    assert "psnr" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportInputError, match="points.csv not found"):
        build_report(tmp_path / "empty")
    ok = _write_points(tmp_path / "ok", _rows("A", "ntscc", [10]))
    with pytest.raises(ReportInputError, match="anchor 'Z'"):
        build_report(ok, anchor="Z", figures=False)


def test_cli_subprocess_exit_code(tmp_path, two_schemes):
    cmd = [sys.executable, "-m", "ntscc_sim.report"]
    r = subprocess.run(cmd + [str(tmp_path / "missing")], capture_output=True, text=True)
    assert r.returncode == 2 and str(tmp_path / "missing") in r.stderr
    r = subprocess.run(cmd + [str(two_schemes), "--format", "csv", "--no-figures", "--method", "akima"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "-20.00%" in r.stdout and (two_schemes / "bd.csv").is_file()


def test_outage_figure_with_all_outage_and_no_outage(tmp_path):
    """Outage rate exactly 0 and 1 (Wilson bounds round past p) must still plot."""
    import pandas as pd

    from ntscc_sim.report import build_report

    rows = []
    for snr in (0.0, 5.0, 10.0):
        for img in range(24):  # n = 24: the Wilson upper bound at p = 1 rounds just below 1
            for cbr in (0.02, 0.04, 0.08, 0.16):
                out = 1 if snr == 0.0 else 0
                rows.append({"scheme": "sep", "kind": "bpg-ldpc", "config": f"target_cbr={cbr}", "snr_db": snr,
                             "image": f"i{img}", "cbr": cbr * 0.97, "bits": 1000, "psnr": 10.0 if out else 30 + 20 * cbr + img * 0.1,
                             "outage": out, "target_cbr": cbr, "mcs": "16qam-2/3"})
    pd.DataFrame(rows).to_csv(tmp_path / "points.csv", index=False)
    result = build_report(tmp_path)
    figs = [str(f) for f in result["figures"]]
    assert any("outage" in f for f in figs)


def test_bd_cbr_range_cli_and_run_json(tmp_path, capsys):
    """report.bd_cbr_range (validated scenario in run.json) and --bd-cbr-range reach tables and captions."""
    from conftest import tiny_scenario

    from ntscc_sim.scenario import ScenarioError, validate_scenario

    rows = _rows("Ref", "bpg-ldpc", [10]) + _rows("Better", "ntscc", [10], 0.8, offset=0.5)
    for r in rows[len(rows) // 2:]:  # Better: a bent curve, so the range matters
        r["psnr"] -= 0.8 * np.log2(r["target_cbr"] / 0.02) ** 2
    data = validate_scenario(tiny_scenario(report={"bd_cbr_range": ["1/40", 0.07]})).data
    assert data["report"]["bd_cbr_range"] == [0.025, 0.07]
    folder = _write_points(tmp_path / "res", rows, {"scenario": {**data, "name": "t"}})
    out = build_report(folder, anchor="Ref", formats=("csv", "md"), figures=False)
    assert out["bd_cbr_range"] == (0.025, 0.07)
    md = (folder / "report.md").read_text()
    assert "(log-CBR axis, overlap within CBR 0.025–0.07)" in md and "| BD CBR range | 0.025–0.07 |" in md
    ranged = out["bd"].query("scheme == 'Better' and metric == 'psnr'").iloc[0]
    # explicit argument beats run.json; the range changes the value
    wide = build_report(folder, anchor="Ref", bd_cbr_range=(0.01, 0.2), formats=("csv",), figures=False)
    other = wide["bd"].query("scheme == 'Better' and metric == 'psnr'").iloc[0]
    assert wide["bd_cbr_range"] == (0.01, 0.2) and other["bd_cbr_pct"] != pytest.approx(ranged["bd_cbr_pct"])
    with pytest.raises(ReportInputError, match="bd_cbr_range"):
        build_report(folder, bd_cbr_range=(0.07, 0.025), figures=False)
    assert cli_main([str(folder), "--no-figures", "--format", "md", "--anchor", "Ref",
                     "--bd-cbr-range", "1/50", "0.05"]) == 0
    assert "(log-CBR axis, overlap within CBR 0.02–0.05)" in capsys.readouterr().out
    assert "overlap within CBR 0.02–0.05" in (folder / "bd.md").read_text()
    for bad in (["0.05", "0.02"], ["x", "0.05"], ["-1", "0.05"]):
        with pytest.raises(SystemExit) as exc:
            cli_main([str(folder), "--bd-cbr-range", *bad])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and "--bd-cbr-range" in err and bad[0] in err
    # a bad hand-written run.json value is an input error naming the key
    (folder / "run.json").write_text(json.dumps({"scenario": {"report": {"bd_cbr_range": [0.1]}}}))
    assert cli_main([str(folder), "--no-figures", "--format", "csv"]) == 2
    assert "report.bd_cbr_range" in capsys.readouterr().err
    with pytest.raises(ScenarioError, match=r"report\.bd_cbr_range.*\[0\.1, 0\.05\]"):
        validate_scenario(tiny_scenario(report={"bd_cbr_range": [0.1, 0.05]}))
