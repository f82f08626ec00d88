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
import functools
import json
import os
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


def checkpoint_files(names) -> list[str]:
    """Absolute paths of the checkpoint files behind zoo names / paths (a scheme's ``assets()``)."""
    from ..train.checkpoint import checkpoint_file

    names = [names] if isinstance(names, str) else names
    return [str(checkpoint_file(resolve(n)).absolute()) for n in names]


def read(name_or_path) -> dict:
    """The raw checkpoint dict (``task``, ``config``, ``state_dict``, ``metrics``, ...) of a zoo name or path."""
    from ..train.checkpoint import read_checkpoint

    return read_checkpoint(resolve(name_or_path))


def load(name_or_path, device: str = "cpu", kind: str | None = None, cache: bool = False):
    """Rebuild the model of a zoo name, a checkpoint file or a run folder: the one checkpoint loader.

    Parameters
    ----------
    name_or_path : zoo name, checkpoint file or folder holding ``model.pt`` (or ``checkpoint.pt``).
    device : torch device of the model.
    kind : expected task (``ntc``, ``ntscc``, ``deep-jscc``); ``ValueError`` for another one.
    cache : share one frozen model (eval mode, no gradients) per (checkpoint file version,
        device) in this process; do not modify it. A file rewritten since (new size or
        modification time) is loaded again.

    Returns
    -------
    ``(task, model, config, meta)``: the :class:`~ntscc_sim.train.tasks.Task` that built it, the
    model in eval mode on ``device``, the resolved training config (dict) and the remaining
    checkpoint fields (``step``, ``epoch``, ``metrics``, ``task``, ``created``, ...).
    """
    path = str(resolve(name_or_path))
    if cache:
        st = os.stat(path)
        loaded = _load_shared(path, str(device), st.st_size, st.st_mtime_ns)
    else:
        loaded = _load(path, str(device))
    if kind is not None and loaded[3].get("task") != kind:
        raise ValueError(f"{name_or_path}: a {loaded[3].get('task')!r} checkpoint, expected {kind!r}")
    return loaded


def _load(path: str, device: str):
    from ..train.checkpoint import read_checkpoint
    from ..train.tasks import get_task

    ckpt = read_checkpoint(path)
    task = get_task(ckpt["task"])
    config = ckpt["config"]
    model = task.build(config)
    model.load_state_dict(ckpt["state_dict"])
    model.to(device).eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "config", "rng")}
    return task, model, config, meta


@functools.lru_cache(maxsize=16)
def _load_shared(path: str, device: str, size: int, mtime_ns: int):
    """Cached :func:`_load`; ``size`` and ``mtime_ns`` key the file's version."""
    task, model, config, meta = _load(path, device)
    for p in model.parameters():
        p.requires_grad_(False)
    return task, model, config, meta


def checkpoint_list_check(label: str):
    """A scenario ``Field`` check: one checkpoint (zoo name or path) or a list -> list of names.

    Unknown checkpoints are scenario errors naming the key, e.g. ``schemes[0].checkpoint[1]``.
    """

    def check(value, key):
        from ..scenario.errors import ScenarioError

        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, str) and v.strip() for v in items):
            raise ScenarioError(key, f"expected a checkpoint (zoo name or path) or a list of them, got {value!r}")
        for i, v in enumerate(items):
            try:
                resolve(v)
            except (FileNotFoundError, KeyError, ValueError) as exc:
                where = f"{key}[{i}]" if isinstance(value, list) else key
                raise ScenarioError(where, f"unknown {label} checkpoint {v!r}: {exc}") from None
        return list(items)

    return check


def _snr_text(spec) -> str:
    if isinstance(spec, (list, tuple)):
        return f"{spec[0]:g}..{spec[1]:g}"
    return f"{spec:g}"


def describe(name_or_path) -> dict:
    """One listing row: name, task, dataset, channel, train SNR, CBR / lambda, val PSNR, size."""
    from ..train.tasks import get_task

    path = resolve(name_or_path)
    ckpt = read(path)
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
