"""Model zoo: shipped checkpoints addressable by name.

Each entry is a folder ``ntscc_sim/zoo/checkpoints/<name>/`` with ``model.pt``
(weights + resolved training config, ``weights_only`` loadable), ``config.yaml``
(the training config), ``train_log.csv`` and ``metrics.json``. The recipes that
produced them live in ``ntscc_sim/zoo/configs/<name>.yaml``. Names spell out
model, dataset, channel, training SNR and rate, e.g.
``deepjscc-cifar10-awgn10-c8`` (deep JSCC, CIFAR-10, AWGN at 10 dB, c = 8 -> CBR 1/6).

``python -m ntscc_sim.zoo`` lists them.

Example
-------
>>> from ntscc_sim import zoo
>>> "deepjscc-cifar10-awgn10-c8" in zoo.names()
True
>>> task, model, config, meta = zoo.load("deepjscc-cifar10-awgn10-c8")
>>> config["model"]["c"]
8
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CHECKPOINT_DIR = ROOT / "checkpoints"
CONFIG_DIR = ROOT / "configs"
MODEL_FILE = "model.pt"


def names() -> list[str]:
    """Names of the shipped checkpoints (folders holding a ``model.pt``), sorted."""
    if not CHECKPOINT_DIR.is_dir():
        return []
    return sorted(p.name for p in CHECKPOINT_DIR.iterdir() if (p / MODEL_FILE).is_file())


def recipes() -> list[Path]:
    """Training configs shipped in ``ntscc_sim/zoo/configs``."""
    return sorted(CONFIG_DIR.glob("*.yaml")) if CONFIG_DIR.is_dir() else []


def resolve(name_or_path) -> Path:
    """Path of the checkpoint file for a zoo name, a checkpoint file or a run folder.

    Raises ``FileNotFoundError`` (with a "did you mean" hint for near-miss names).
    """
    text = str(name_or_path)
    entry = CHECKPOINT_DIR / text
    if "/" not in text and (entry / MODEL_FILE).is_file():
        return entry / MODEL_FILE
    p = Path(text).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        for f in (MODEL_FILE, "checkpoint.pt"):
            if (p / f).is_file():
                return p / f
        raise FileNotFoundError(f"no {MODEL_FILE} in folder {p}")
    from ..train.checkpoint import preloaded_path

    shipped = preloaded_path(p)  # not on this machine, but sent by the driver (Ray executor)
    if shipped is not None:
        return shipped
    hint = difflib.get_close_matches(text, names(), n=1)
    more = f" (did you mean {hint[0]!r}?)" if hint else f"; zoo names: {names()}"
    raise FileNotFoundError(f"checkpoint {text!r} is neither a zoo name nor a file{more}")


def load(name_or_path, device: str = "cpu"):
    """``(task, model, config, meta)`` of a zoo name or checkpoint path (see
    :func:`ntscc_sim.train.load_checkpoint`); the model is in eval mode on ``device``."""
    from ..train.checkpoint import load_checkpoint

    return load_checkpoint(resolve(name_or_path), device)


def _snr_text(spec) -> str:
    if isinstance(spec, (list, tuple)):
        return f"{spec[0]:g}..{spec[1]:g}"
    return f"{spec:g}"


def describe(name_or_path) -> dict:
    """One listing row: name, task, dataset, channel, train SNR, CBR / lambda, val PSNR, size."""
    from ..train.checkpoint import read_checkpoint
    from ..train.task import get_task

    path = resolve(name_or_path)
    ckpt = read_checkpoint(path)
    cfg = ckpt["config"]
    metrics = dict(ckpt.get("metrics") or {})
    mfile = path.parent / "metrics.json"
    if mfile.is_file():
        metrics.update(json.loads(mfile.read_text()))
    try:
        summary = get_task(ckpt["task"]).summary(cfg)
    except Exception:
        summary = {}
    model = cfg.get("model", {})
    lam = summary.get("lambda", model.get("lmbda", model.get("lambda")))
    data = cfg.get("data", {})
    ch = cfg.get("channel", {})
    return {
        "name": path.parent.name if path.name == MODEL_FILE else str(path),
        "task": ckpt["task"],
        "dataset": (f"{Path(data['path']).parent.name}/{Path(data['path']).name}" if data.get("kind") == "folder" else data.get("kind", ""))
        + (f" crop {data['crop']}" if data.get("crop") else ""),
        "channel": ch.get("kind", ""),
        "train_snr_db": _snr_text(ch["snr_db"]) if "snr_db" in ch else "",
        "cbr": summary.get("cbr", metrics.get("cbr")),
        "lambda": lam,
        "val_psnr": metrics.get("psnr"),
        "steps": ckpt.get("step"),
        "epochs": metrics.get("epoch", ckpt.get("epoch")),
        "complete": metrics.get("complete", True),
        "core_hours": (float(metrics["train_seconds"]) * int(metrics.get("threads") or cfg.get("threads") or 1) / 3600.0
                       if "train_seconds" in metrics else None),
        "val_images": metrics.get("val_images"),
        "val_split": (data.get("val_split", "test") if data.get("kind") == "cifar10"
                      else "/".join(Path(data.get("val_path") or data.get("path", "")).parts[-2:])),
        "size_mb": path.stat().st_size / 1e6,
        "path": str(path),
    }
