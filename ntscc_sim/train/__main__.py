"""``python -m ntscc_sim.train CONFIG.yaml [CONFIG.yaml ...]``: train models (docs/training.md).

Several configs are independent recipes (e.g. a lambda grid), each in its own run folder;
``--executor ray`` trains them in parallel as Ray tasks (docs/scaling.md).

Exit codes: 0 success, 2 invalid config or arguments (nothing written),
1 runtime failure, 130 interrupted (a checkpoint is saved; rerun with --resume).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m ntscc_sim.train",
                                description="Train a model from a YAML training config (docs/training.md).")
    p.add_argument("config", nargs="+", help="training config(s), e.g. ntscc_sim/zoo/configs/deepjscc-cifar10-awgn10-c8.yaml")
    p.add_argument("--out", help="output folder (default: runs/<name>); with several configs the parent folder (OUT/<name>)")
    p.add_argument("--resume", action="store_true", help="continue exactly from OUT/checkpoint.pt")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override the config's device")
    p.add_argument("--steps", type=int, help="override optim.steps")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (overrides the config)")
    p.add_argument("--time-limit", type=float, metavar="MINUTES",
                   help="stop after the step in progress once MINUTES of wall time have passed; writes a "
                        "resumable checkpoint, the weights so far and metrics.json, exits 0 (continue with --resume)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: the configs one after the other here (default); ray: one Ray task per config")
    p.add_argument("--address", help="ray: the cluster to join ('auto' or HOST:PORT); default: a local Ray instance")
    args = p.parse_args(argv)
    if args.address and args.executor != "ray":
        p.error("--address needs --executor ray")
    if args.steps is not None and args.steps < 1:
        p.error(f"--steps must be >= 1, got {args.steps}")
    if args.time_limit is not None and not args.time_limit > 0:
        p.error(f"--time-limit must be > 0 minutes, got {args.time_limit:g}")
    if args.threads is not None and args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if len(args.config) > 1 or args.executor != "local":
        return train_many(args)
    from ..scenario import ScenarioError
    from .loop import TrainUsageError, train

    try:
        metrics = train(args.config[0], out_dir=args.out, resume=args.resume, steps=args.steps, device=args.device,
                        threads=args.threads, progress=not args.quiet, time_limit=args.time_limit)
    except (ScenarioError, TrainUsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; the last finished step is saved — rerun with --resume to continue", file=sys.stderr)
        return 130
    except Exception as exc:
        traceback.print_exc()
        print(f"error: training failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(metrics, indent=2))
    return 0


def _recipes(args):
    """Validated recipes with distinct names and run folders; nothing is written."""
    from ..executors import TrainRecipe
    from ..scenario import ScenarioError
    from .checkpoint import RESUME_FILE
    from .config import load_config
    from .loop import TrainUsageError

    recipes, seen = [], {}
    for path in args.config:
        try:
            cfg = load_config(path)
        except ScenarioError as exc:
            raise TrainUsageError(f"{path}: {exc}") from None
        name = cfg["name"]
        if name in seen:
            raise TrainUsageError(f"{path}: name {name!r} is also the name of {seen[name]}; each recipe needs its own run folder")
        seen[name] = path
        if args.out:
            out = Path(args.out) / name if len(args.config) > 1 else Path(args.out)
        else:
            out = Path("runs") / name
        if (out / RESUME_FILE).exists() and not args.resume:
            raise TrainUsageError(f"{out} already holds a training run ({RESUME_FILE}); pass --resume to continue it or --out for a new folder")
        options = {"resume": args.resume, "steps": args.steps, "device": args.device, "threads": args.threads,
                   "time_limit": args.time_limit, "progress": not args.quiet}
        recipes.append(TrainRecipe(name, cfg, str(out), options, source=path))
    return recipes


def train_many(args) -> int:
    """Independent recipes through an executor; one progress bar over them on Ray."""
    from tqdm import tqdm

    from ..executors import ExecutorError, get_executor
    from .loop import TrainUsageError

    try:
        recipes = _recipes(args)
        executor = get_executor(args.executor, threads=args.threads or 1, address=args.address)
    except (TrainUsageError, ExecutorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results, failed = {}, []
    bar = tqdm(total=len(recipes), unit="run", disable=args.quiet or executor.name == "local", dynamic_ncols=True,
               file=sys.stderr, desc="training")
    try:
        for recipe, out in executor.map_training(recipes):
            if isinstance(out, BaseException):
                failed.append(recipe.name)
                print(f"error: training {recipe.name} ({recipe.source}) failed: {type(out).__name__}: {out}", file=sys.stderr)
            else:
                results[recipe.name] = {"out": recipe.out_dir, **out}
            bar.set_postfix_str(f"{executor.status()} | {recipe.name} done", refresh=False)
            bar.update(1)
    except KeyboardInterrupt:
        print("\ninterrupted; finished steps are saved — rerun with --resume to continue", file=sys.stderr)
        return 130
    finally:
        bar.close()
        executor.close()
    print(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
