"""Training tasks: a model family's loss, config schema and evaluation, outside the model.

``python -m ntscc_sim.train CONFIG.yaml`` reads a config whose ``model.kind``
selects a :class:`Task` from :data:`TASKS`. The generic loop (ntscc_sim/train/loop.py)
owns data loading, the optimiser, logging, checkpoints and resume; a task owns the model's
construction, its loss and its evaluation. The models themselves (``ntscc_sim.models``,
``baselines.deep_jscc.model``) are plain ``nn.Module``s that know nothing of training.

* :mod:`.base` -- :class:`Task`, :func:`train_snr`, :func:`eval_snr`, :func:`make_channel`;
* :mod:`.ntc` -- ``ntc``: hyperprior NTC, ``L = R + lambda * D``;
* :mod:`.ntscc` -- ``ntscc``: NTSCC initialised from a pretrained NTC (Algorithm 1);
* ``baselines.deep_jscc.task`` -- ``deep-jscc`` (a baseline: registered by import path only).

Checkpoint format (loadable with ``torch.load(path, weights_only=True)``)::

    {"format": "ntscc_sim-checkpoint-v1", "task": kind, "config": <resolved config dict>,
     "state_dict": model.state_dict(), "step": int, "epoch": int,
     "optimizer": ..., "metrics": {...}}

A model is rebuilt from a checkpoint with ``get_task(ckpt["task"]).build(ckpt["config"])``
followed by ``load_state_dict`` (:func:`ntscc_sim.zoo.load` does both). ``checkpoint.pt``
(written during training, for ``--resume``) also holds ``"rng": {"torch": ByteTensor, ...}``;
the final ``model.pt`` has ``"optimizer": None``.

Randomness: the loop reseeds Python/torch/Sionna from ``(config["seed"], step)`` before
every step, so a task's random draws (channel noise via :class:`ntscc_sim.channels.Channel`,
dropout, ...) are reproducible and ``--resume`` is exact. Tasks draw the training SNR with
:func:`train_snr` and evaluate at :func:`eval_snr`; :func:`make_channel` builds the
configured channel.
"""

from __future__ import annotations

import importlib

from .base import Task, eval_snr, make_channel, train_snr

__all__ = ["TASKS", "Task", "eval_snr", "get_task", "make_channel", "train_snr"]

# model.kind (the "task" string stored in every checkpoint) -> "module:Class", imported lazily
TASKS: dict[str, str] = {
    "deep-jscc": "baselines.deep_jscc.task:DeepJSCCTask",
    "ntc": "ntscc_sim.train.tasks.ntc:NTCTask",
    "ntscc": "ntscc_sim.train.tasks.ntscc:NTSCCTask",
}


def get_task(kind: str) -> Task:
    """A new :class:`Task` of ``model.kind`` ``kind`` (``KeyError`` for an unknown kind)."""
    module, _, name = TASKS[kind].partition(":")
    return getattr(importlib.import_module(module), name)()
