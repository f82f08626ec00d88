"""The Ray executor: one Ray task per work unit or training recipe (docs/scaling.md).

* ``address=None`` starts a local Ray instance (``workers`` CPUs if given); ``"auto"``
  joins the cluster running on this machine (``ray start --head``); ``HOST:PORT`` or
  ``ray://HOST:10001`` join a remote one.
* Resources come from the scheme: one CPU per unit; learned schemes
  (:attr:`Scheme.uses_gpu`) get a GPU each when the cluster has GPUs and the scenario
  device is ``auto`` or ``cuda``.
* Images and the schemes' read-only files (:meth:`Scheme.assets`, e.g. checkpoints)
  go through the object store once (``ray.put``); tasks receive references.
* Tasks return rows; the driver alone writes ``points.csv``. A task whose worker dies is
  retried (``max_retries``); its rows only exist once it succeeds, so they never appear twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from . import ExecutorError

INSTALL_HINT = ("--executor ray needs Ray, an optional extra: pip install -e '.[ray]' "
                "(or pip install -r requirements-ray.txt); see docs/install.md")
MAX_RETRIES = 3


def import_ray():
    """``import ray`` or :class:`ExecutorError` with how to install it."""
    try:
        import ray
    except ImportError:
        raise ExecutorError(INSTALL_HINT) from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast on an unreachable ``HOST:PORT`` (Ray itself retries for minutes)."""
    import socket

    if address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except (OSError, ValueError) as exc:
        raise ExecutorError(f"--address {address}: no Ray cluster answers there ({exc}); start one with "
                            "`ray start --head` or omit --address for a local instance") from None


# --- what runs in a Ray worker -------------------------------------------------------------
def _run_unit_task(token: str, setup: dict, images: dict, assets: dict, unit):
    """Rows of one unit; the worker process sets itself up once per sweep (``token``)."""
    from .. import sweep

    if sweep._STATE.get("token") != token:
        from ..datasets import InMemoryImages
        from ..train.checkpoint import preload

        preload(assets)
        sweep.init_worker(setup["scenario"], setup["device"], setup["out_dir"], setup["cache_dir"],
                          setup["threads"], dataset=InMemoryImages(images))
        sweep._STATE["token"] = token
    return sweep.run_unit(unit)


def _train_task(recipe, device: str):
    """Train one recipe in its own run folder (resumes its own checkpoint after a retry)."""
    from ..train import train

    options = dict(recipe.options, device=device, progress=False)
    # the driver refused existing runs unless --resume: a checkpoint here is this task's own
    options["resume"] = True
    return train(recipe.config, out_dir=recipe.out_dir, **options)


