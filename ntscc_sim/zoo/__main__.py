"""``python -m ntscc_sim.zoo``: list the shipped checkpoints (``--json`` for machine-readable output)."""

from __future__ import annotations

import argparse
import json
import sys

from . import describe, names, recipes


def _fmt(v, spec="") -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return format(v, spec or ".4g")
    return str(v)


def markdown_table(rows: list[dict]) -> str:
    """One row per checkpoint: what it saw (data, steps, epochs, core-hours) and its validation result."""
    head = "| model | data | steps | epochs | core-hours | validation | val PSNR (dB) | CBR / lambda |"
    lines = [head, "|---|---|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        rate = f"CBR {_fmt(r['cbr'], '.4f')}" if r.get("cbr") is not None else f"λ {_fmt(r['lambda'])}"
        steps = f"{r['steps']}" + ("" if r.get("complete", True) else " (running)")
        lines.append(f"| {r['name']} | {r['dataset']} | {steps} | {_fmt(r['epochs'])} | {_fmt(r['core_hours'], '.2f')} | "
                     f"{_fmt(r['val_images'])} imgs, {r['val_split']} | {_fmt(r['val_psnr'], '.2f')} | {rate} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ntscc_sim.zoo", description="List the shipped model checkpoints.")
    p.add_argument("--json", action="store_true", help="print JSON rows")
    p.add_argument("--markdown", action="store_true",
                   help="a Markdown table with data, steps, epochs, core-hours and validation metrics (docs/training.md)")
    p.add_argument("--recipes", action="store_true", help="list the training recipes (ntscc_sim/zoo/configs) instead")
    args = p.parse_args(argv)
    if args.recipes:
        for r in recipes():
            print(r)
        return 0
    rows = [describe(n) for n in names()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if args.markdown:
        print(markdown_table(rows))
        return 0
    cols = [("name", "name", ""), ("task", "task", ""), ("dataset", "dataset", ""), ("channel", "channel", ""),
            ("train_snr_db", "SNR dB", ""), ("cbr", "CBR", ".4f"), ("lambda", "lambda", ".4g"),
            ("val_psnr", "val PSNR", ".2f"), ("steps", "steps", ""), ("size_mb", "MB", ".2f")]
    table = [[h for _, h, _ in cols]] + [[_fmt(r[k], s) for k, _, s in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    for i, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if not rows:
        print("(no checkpoints shipped)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
