"""Checkpoint files: atomic writes and ``weights_only=True`` reads.

The format is documented in :mod:`ntscc_sim.train.tasks`. Only tensors and plain
Python types are stored (the config as a plain dict), so every checkpoint loads
with ``torch.load(path, weights_only=True)``.

Example
-------
>>> ckpt = read_checkpoint("runs/x/model.pt")                 # doctest: +SKIP
>>> ckpt["task"], ckpt["step"], ckpt["metrics"]["psnr"]           # doctest: +SKIP
('deep-jscc', 2000, 27.1)

Models are rebuilt from checkpoints by :func:`ntscc_sim.zoo.load` (zoo names or paths).
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import torch

from ..files import atomic_write

FORMAT = "ntscc_sim-checkpoint-v1"
MODEL_FILE = "model.pt"  # final weights (no optimiser state); what the zoo ships
RESUME_FILE = "checkpoint.pt"  # full state for --resume


def atomic_save(obj, path) -> None:
    """``torch.save`` of ``obj``, written to ``path`` with :func:`ntscc_sim.files.atomic_write`."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write(path, buf.getvalue())


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
    """The checkpoint dict (see :mod:`ntscc_sim.train.tasks`); ``optimizer=None`` for final weights."""
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
