"""Deep JSCC model width vs training throughput on one core (how the Kodak recipe was sized).

Runs the real training loop (``ntscc_sim.train.train`` through ``train_throughput.measure``) of
one deep JSCC recipe with the hidden widths and GDN switched, fp32 against bf16 autocast +
``channels_last``, one thread, and prints crops/s, megapixels/s and the training loss after the
same number of crops side by side:

    python benchmarks/deepjscc_width_throughput.py                                  # Kodak recipe
    python benchmarks/deepjscc_width_throughput.py deepjscc-bsds500-awgn10-c3 --images 800

Numbers depend on the load of the machine: run it with nothing else busy (pause background
trainings with ``kill -STOP PID`` / ``kill -CONT PID``).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_throughput import measure, recipe_path  # noqa: E402

WIDTHS = ([16, 32, 32, 32], [32, 64, 64, 64], [64, 64, 64, 64], [64, 128, 128, 128])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recipe", nargs="?", default="deepjscc-bsds500-awgn10-c3", help="zoo recipe name or config path")
    p.add_argument("--images", type=int, default=400, help="training crops per variant (default 400)")
    args = p.parse_args(argv)
    from ntscc_sim.train.config import load_config

    cfg = load_config(recipe_path(args.recipe))
    if cfg["model"]["kind"] != "deep-jscc":
        p.error(f"{args.recipe}: model.kind is {cfg['model']['kind']!r}, not 'deep-jscc'")
    crop, bs = cfg["data"]["crop"], cfg["data"]["batch_size"]
    print(f"## {cfg['name']}: crop {crop}, batch {bs}, 1 thread, {args.images} crops per variant")
    print(f"| filters | GDN | precision | crops/s | Mpixel/s | loss after {args.images} crops |")
    print("|---|---|---|---:|---:|---:|")
    for filters in WIDTHS:
        for gdn in (False, True):
            for prec, cl in (("fp32", False), ("bf16", True)):
                c = copy.deepcopy(cfg)
                c["model"].update(filters=list(filters), gdn=gdn)
                c.update(precision=prec, channels_last=cl)
                r = measure(c, 1, args.images)
                label = f"{prec}{' + channels_last' if cl else ''}"
                print(f"| {'/'.join(map(str, filters))} | {'yes' if gdn else 'no'} | {label} | {r['img_s']:.1f} | "
                      f"{r['img_s'] * crop * crop / 1e6:.2f} | {r['loss']:.5g} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
