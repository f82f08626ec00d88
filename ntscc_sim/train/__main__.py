"""``python -m ntscc_sim.train CONFIG.yaml``: train a model (docs/training.md).

Exit codes: 0 success, 2 invalid config or arguments (nothing written),
1 runtime failure, 130 interrupted (a checkpoint is saved; rerun with --resume).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m ntscc_sim.train",
                                description="Train a model from a YAML training config (docs/training.md).")
    p.add_argument("config", help="training config, e.g. ntscc_sim/zoo/configs/deepjscc-cifar10-awgn10-c8.yaml")
    p.add_argument("--out", help="output folder (default: runs/<name>)")
    p.add_argument("--resume", action="store_true", help="continue exactly from OUT/checkpoint.pt")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override the config's device")
    p.add_argument("--steps", type=int, help="override optim.steps")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (overrides the config)")
    p.add_argument("--time-limit", type=float, metavar="MINUTES",
                   help="stop after the step in progress once MINUTES of wall time have passed; writes a "
                        "resumable checkpoint, the weights so far and metrics.json, exits 0 (continue with --resume)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        p.error(f"--steps must be >= 1, got {args.steps}")
    if args.time_limit is not None and not args.time_limit > 0:
        p.error(f"--time-limit must be > 0 minutes, got {args.time_limit:g}")
    if args.threads is not None and args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from ..scenario import ScenarioError
    from .loop import TrainUsageError, train

    try:
        metrics = train(args.config, out_dir=args.out, resume=args.resume, steps=args.steps, device=args.device,
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


if __name__ == "__main__":
    sys.exit(main())
