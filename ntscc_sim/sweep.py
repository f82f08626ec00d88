"""Sweep expansion and execution.

A :class:`WorkUnit` is an independent, serialisable unit of work — one scheme
configuration at one SNR on a handful of images — that maps its inputs to one
result row per image. Units run through an executor (:mod:`ntscc_sim.executors`):
this process, a pool of worker processes (``--workers``) or Ray tasks; per-image
seeds come from :func:`ntscc_sim.config.derive_seed` so the numbers never depend
on the grouping.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from .config import derive_seed, resolve_device
from .datasets import build_dataset
from .schemes.base import BASE_COLUMNS, SchemeContext, config_key
from .schemes.registry import get_scheme_class
from .store import snr_text


@dataclass(frozen=True)
class WorkUnit:
    """Inputs of one unit: scheme index/name, configuration, SNR and image ids."""

    scheme_index: int
    scheme: str
    kind: str
    config: tuple  # ((key, value), ...) to stay hashable and serialisable
    snr_db: float
    images: tuple

    @property
    def config_dict(self) -> dict:
        return dict(self.config)

    @property
    def config_key(self) -> str:
        return config_key(self.config_dict)

    def to_dict(self) -> dict:
        return asdict(self)


def build_schemes(scenario: dict, device: str, out_dir=None, cache_dir=None):
    """Instantiate every scheme of a validated scenario (no heavy setup yet)."""
    ctx = SchemeContext(
        channel=scenario["channel"],
        device=device,
        seed=scenario["seed"],
        cache_dir=cache_dir,
        dataset=scenario["dataset"],
        out_dir=str(out_dir) if out_dir else None,
        options=scenario.get("run", {}),
        metrics=tuple(scenario.get("metrics", ("psnr", "ms_ssim"))),
    )
    schemes = []
    for spec in scenario["schemes"]:
        params = {k: v for k, v in spec.items() if k not in ("name", "kind")}
        schemes.append(get_scheme_class(spec["kind"])(spec["name"], params, ctx))
    return schemes


def columns_for(schemes) -> list[str]:
    cols = list(BASE_COLUMNS)
    for s in schemes:
        for c in s.PARAM_COLUMNS:
            if c not in cols:
                cols.append(c)
    cols.append("derived")
    return cols


def expand(scenario: dict, schemes, image_ids, batch_images: int):
    """All work units of the sweep and the canonical order of result keys."""
    units, order = [], []
    for si, scheme in enumerate(schemes):
        for cfg in scheme.configurations():
            ckey = config_key(cfg)
            row_name = scheme.row_name(cfg)
            for snr in scenario["snr_db"]:
                for img in image_ids:
                    order.append((row_name, ckey, snr_text(snr), img))
                for start in range(0, len(image_ids), batch_images):
                    chunk = tuple(image_ids[start : start + batch_images])
                    units.append(WorkUnit(si, row_name, scheme.kind, tuple(cfg.items()), float(snr), chunk))
    return units, order


def image_seed(scenario_seed: int, unit: WorkUnit, image_id: str) -> int:
    return derive_seed(scenario_seed, unit.scheme, unit.config_key, snr_text(unit.snr_db), image_id)


# --- execution ------------------------------------------------------------------
_STATE: dict = {}


def init_worker(scenario: dict, device: str, out_dir, cache_dir, threads: int | None = None, dataset=None,
                kernel_threads: int = 1) -> None:
    """Per-process setup: dataset (built from the scenario unless given), schemes (lazily set up on
    first use), torch ``threads`` and the numba kernels' ``kernel_threads``."""
    from ._threads import set_kernel_threads

    set_kernel_threads(kernel_threads)
    if threads:
        import torch

        torch.set_num_threads(threads)
    _STATE["scenario"] = scenario
    _STATE["dataset"] = dataset if dataset is not None else build_dataset(scenario["dataset"])
    _STATE["schemes"] = build_schemes(scenario, resolve_device(device), out_dir, cache_dir)
    _STATE["ready"] = set()


def run_unit(unit: WorkUnit) -> list[dict]:
    """Compute the rows of one unit in this process (after :func:`init_worker`)."""
    scheme = _STATE["schemes"][unit.scheme_index]
    if unit.scheme_index not in _STATE["ready"]:
        scheme.setup()
        _STATE["ready"].add(unit.scheme_index)
    ds = _STATE["dataset"]
    seed = _STATE["scenario"]["seed"]
    images = [(i, ds.get(i)) for i in unit.images]
    seeds = [image_seed(seed, unit, i) for i in unit.images]
    cfg = unit.config_dict
    results = scheme.run(cfg, unit.snr_db, images, seeds)
    rows = []
    for (image_id, img), res in zip(images, results):
        row = {
            "scheme": unit.scheme,
            "kind": unit.kind,
            "config": unit.config_key,
            "snr_db": float(unit.snr_db),
            "image": image_id,
            "pixels": int(img.shape[0] * img.shape[1]),
            "derived": 0,
        }
        row.update(cfg)
        row.update(res)
        rows.append(row)
    return rows


def default_cache_dir() -> str:
    return os.environ.get("NTSCC_SIM_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "ntscc_sim"))
