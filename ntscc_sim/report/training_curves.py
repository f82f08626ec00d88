"""Learning curves from training run folders: validation PSNR (and loss) against images seen.

Reads only ``train_log.csv`` and ``config.yaml`` (batch size, name) of each run folder, e.g. a
zoo entry ``ntscc_sim/zoo/checkpoints/<name>/`` or a training ``--out`` folder; images seen =
the row's ``images`` column where the log has one (cumulative training crops, written when a
model's batch size changed between training phases), else ``step * data.batch_size``.

    python -m ntscc_sim.report.training_curves RUN [RUN ...] --out curves.png [--metric val_psnr]

Example
-------
>>> curves = read_curves(["ntscc_sim/zoo/checkpoints/deepjscc-cifar10-awgn10-c8"])  # doctest: +SKIP
>>> curves[0]["name"], curves[0]["images"][-1], curves[0]["values"][-1]           # doctest: +SKIP
('deepjscc-cifar10-awgn10-c8', 5120000, 27.9)
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import yaml


class CurveInputError(ValueError):
    """A run folder without a readable ``train_log.csv`` / ``config.yaml`` (exit code 2)."""


def read_curve(run_dir, metric: str = "val_psnr") -> dict:
    """``{"name", "images": [...], "values": [...], "batch_size"}`` of one run folder."""
    run = Path(run_dir)
    log, cfg_file = run / "train_log.csv", run / "config.yaml"
    for f in (log, cfg_file):
        if not f.is_file():
            raise CurveInputError(f"{f}: not found (expected a training run folder)")
    cfg = yaml.safe_load(cfg_file.read_text())
    batch = int(cfg["data"]["batch_size"])
    images, values = [], []
    with open(log, newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get(metric) not in (None, ""):
                seen = row.get("images")
                images.append(int(float(seen)) if seen not in (None, "") else int(float(row["step"])) * batch)
                values.append(float(row[metric]))
    return {"name": cfg.get("name", run.name), "images": images, "values": values, "batch_size": batch}


def read_curves(run_dirs, metric: str = "val_psnr") -> list[dict]:
    return [read_curve(r, metric) for r in run_dirs]


def plot_curves(curves: list[dict], out, metric: str = "val_psnr", title: str | None = None) -> Path:
    """One line per run, images seen (log x) against ``metric``; written to ``out`` (png/pdf/svg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for c in curves:
        if c["images"]:
            ax.plot(c["images"], c["values"], marker="o", markersize=3, label=c["name"])
    ax.set_xscale("log")
    ax.set_xlabel("training images seen")
    ax.set_ylabel({"val_psnr": "validation PSNR (dB)", "val_loss": "validation loss"}.get(metric, metric))
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or "Learning curves (validation set held out from training)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ntscc_sim.report.training_curves", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="training run folders (train_log.csv + config.yaml)")
    p.add_argument("--out", required=True, help="figure file (.png, .pdf, .svg)")
    p.add_argument("--metric", default="val_psnr", help="train_log.csv column (default val_psnr)")
    p.add_argument("--title", default=None)
    a = p.parse_args(argv)
    try:
        curves = read_curves(a.runs, a.metric)
    except CurveInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(plot_curves(curves, a.out, a.metric, a.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
