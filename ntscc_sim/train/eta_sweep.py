"""``python -m ntscc_sim.train.eta_sweep CHECKPOINT...``: an NTSCC checkpoint's RD curve on its
*validation* images, for choosing between checkpoints without touching a test set.

For each checkpoint and each ``eta``: mean PSNR (uint8-rounded output, dB averaged over images)
and mean CBR (side information included, ``side_capacity`` of the training loss) over the
validation crops of the checkpoint's own config (``data.val_path``, ``val_limit``, ``val_crop``;
``--val-limit`` / ``--val-crop`` / ``--val-path`` override), at its training SNR or ``--snr``.
Noise is seeded per image index, so checkpoints are compared on the same noise. The last column,
the mean PSNR over the etas, is a one-number summary of the curve (equal CBR grids assumed:
check the CBR columns).

    python -m ntscc_sim.train.eta_sweep ntscc-bsds500-p16-awgn10-eta runs/x/checkpoint.pt --val-limit 32 --val-crop 256

Exit codes: 0 done, 2 bad argument.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys

DEFAULT_ETAS = (0.07, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m ntscc_sim.train.eta_sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", nargs="+", help="NTSCC checkpoints: zoo names, model.pt / checkpoint.pt files or run folders")
    p.add_argument("--etas", default=",".join(map(str, DEFAULT_ETAS)), help="comma-separated etas (default %(default)s)")
    p.add_argument("--snr", type=float, help="channel SNR in dB (default: the checkpoint's validation SNR)")
    p.add_argument("--val-path", help="validation images (default: the config's data.val_path)")
    p.add_argument("--val-limit", type=int, help="number of validation images (default: the config's)")
    p.add_argument("--val-crop", type=int, help="centre-crop size (default: the config's)")
    p.add_argument("--batch", type=int, default=8, help="images per forward pass (results do not depend on it)")
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    try:
        args.etas = [float(e) for e in args.etas.split(",")]
    except ValueError:
        p.error(f"--etas: expected comma-separated numbers, got {args.etas!r}")
    if not args.etas or any(e <= 0 for e in args.etas):
        p.error(f"--etas must be positive, got {args.etas}")
    for k in ("val_limit", "val_crop", "batch"):
        v = getattr(args, k)
        if v is not None and v < 1:
            p.error(f"--{k.replace('_', '-')} must be >= 1, got {v}")
    return args


def sweep(model, batches, etas, snr_db: float, channel) -> list[dict]:
    """``[{eta, psnr, cbr}]`` of ``model`` over ``batches`` (float ``[b, 3, H, W]`` in [0, 1]);
    image ``j``'s noise is seeded by ``j``."""
    import torch

    from .tasks.ntc import psnr_batch

    rows = []
    with torch.no_grad():
        for eta in etas:
            psnr = cbr = 0.0
            n = 0
            for x in batches:
                out = model(x, channel, snr_db, eta=eta, seeds=list(range(n, n + len(x))))
                psnr += psnr_batch(x, out["x_hat"]) * len(x)
                cbr += float(out["cbr"].sum())
                n += len(x)
            rows.append({"eta": eta, "psnr": psnr / n, "cbr": cbr / n})
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)

    from ntscc_sim import zoo

    from .data import as_batches, validation_images
    from .tasks.base import eval_snr, make_channel

    results = []
    for name in args.checkpoint:
        try:
            _, model, config, meta = zoo.load(name, "cpu", kind="ntscc")
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        cfg = copy.deepcopy(config)
        for key, value in (("val_path", args.val_path), ("val_limit", args.val_limit), ("val_crop", args.val_crop)):
            if value is not None:
                cfg["data"][key] = value
        try:
            val = validation_images(cfg)  # the training images are not read
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: validation images of {name}: {exc}", file=sys.stderr)
            return 2
        snr = eval_snr(cfg) if args.snr is None else args.snr
        rows = sweep(model, as_batches(val, args.batch), args.etas, snr, make_channel(cfg, "cpu"))
        mean = sum(r["psnr"] for r in rows) / len(rows)
        results.append({"checkpoint": name, "step": meta.get("step"), "images": len(val), "snr_db": snr,
                        "rows": rows, "mean_psnr": mean})
        curve = " ".join(f"{r['eta']:g}: {r['psnr']:.2f} dB @ {r['cbr']:.4f}" for r in rows)
        print(f"{name} (step {meta.get('step')}, {len(val)} images, {snr:g} dB) | {curve} | mean {mean:.3f} dB", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
