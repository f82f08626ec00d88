"""Training: ``python -m ntscc_sim.train CONFIG.yaml [--resume] [--out DIR] [--device D] [--steps N]``.

One generic loop (:mod:`.loop`) trains every model family; a family plugs in as a
:class:`~ntscc_sim.train.task.Task` selected by the config's ``model.kind``
(:data:`~ntscc_sim.train.task.TASKS`). Configs are validated strictly (:mod:`.config`),
checkpoints load with ``weights_only=True`` (:mod:`.checkpoint`). See docs/training.md.

Example
-------
>>> from ntscc_sim import zoo
>>> from ntscc_sim.train import train
>>> metrics = train("ntscc_sim/zoo/configs/deepjscc-cifar10-awgn10-c8.yaml", out_dir="runs/c8")  # doctest: +SKIP
>>> task, model, config, meta = zoo.load("runs/c8/model.pt", "cpu")                          # doctest: +SKIP
"""

from ..zoo import load as load_checkpoint  # the one loader; kept under its old name here
from .checkpoint import read_checkpoint
from .config import load_config, validate_config
from .loop import TrainUsageError, train
from .tasks import TASKS, Task, eval_snr, get_task, make_channel, train_snr

__all__ = [
    "TASKS",
    "Task",
    "TrainUsageError",
    "eval_snr",
    "get_task",
    "load_checkpoint",
    "load_config",
    "make_channel",
    "read_checkpoint",
    "train",
    "train_snr",
    "validate_config",
]
