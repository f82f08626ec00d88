"""``python -m ntscc_sim.train.index_prior CHECKPOINT``: fit an NTSCC checkpoint's index prior.

Training does this at its end (:meth:`NTSCCTask.calibrate
<ntscc_sim.train.tasks.ntscc.NTSCCTask.calibrate>`); this command fits it for a checkpoint
written without one (older code, or weights copied from a run in progress). It counts
``P(index | predicted index)`` on the checkpoint's own *training* images (its config's
``data:`` section; ``--data-path`` if they moved) and rewrites the checkpoint file with the
counts in ``index_counts`` and a ``calibration`` record. The weights are untouched; the
file's hash, hence every result fingerprint that uses it, changes.

    python -m ntscc_sim.train.index_prior /path/to/run/model.pt --batches 64

Exit codes: 0 done, 2 bad argument (nothing written).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m ntscc_sim.train.index_prior", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="NTSCC checkpoint: zoo name, model.pt / checkpoint.pt, or run folder")
    p.add_argument("--batches", type=int, default=None, help="training batches to count (default: the task's, 64)")
    p.add_argument("--data-path", help="where the checkpoint's training images are now (overrides data.path)")
    p.add_argument("--out", help="write here instead of rewriting the checkpoint file")
    args = p.parse_args(argv)
    if args.batches is not None and args.batches < 1:
        p.error(f"--batches must be >= 1, got {args.batches}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from ntscc_sim import zoo

    from .checkpoint import atomic_save, read_checkpoint
    from .data import TrainData
    from .tasks import get_task

    try:
        path = zoo.resolve(args.checkpoint)
        ckpt = read_checkpoint(path)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if ckpt.get("task") != "ntscc":
        print(f"error: {args.checkpoint}: a {ckpt.get('task')!r} checkpoint; the index prior is for ntscc ones", file=sys.stderr)
        return 2
    config = copy.deepcopy(ckpt["config"])
    if args.data_path:
        config["data"]["path"] = args.data_path
    try:
        data = TrainData(config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: training images of {args.checkpoint} (data.path {config['data']['path']!r}; give --data-path): {exc}",
              file=sys.stderr)
        return 2
    task = get_task("ntscc")
    model = task.build(ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    with torch.no_grad():
        record = task.calibrate(model, data, config, batches=args.batches)
    if not record:
        print(f"error: {args.checkpoint} has no rate adaptation, so no rate indices to code", file=sys.stderr)
        return 2
    ckpt["state_dict"]["index_counts"] = model.index_counts.detach().cpu().clone()
    ckpt["calibration"] = record
    atomic_save(ckpt, args.out or path)
    print(json.dumps({"checkpoint": str(args.out or path), **record}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
