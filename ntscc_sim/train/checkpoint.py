"""Checkpoint files: atomic writes, ``weights_only=True`` reads, rebuilding a model.

The format is documented in :mod:`ntscc_sim.train.task`. Only tensors and plain
Python types are stored (the config as a plain dict), so every checkpoint loads
with ``torch.load(path, weights_only=True)``.

Example
-------
>>> task, model, config, meta = load_checkpoint("runs/x/model.pt")    # doctest: +SKIP
>>> meta["step"], meta["metrics"]["psnr"]                               # doctest: +SKIP
(2000, 27.1)
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import torch

from .task import get_task

FORMAT = "ntscc_sim-checkpoint-v1"
MODEL_FILE = "model.pt"  # final weights (no optimiser state); what the zoo ships
RESUME_FILE = "checkpoint.pt"  # full state for --resume


def atomic_save(obj, path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def rng_state() -> dict:
    """Global torch RNG states as tensors."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def make_checkpoint(task_kind: str, config: dict, model, step: int, epoch: int, metrics: dict,
                    optimizer=None, extra: dict | None = None) -> dict:
    """The checkpoint dict (see :mod:`ntscc_sim.train.task`); ``optimizer=None`` for final weights."""
    ckpt = {
        "format": FORMAT,
        "task": task_kind,
        "config": config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "step": int(step),
        "epoch": int(epoch),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "torch_version": str(torch.__version__),
    }
    if optimizer is not None:
        ckpt["rng"] = rng_state()
    if extra:
        ckpt.update(extra)
    return ckpt


def checkpoint_file(path) -> Path:
    """``path`` itself if a file, else ``path/model.pt`` (or ``path/checkpoint.pt``)."""
    p = Path(path)
    if p.is_dir():
        for name in (MODEL_FILE, RESUME_FILE):
            if (p / name).is_file():
                return p / name
        raise FileNotFoundError(f"no {MODEL_FILE} or {RESUME_FILE} in {p}")
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint not found: {p}")
    return p


_PRELOADED: dict[str, bytes] = {}


def preload(files: dict) -> None:
    """Serve these checkpoint files from memory: ``{absolute path: file bytes}`` (e.g. shipped once
    through Ray's object store); :func:`read_checkpoint` of such a path reads no disk."""
    _PRELOADED.update({str(k): v for k, v in files.items()})


def preloaded_path(path) -> Path | None:
    """The preloaded checkpoint file behind ``path`` (a file or a run folder), or None."""
    p = Path(path).expanduser().absolute()
    for candidate in (p, p / MODEL_FILE, p / RESUME_FILE):
        if str(candidate) in _PRELOADED:
            return candidate
    return None


def read_checkpoint(path, map_location="cpu") -> dict:
    """The raw checkpoint dict, loaded with ``weights_only=True``."""
    data = _PRELOADED.get(str(Path(path).absolute()))
    if data is None and _PRELOADED:
        data = _PRELOADED.get(str(checkpoint_file(path).absolute()))
    source = io.BytesIO(data) if data is not None else checkpoint_file(path)
    ckpt = torch.load(source, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not an ntscc_sim checkpoint (format {FORMAT})")
    return ckpt


def load_checkpoint(path, device: str = "cpu"):
    """Rebuild the model of a checkpoint.

    Parameters
    ----------
    path : a checkpoint file, or a folder holding ``model.pt`` (e.g. a training
        output folder or a zoo entry; zoo *names* are resolved by :func:`ntscc_sim.zoo.load`).
    device : torch device for the model.

    Returns
    -------
    ``(task, model, config, meta)``: the :class:`~ntscc_sim.train.task.Task`, the model
    in eval mode on ``device``, the resolved training config (dict) and the remaining
    checkpoint fields (``step``, ``epoch``, ``metrics``, ``task``, ``created``, ...).
    """
    ckpt = read_checkpoint(path)
    task = get_task(ckpt["task"])
    config = ckpt["config"]
    model = task.build(config)
    model.load_state_dict(ckpt["state_dict"])
    model.to(device).eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "config", "rng")}
    return task, model, config, meta
