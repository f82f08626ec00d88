"""The local executor: units in this process, or in a spawn pool of worker processes."""

from __future__ import annotations


class LocalExecutor:
    """Run units here (``workers == 1``) or in ``workers`` spawned processes; recipes one by one."""

    name = "local"

    def __init__(self, workers: int | None = None, threads: int = 1):
        self.workers = workers or 1
        self.threads = threads

    def status(self) -> str:
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}"

    def map_units(self, units, job):
        """Yield ``(unit, rows)`` as units finish."""
        from .. import sweep
        from .._threads import available_cpus

        if self.workers == 1 or len(units) <= 1:
            sweep.init_worker(job.scenario, job.device, job.out_dir, job.cache_dir, dataset=job.dataset,
                              kernel_threads=available_cpus())
            for u in units:
                yield u, sweep.run_unit(u)
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=sweep.init_worker,
                                 initargs=(job.scenario, job.device, job.out_dir, job.cache_dir, job.threads,
                                           None, max(1, available_cpus() // self.workers))) as pool:
            futures = {pool.submit(sweep.run_unit, u): u for u in units}
            try:
                for fut in as_completed(futures):
                    yield futures[fut], fut.result()
            finally:
                for fut in futures:
                    fut.cancel()

    def map_training(self, recipes):
        """Train the recipes one after the other; yield ``(recipe, metrics or exception)``."""
        from ..train import train

        for r in recipes:
            try:
                yield r, train(r.config, out_dir=r.out_dir, **r.options)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # reported by the driver, the next recipe still runs
                yield r, exc

    def close(self) -> None:
        pass
