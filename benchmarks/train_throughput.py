"""Training throughput (images/s) and loss per step of each recipe under several settings.

Every variant runs the real training loop (``ntscc_sim.train.train``: data, loss, backward,
Adam step; validation excluded) for the same number of steps from the same seed, so the
table shows speed and, side by side, the training loss reached after the same images.

Variants (each a change of one recipe; rows are printed as they finish):

* ``threads``: 1 thread against all cores (``torch.get_num_threads()`` at start-up)
* ``batch``: 16, 32, 64 (loss compared after the same number of *images*: steps scale)
* ``precision``: fp32 against bf16 autocast (``precision: bf16``)
* ``channels_last``
* ``compile``: ``torch.compile`` of the model (config ``compile: true``; only with ``--compile``:
  its warm-up is counted, so give it enough ``--images``)

    python benchmarks/train_throughput.py                                  # shipped CIFAR recipes
    python benchmarks/train_throughput.py ntscc_sim/zoo/configs/X.yaml --images 8000

Numbers depend on the load of the machine: run it with nothing else busy (pause background
trainings with ``kill -STOP PID`` / ``kill -CONT PID``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RECIPES = ["deepjscc-cifar10-awgn10-c8", "ntc-cifar10-lam0.018", "ntscc-cifar10-eta"]


def recipe_path(name: str) -> Path:
    p = Path(name)
    return p if p.suffix in (".yaml", ".yml") else REPO / "ntscc_sim" / "zoo" / "configs" / f"{name}.yaml"


def variants(cfg: dict, all_threads: int, with_compile: bool):
    """(label, config, threads) triples: the recipe as shipped, then one change at a time."""
    base = copy.deepcopy(cfg)
    base.update(precision="fp32", channels_last=False)
    yield "fp32, 1 thread, batch {}".format(base["data"]["batch_size"]), base, 1
    yield f"fp32, {all_threads} threads", base, all_threads
    for bs in (16, 32, 64):
        if bs != base["data"]["batch_size"]:
            c = copy.deepcopy(base)
            c["data"]["batch_size"] = bs
            yield f"fp32, 1 thread, batch {bs}", c, 1
    yield "bf16 autocast, 1 thread", {**base, "precision": "bf16"}, 1
    yield "channels_last, 1 thread", {**base, "channels_last": True}, 1
    yield "bf16 + channels_last, 1 thread", {**base, "precision": "bf16", "channels_last": True}, 1
    yield f"bf16 + channels_last, {all_threads} threads", {**base, "precision": "bf16", "channels_last": True}, all_threads
    if with_compile:
        yield "torch.compile, 1 thread", {**base, "compile": True}, 1


def measure(cfg: dict, threads: int, images: int) -> dict:
    from ntscc_sim.train import train

    cfg = copy.deepcopy(cfg)
    bs = cfg["data"]["batch_size"]
    steps = max(1, images // bs)
    cfg["optim"].update(steps=steps, lr_milestones=[])
    cfg["log"].update(every=steps, val_every=10**9, ckpt_every=10**9, tensorboard=False)
    cfg["data"]["val_limit"] = min(cfg["data"].get("val_limit") or 8, 8)
    cfg["init"] = None  # speed does not depend on the initial weights
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        train(cfg, Path(tmp) / "run", threads=threads, progress=False)
        with open(Path(tmp) / "run" / "train_log.csv", newline="") as f:
            last = list(csv.DictReader(f))[-1]
        wall = time.time() - t0
    seconds = float(last["seconds"])
    return {"img_s": steps * bs / seconds, "loss": float(last["loss"]), "steps": steps, "wall": wall}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("recipes", nargs="*", default=DEFAULT_RECIPES, help="zoo recipe names or config paths")
    p.add_argument("--images", type=int, default=6400, help="training images per variant (default 6400)")
    p.add_argument("--compile", action="store_true", help="also measure torch.compile")
    args = p.parse_args(argv)
    from ntscc_sim.train.config import load_config

    all_threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {all_threads} threads available; {args.images} images per variant\n")
    for name in args.recipes:
        cfg = load_config(recipe_path(name))
        print(f"## {cfg['name']}  (shipped: batch {cfg['data']['batch_size']}, {cfg.get('precision', 'fp32')}, "
              f"channels_last {cfg.get('channels_last', False)})")
        print(f"| variant | images/s | train loss after {args.images} images | vs first row |")
        print("|---|---:|---:|---:|")
        ref = None
        for label, c, threads in variants(cfg, all_threads, args.compile):
            try:
                r = measure(c, threads, args.images)
            except Exception as exc:  # e.g. an op without a bf16 kernel
                print(f"| {label} | failed: {type(exc).__name__}: {str(exc)[:60]} | | |")
                continue
            ref = ref or r["img_s"]
            print(f"| {label} | {r['img_s']:.0f} | {r['loss']:.5g} | {r['img_s'] / ref:.2f}x |", flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
