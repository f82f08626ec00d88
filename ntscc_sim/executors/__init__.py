"""Executors: where a sweep's work units and training recipes run.

Both executors have the same interface; the driver (``ntscc_sim.run``,
``ntscc_sim.train``) alone writes results.

* ``local`` (default): this process, or a spawn pool of ``--workers`` processes.
* ``ray``: one Ray task per work unit / training recipe, on a local Ray instance or
  a running cluster (``--address auto``); Ray is an optional extra and is imported
  only here, only when asked for (:mod:`.ray_executor`, docs/scaling.md).

Interface
---------
``map_units(units, job) -> iterator of (unit, rows)`` in completion order;
``map_training(recipes) -> iterator of (recipe, metrics or exception)``;
``status() -> str`` (resources in use, for the progress bar); ``close()``.

Example
-------
>>> from ntscc_sim.executors import get_executor
>>> ex = get_executor("local", workers=1)
>>> ex.name
'local'
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXECUTORS = ("local", "ray")


class ExecutorError(Exception):
    """An executor cannot be used as asked (e.g. Ray missing, bad address): exit code 2."""


@dataclass
class SweepJob:
    """What every worker needs to run units of one sweep.

    ``dataset`` and ``schemes`` live on the driver (the images and the schemes'
    read-only files are shipped to remote workers, see :meth:`Scheme.assets`).
    """

    scenario: dict
    device: str
    out_dir: str
    cache_dir: str
    threads: int
    dataset: object = None
    schemes: list = field(default_factory=list)


@dataclass
class TrainRecipe:
    """One training run: a validated config, its run folder and the ``train()`` options."""

    name: str
    config: dict
    out_dir: str
    options: dict = field(default_factory=dict)
    source: str = ""


def get_executor(name: str, **options):
    """The executor ``name`` (``local`` or ``ray``); Ray is imported only for ``ray``.

    Options: ``workers`` (processes / tasks in flight), ``threads`` (torch threads per
    process), ``address`` (ray only: ``auto``, ``HOST:PORT`` or ``ray://...``; none starts a
    local instance). Raises :class:`ExecutorError` when Ray is not installed.
    """
    if name == "local":
        from .local import LocalExecutor

        options.pop("address", None)
        return LocalExecutor(**options)
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(**options)
    raise ExecutorError(f"--executor: unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
