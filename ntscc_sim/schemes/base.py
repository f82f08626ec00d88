"""The Scheme interface every transmission scheme implements.

A sweep is a set of independent, serialisable work units
``(scheme, configuration, snr_db, image ids) -> one result row per image``
(:class:`ntscc_sim.sweep.WorkUnit`). A scheme declares its scenario parameters
(``PARAMS``), expands them into configurations (e.g. one per target CBR and MCS)
and computes rows for a unit. All randomness must come from the per-image seeds
passed in, so that results do not depend on batching or workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..scenario.fields import Field

# Columns common to every row of points.csv, in order.
# ``payload_bits``: digital bits of the source bitstream sent (separation schemes; NaN for analog
# schemes); ``side_bits``: side information (NTSCC: z string + rate indices; NaN where none).
BASE_COLUMNS = ("scheme", "kind", "config", "snr_db", "image", "pixels", "cbr", "payload_bits", "side_bits",
                "psnr", "ms_ssim_db", "outage")


def _fmt(v) -> str:
    if isinstance(v, float):
        return repr(round(v, 10))
    return str(v)


def config_key(config: dict) -> str:
    """Canonical string for a configuration, e.g. ``target_cbr=0.0625;mcs=16qam-2/3``."""
    return ";".join(f"{k}={_fmt(v)}" for k, v in config.items())


@dataclass
class SchemeContext:
    """What a scheme may use: the resolved channel section, device, scenario seed, cache folder.

    ``shared``: per-process scratch common to the schemes of one run (e.g. NTSCC's
    SNR-independent transmitter memos, reused by every ``ntscc`` entry with the same checkpoint).
    """

    channel: dict
    device: str = "cpu"
    seed: int = 0
    cache_dir: str | None = None
    dataset: dict = field(default_factory=dict)
    out_dir: str | None = None
    options: dict = field(default_factory=dict)
    metrics: tuple = ("psnr", "ms_ssim")
    shared: dict = field(default_factory=dict, repr=False, compare=False)


class Scheme:
    """Base class. Subclasses set ``kind``, ``PARAMS``, ``PARAM_COLUMNS`` and implement
    :meth:`configurations` and :meth:`run`.

    ``run(config, snr_db, images, seeds)`` receives ``images`` as a list of
    ``(image_id, uint8 [H, W, 3])`` and ``seeds`` as one int per image, and returns
    one dict per image with at least ``cbr, psnr, ms_ssim_db, outage``, the
    ``payload_bits`` / ``side_bits`` that apply (others are NaN) and the scheme's
    ``PARAM_COLUMNS``. ``PER_IMAGE_COLUMNS`` are parameter columns chosen per image
    (e.g. the BPG QP picked by rate matching): ``summary.csv`` never averages them.
    """

    kind: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Field]] = {}
    PARAM_COLUMNS: ClassVar[tuple[str, ...]] = ()
    PER_IMAGE_COLUMNS: ClassVar[tuple[str, ...]] = ()
    digital: ClassVar[bool] = False
    # Bump when a change of this scheme's code changes its numbers: rows computed by an older
    # version are then refused (or recomputed with --overwrite), never reused (ntscc_sim.provenance).
    version: ClassVar[str] = "1"
    uses_gpu: ClassVar[bool] = False  # learned models: a GPU task on a cluster that has GPUs

    def __init__(self, name: str, params: dict, context: SchemeContext):
        self.name = name
        self.params = params
        self.context = context

    @classmethod
    def check_params(cls, params: dict, path: str, scenario: dict) -> dict:
        """Cross-field checks after schema validation; raise ScenarioError naming the key."""
        return params

    def fingerprint(self) -> dict:
        """Parameters that change results of existing points (sweep axes excluded)."""
        return dict(self.params)

    def checkpoints(self) -> list[str]:
        """Checkpoints (zoo names or paths) this scheme's results depend on; their SHA-256
        enters the fingerprint."""
        return list(self.params.get("checkpoint") or [])

    def configurations(self) -> list[dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    def setup(self) -> None:
        """Load models, warm caches; called once per process before the first unit."""

    def assets(self) -> list[str]:
        """Heavy read-only files that :meth:`setup`/:meth:`run` read, as absolute paths; a distributed
        executor ships them to its workers once (:func:`ntscc_sim.train.checkpoint.preload`).
        Default: the files of :meth:`checkpoints`."""
        from ..zoo import checkpoint_files

        return checkpoint_files(self.checkpoints())

    def run(self, config: dict, snr_db: float, images: list[tuple[str, np.ndarray]], seeds: list[int]) -> list[dict]:  # pragma: no cover
        raise NotImplementedError

    def row_name(self, config: dict) -> str:
        """Display name written in the ``scheme`` column for ``config`` (default: the scheme name)."""
        return self.name

    def derived_rows(self, points) -> list[dict]:
        """Rows derived from finished points (e.g. an MCS envelope); ``points`` is the whole
        points table (pandas); return full rows with ``derived = 1``."""
        return []

    def describe(self) -> str:
        return f"{self.name} ({self.kind})"