class RayExecutor:
    """Work units and training recipes as Ray tasks (see the module docstring)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, threads: int = 1,
                 max_retries: int = MAX_RETRIES):
        self.ray = import_ray()
        self.address = address
        self.workers = workers
        self.threads = threads
        self.max_retries = max_retries
        self._owns = False
        self._status, self._status_t = "", 0.0
        ray = self.ray
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "logging_level": "WARNING"}
            if address:
                _check_reachable(address)
                kwargs["address"] = address
            elif workers:
                kwargs["num_cpus"] = workers
            try:
                ray.init(**kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = f"--address {address}: cannot connect to a Ray cluster" if address else "cannot start a local Ray instance"
                raise ExecutorError(f"{where} ({exc}); start one with `ray start --head`, or omit --address "
                                    "for a local instance") from None
            self._owns = True
        resources = ray.cluster_resources()
        self.cpus = int(resources.get("CPU", 0))
        self.gpus = int(resources.get("GPU", 0))

    # -- progress ---------------------------------------------------------------------------
    def status(self) -> str:
        """``CPU used/total GPU used/total`` of the cluster (refreshed at most every 2 s)."""
        now = time.time()
        if now - self._status_t > 2.0:
            free = self.ray.available_resources()
            cpu_used = self.cpus - int(free.get("CPU", 0))
            text = f"ray: {cpu_used}/{self.cpus} CPU"
            if self.gpus:
                text += f", {self.gpus - int(free.get('GPU', 0))}/{self.gpus} GPU"
            self._status, self._status_t = text, now
        return self._status

    # -- resources ----------------------------------------------------------------------------
    def _device_and_gpus(self, wants_gpu: bool, device: str) -> tuple[str, int]:
        """(device string for the task, GPUs to request)."""
        if device == "cuda" and not self.gpus:
            raise ExecutorError("device: 'cuda' was asked for but the Ray cluster has no GPU")
        if self.gpus and (device == "cuda" or (device == "auto" and wants_gpu)):
            return "cuda", 1
        return "cpu", 0

    def _max_in_flight(self) -> int:
        if self.workers and self.address:
            return self.workers
        return max(2, 2 * (self.cpus + self.gpus))

    # -- sweeps ---------------------------------------------------------------------------------
    def map_units(self, units, job):
        """Yield ``(unit, rows)`` as tasks finish (completion order)."""
        ray = self.ray
        wanted = {i for u in units for i in u.images}
        images_ref = ray.put({i: job.dataset.get(i) for i in job.dataset.ids if i in wanted})
        used = {u.scheme_index for u in units}
        assets = {}
        for si in sorted(used):
            for path in job.schemes[si].assets():
                assets.setdefault(path, Path(path).read_bytes())
        assets_ref = ray.put(assets)
        device = job.scenario["device"]
        remotes, setups, tokens = {}, {}, {}
        for si in used:
            dev, gpus = self._device_and_gpus(job.schemes[si].uses_gpu, device)
            if dev not in setups:
                setups[dev] = {"scenario": job.scenario, "device": dev, "out_dir": job.out_dir,
                               "cache_dir": job.cache_dir, "threads": job.threads}
                tokens[dev] = hashlib.sha256(json.dumps(setups[dev], sort_keys=True, default=str).encode()).hexdigest()
            # max_calls=0: a worker keeps its set-up schemes for all the units it runs (GPU ones too)
            remotes[si] = (ray.remote(max_calls=0)(_run_unit_task).options(
                num_cpus=1, num_gpus=gpus, max_retries=self.max_retries, retry_exceptions=False,
                name=f"ntscc_sim.unit[{job.schemes[si].name}]"), dev)
        queue = list(reversed(units))
        in_flight: dict = {}
        try:
            while queue or in_flight:
                while queue and len(in_flight) < self._max_in_flight():
                    u = queue.pop()
                    fn, dev = remotes[u.scheme_index]
                    in_flight[fn.remote(tokens[dev], setups[dev], images_ref, assets_ref, u)] = u
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
                for ref in done:
                    u = in_flight.pop(ref)
                    yield u, self._get(ref, f"unit {u.scheme} {u.config_key} {u.snr_db:g} dB {list(u.images)}")
        finally:
            self._cancel(in_flight)

    def _cancel(self, refs) -> None:
        """Stop the tasks still running (driver interrupted or a unit failed)."""
        for ref in refs:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # already finished, or Ray is shutting down
                pass

    def _get(self, ref, what: str):
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:  # an exception inside the task: re-raise it
            cause = exc.as_instanceof_cause()
            raise RuntimeError(f"{what} failed on a Ray worker: {type(cause).__name__}: {cause}") from exc
        except self.ray.exceptions.RayError as exc:  # worker/node lost after max_retries
            raise RuntimeError(f"{what}: the Ray task failed after {self.max_retries} retries: {exc}") from exc

    # -- training ---------------------------------------------------------------------------------
    def map_training(self, recipes):
        """One task per recipe, with ``threads`` CPUs and a GPU each when the cluster has GPUs;
        yield ``(recipe, metrics or exception)`` as they finish."""
        ray = self.ray
        in_flight = {}
        for r in recipes:
            dev, gpus = self._device_and_gpus(True, r.options.get("device") or r.config.get("device", "auto"))
            cpus = r.options.get("threads") or r.config.get("threads") or 1
            fn = ray.remote(_train_task).options(num_cpus=min(cpus, max(self.cpus, 1)), num_gpus=gpus,
                                                 max_retries=self.max_retries, retry_exceptions=False,
                                                 name=f"ntscc_sim.train[{r.name}]")
            in_flight[fn.remote(r, dev)] = r
        try:
            while in_flight:
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
                for ref in done:
                    r = in_flight.pop(ref)
                    try:
                        yield r, self._get(ref, f"training {r.name}")
                    except RuntimeError as exc:
                        yield r, exc
        finally:
            self._cancel(in_flight)

    def close(self) -> None:
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()
