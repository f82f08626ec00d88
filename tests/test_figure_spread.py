"""Figures stay readable at small n: no 95 % t-intervals over 3 images (they span tens of dB),
the images themselves instead; intervals from CI_MIN_IMAGES images on; captions say which."""

import numpy as np
import pandas as pd
import pytest

from ntscc_sim.report import build_report
from ntscc_sim.report.data import aggregate_curves, read_points, target_groups
from ntscc_sim.report.figures import CI_MIN_IMAGES, ImageValues, rd_figure, snr_figure
from ntscc_sim.report.style import SchemeStyles

SPREAD = [-12.0, 0.0, 12.0]  # per-image offsets: a t-interval over 3 images is +-51.6 dB


def _points(folder, n_images):
    offs = (SPREAD * n_images)[:n_images]
    rows = []
    for scheme, kind, base in (("A", "bpg-capacity", 30.0), ("B", "deep-jscc", 26.0)):
        for t in (1 / 24, 1 / 12):
            for snr in (5.0, 10.0):
                for i, off in enumerate(offs):
                    rows.append(dict(scheme=scheme, kind=kind, config=f"target_cbr={t:g}", snr_db=snr, image=f"i{i}",
                                     cbr=t, target_cbr=t, outage=0, psnr=base + 40 * t + 0.2 * snr + off))
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "points.csv", index=False)
    return read_points(folder)


def _y_extent(fig):
    lo, hi = fig.axes[0].get_ylim()
    return lo, hi


def test_three_images_no_wide_intervals(tmp_path):
    pts = _points(tmp_path / "r", 3)
    curves = aggregate_curves(pts)
    styles = SchemeStyles([("A", "bpg-capacity"), ("B", "deep-jscc")])
    lo, hi = pts["psnr"].min(), pts["psnr"].max()
    for fig in (rd_figure(curves, 10.0, "psnr", styles), snr_figure(target_groups(curves)[0][1], "t", "psnr", styles)):
        ylo, yhi = _y_extent(fig)
        assert ylo > lo - 5 and yhi < hi + 5, f"intervals blow the axis up: {ylo:.1f}..{yhi:.1f} for data {lo}..{hi}"
    # with the points, every image is drawn (faint markers), still without intervals
    fig = rd_figure(curves, 10.0, "psnr", styles, images=ImageValues(pts))
    ax = fig.axes[0]
    drawn = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())])
    want = pts[pts["snr_db"] == 10.0]["psnr"].to_numpy()
    assert sorted(np.round(drawn, 6)) == sorted(np.round(want, 6))
    assert "each image" in ax.get_title()


def test_intervals_from_enough_images(tmp_path):
    pts = _points(tmp_path / "r", CI_MIN_IMAGES)
    curves = aggregate_curves(pts)
    fig = rd_figure(curves, 10.0, "psnr", SchemeStyles([("A", "bpg-capacity"), ("B", "deep-jscc")]), images=ImageValues(pts))
    ax = fig.axes[0]
    bars = [c for c in ax.containers if getattr(c, "has_yerr", False)]
    assert len(bars) == 2, "95 % intervals are drawn for n >= CI_MIN_IMAGES"
    assert not [c for c in ax.collections if type(c).__name__ == "PathCollection" and len(c.get_offsets())]
    assert "95 % CI" in ax.get_title()


@pytest.mark.parametrize("n, words", [(3, "individual images (n = 3)"), (CI_MIN_IMAGES, "95 % t-intervals over images")])
def test_captions_say_how_spread_is_shown(tmp_path, n, words):
    _points(tmp_path / "r", n)
    out = build_report(tmp_path / "r", formats=("md",))
    report = (tmp_path / "r" / "report.md").read_text()
    assert words in report and out["figures"]
