"""Training configs: a strict schema (unknown keys rejected with the key path and a hint).

A config is a YAML mapping with the sections below (docs/training.md lists every key)::

    name: deepjscc-cifar10-awgn10-c8
    seed: 0
    data:    {kind: cifar10, path: ../shared/data/cifar-10-batches-py, batch_size: 64}
    channel: {kind: awgn, snr_db: 10}            # or snr_db: [0, 20], drawn per batch
    model:   {kind: deep-jscc, c: 8}             # the rest is the task's MODEL_PARAMS
    optim:   {lr: 1.0e-3, steps: 2000, lr_milestones: [1500]}
    log:     {every: 50, val_every: 500, ckpt_every: 500}
    init:    null                                # checkpoint / zoo name to start from

Example
-------
>>> cfg = validate_config({"name": "t", "data": {"kind": "cifar10", "path": "x"},
...                        "channel": {"snr_db": 10}, "model": {"kind": "deep-jscc", "c": 2}})
>>> cfg["optim"]["lr"], cfg["model"]["c"]
(0.001, 2)
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import yaml

from ..channels.model import CHANNEL_KINDS, CSI_CHOICES
from ..scenario.errors import ScenarioError
from ..scenario.fields import Field, section, validate_mapping
from ..scenario.loader import COMMON_FIELDS
from .tasks import TASKS, get_task

DATA_KINDS = ("cifar10", "folder")


def _check_snr(value, key):
    """A number, or ``[lo, hi]`` with lo <= hi (uniform per batch)."""
    def num(v, k):
        return Field("number", min=-50, max=100).validate(v, k)

    if isinstance(value, list):
        if len(value) != 2:
            raise ScenarioError(key, f"expected a number or a range [lo, hi], got {value!r}")
        lo, hi = num(value[0], f"{key}[0]"), num(value[1], f"{key}[1]")
        if lo > hi:
            raise ScenarioError(key, f"range must be [lo, hi] with lo <= hi, got {value!r}")
        return [lo, hi]
    return num(value, key)


def _check_milestones(value, key):
    if sorted(value) != value or len(set(value)) != len(value):
        raise ScenarioError(key, f"milestones must be strictly increasing steps, got {value!r}")
    return value


DATA_SCHEMA = {
    "kind": Field("str", choices=DATA_KINDS, doc="cifar10 (python batches) | folder (images, random crops)"),
    "path": Field("str", doc="CIFAR-10 python-batch folder, or the folder of training images"),
    "val_path": Field("str", default=None, nullable=True,
                      doc="validation: cifar10 -> folder with test_batch (default: path); folder -> image folder (required)"),
    "crop": Field("int", default=None, nullable=True, min=8, doc="folder: random square crop size in pixels (required)"),
    "val_crop": Field("int", default=None, nullable=True, min=8, doc="folder: centre crop of validation images (default: crop)"),
    "batch_size": Field("int", default=32, min=1),
    "limit": Field("int", default=None, nullable=True, min=1, doc="use only the first N training images"),
    "val_limit": Field("int", default=256, min=1, doc="validation images (the first N)"),
    "val_split": Field("str", default="holdout", choices=("holdout", "test"),
                       doc="cifar10: holdout = the last val_limit training images, never trained on "
                           "(the test set stays unseen); test = the first val_limit test images"),
    "flip": Field("bool", default=True, doc="random horizontal flips"),
}

CHANNEL_SCHEMA = {
    "kind": Field("str", default="awgn", choices=CHANNEL_KINDS),
    "snr_db": Field("any", check=_check_snr, doc="training SNR in dB: a number or [lo, hi] drawn uniformly per batch"),
    "val_snr_db": Field("number", default=None, nullable=True, min=-50, max=100,
                        doc="validation SNR (default: snr_db, or the middle of its range)"),
    "csi": Field("str", default="perfect", choices=CSI_CHOICES),
    "coherence": Field("int", default=None, nullable=True, min=1, doc="rayleigh-block: symbols per fading block"),
}

OPTIM_SCHEMA = {
    "lr": Field("number", default=1e-3, min=0),
    "steps": Field("int", default=1000, min=1, doc="total optimiser steps"),
    "lr_milestones": Field("list", default=lambda: [], item=Field("int", min=1), check=_check_milestones,
                           doc="steps at which the learning rate is multiplied by lr_gamma"),
    "lr_gamma": Field("number", default=0.1, min=0),
    "grad_clip": Field("number", default=None, nullable=True, min=0, doc="max gradient norm (null: off)"),
    "weight_decay": Field("number", default=0.0, min=0),
}

LOG_SCHEMA = {
    "every": Field("int", default=50, min=1, doc="steps between train_log.csv rows"),
    "val_every": Field("int", default=500, min=1, doc="steps between validations (and at the end)"),
    "ckpt_every": Field("int", default=500, min=1, doc="steps between resumable checkpoints (and at the end)"),
    "tensorboard": Field("bool", default=True, doc="also write TensorBoard events if tensorboard is importable"),
}

TRAIN_SCHEMA = {
    **COMMON_FIELDS,
    "description": Field("str", default=None, nullable=True),
    "threads": Field("int", default=None, nullable=True, min=1, doc="torch.set_num_threads (null: torch default)"),
    "precision": Field("str", default="fp32", choices=("fp32", "bf16"),
                       doc="training forward pass: fp32, or bf16 autocast (CPU with AVX-512 BF16 / AMX, CUDA); validation is fp32"),
    "channels_last": Field("bool", default=False, doc="channels_last memory format for model and batches"),
    "compile": Field("bool", default=False, doc="torch.compile the model (nn.Module.compile; state-dict keys unchanged)"),
    "data": Field("map", schema=DATA_SCHEMA),
    "channel": Field("map", schema=CHANNEL_SCHEMA),
    "model": Field("any"),
    "optim": section(OPTIM_SCHEMA),
    "log": section(LOG_SCHEMA),
    "init": Field("str", default=None, nullable=True, doc="checkpoint path or zoo name to initialise from (Task.init_from)"),
}

#: Keys that may change between a checkpoint and ``--resume`` without breaking exactness.
RESUME_FREE = {("optim", "steps"), ("log",), ("threads",), ("device",), ("description",)}


def _validate_model(raw) -> dict:
    if not isinstance(raw, dict):
        raise ScenarioError("model", f"expected a mapping with 'kind', got {raw!r}")
    if "kind" not in raw:
        raise ScenarioError("model.kind", "missing required key")
    kind = raw["kind"]
    if kind not in TASKS:
        hint = difflib.get_close_matches(str(kind), list(TASKS), n=1)
        more = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ScenarioError("model.kind", f"unknown model kind {kind!r}; choose from {list(TASKS)}{more}")
    try:
        task = get_task(kind)
    except (ImportError, AttributeError) as exc:
        raise ScenarioError("model.kind", f"model kind {kind!r} is not available: {exc}") from None
    params = validate_mapping(raw, {"kind": Field("str"), **task.MODEL_PARAMS}, "model")
    return task.validate_model(params, "model")


def validate_config(raw) -> dict:
    """Validate a parsed training config; return the resolved dict (defaults filled).

    Raises :class:`ntscc_sim.scenario.ScenarioError` whose ``key`` is the key path.
    """
    if not isinstance(raw, dict):
        raise ScenarioError("", f"a training config must be a YAML mapping, got {type(raw).__name__}")
    cfg = validate_mapping(raw, TRAIN_SCHEMA, "")
    cfg["model"] = _validate_model(cfg["model"])
    data = cfg["data"]
    if data["kind"] == "folder":
        if data["crop"] is None:
            raise ScenarioError("data.crop", "data kind 'folder' needs a random-crop size, e.g. crop: 128")
        if data["val_path"] is None:
            raise ScenarioError("data.val_path", "data kind 'folder' needs a validation folder (val_path)")
    elif data["crop"] is not None or data["val_crop"] is not None:
        raise ScenarioError("data.crop", "crop / val_crop apply to data kind 'folder' only")
    return cfg


def load_config(path) -> dict:
    """Read and validate a training config YAML file."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError("", f"training config not found: {path}")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ScenarioError("", f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        raise ScenarioError("", f"{path}: training config is empty")
    return validate_config(raw)


def upgrade_config(config: dict) -> dict:
    """A checkpoint's stored config, resolved with today's schema.

    Keys added since the checkpoint was written get the value the run actually used, not
    today's default: a CIFAR-10 run without ``data.val_split`` predates hold-out validation
    and validated on the test set (``val_split: test``); new keys with no effect on old runs
    (``precision``, ``channels_last``, ``compile``) take their defaults.
    """
    cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    data = cfg.get("data") or {}
    if data.get("kind") == "cifar10" and "val_split" not in data:
        data["val_split"] = "test"
    return validate_config(cfg)


def resume_mismatch(old: dict, new: dict) -> str | None:
    """The first key path where two resolved configs differ in a way that breaks an exact resume."""

    def walk(a, b, path):
        if tuple(path) in RESUME_FREE or (path and (path[0],) in RESUME_FREE):
            return None
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b), key=str):
                d = walk(a.get(k), b.get(k), path + [k])
                if d:
                    return d
            return None
        return ".".join(map(str, path)) if a != b else None

    return walk(old, new, [])


def expand_path(path: str) -> str:
    """Expand ``~`` and ``$VARS`` in a data path."""
    return os.path.expanduser(os.path.expandvars(path))
