"""The training-task interface shared by every trainable model (deep JSCC, NTC, NTSCC, ...),
and helpers for tasks (:func:`train_snr`, :func:`eval_snr`, :func:`make_channel`).

See :mod:`ntscc_sim.train.tasks` for the checkpoint format and the registry.
"""

from __future__ import annotations

from typing import ClassVar

import torch


class Task:
    """One trainable model family.

    Subclasses define ``MODEL_PARAMS`` (a ``ntscc_sim.scenario.Field`` schema for
    the config's ``model:`` section, validated strictly) and implement the methods below.
    """

    kind: ClassVar[str] = ""
    MODEL_PARAMS: ClassVar[dict] = {}

    def build(self, config: dict) -> torch.nn.Module:
        """Create the model from a resolved config (``config["model"]``, ``config["channel"]``...)."""
        raise NotImplementedError

    def loss(self, model: torch.nn.Module, batch: torch.Tensor, config: dict, step: int) -> tuple[torch.Tensor, dict]:
        """Training loss on ``batch`` (float [B, 3, H, W] in [0, 1]) and a dict of floats to log."""
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, batch: torch.Tensor, config: dict) -> dict:
        """Validation metrics on a batch (e.g. psnr, cbr, loss)."""
        raise NotImplementedError

    def parameter_groups(self, model: torch.nn.Module, config: dict):
        """Optimiser parameter groups (override e.g. for CompressAI's auxiliary loss)."""
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]

    def after_step(self, model: torch.nn.Module, config: dict, step: int) -> dict:
        """Hook after each optimiser step (e.g. auxiliary-loss step); returns values to log."""
        return {}

    def finalize(self, model: torch.nn.Module, config: dict) -> None:
        """Before saving a final checkpoint (e.g. CompressAI ``model.update()``)."""

    def calibrate(self, model: torch.nn.Module, data, config: dict) -> dict:
        """After :meth:`finalize`: fit what the model estimates from training images rather
        than learns by gradient (e.g. NTSCC's index prior). ``data`` is the run's
        :class:`~ntscc_sim.train.data.TrainData`; returns a record stored in the checkpoint
        (``{}``: nothing fitted)."""
        return {}

    # --- optional hooks (defaults keep older tasks working) ---------------------------
    def validate_model(self, params: dict, path: str) -> dict:
        """Cross-field checks on the schema-validated ``model:`` section; raise
        :class:`ntscc_sim.scenario.ScenarioError` naming ``f"{path}.<key>"``; return the resolved dict."""
        return params

    def init_from(self, model: torch.nn.Module, ckpt: dict, config: dict) -> dict:
        """Initialise ``model`` from another checkpoint (config key ``init:``), e.g. NTSCC
        starting from a pretrained NTC (Algorithm 1). ``ckpt`` is the raw checkpoint dict.

        Default: copy every tensor whose name and shape match; returns
        ``{"loaded": [...], "skipped": [...]}``. Raises ``ValueError`` if nothing matched.
        """
        own = model.state_dict()
        src = ckpt["state_dict"]
        loaded = [k for k, v in src.items() if k in own and tuple(own[k].shape) == tuple(v.shape)]
        if not loaded:
            raise ValueError("init: no parameter of the checkpoint matches this model (names and shapes)")
        own.update({k: src[k] for k in loaded})
        model.load_state_dict(own)
        return {"loaded": loaded, "skipped": [k for k in own if k not in loaded]}

    def warnings(self, config: dict) -> list[str]:
        """Legal but probably unintended settings of a resolved config, printed when training
        starts (e.g. a crop too small to exercise part of the model)."""
        return []

    def summary(self, config: dict) -> dict:
        """Short description for the model zoo listing, e.g. ``{"cbr": 1/6}`` or ``{"lambda": 0.01}``."""
        return {}


# --- helpers for tasks ------------------------------------------------------------------
def train_snr(config: dict, step: int) -> float:
    """Training SNR (dB) of ``step``: ``channel.snr_db`` if a number, else uniform in
    ``[lo, hi]``, drawn from ``(seed, step)`` only (one SNR per batch; reproducible on resume)."""
    spec = config["channel"]["snr_db"]
    if not isinstance(spec, (list, tuple)):
        return float(spec)
    from ntscc_sim.config import derive_seed

    lo, hi = float(spec[0]), float(spec[1])
    gen = torch.Generator().manual_seed(derive_seed(config.get("seed", 0), "train-snr", int(step)))
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def eval_snr(config: dict) -> float:
    """Validation SNR (dB): ``channel.val_snr_db``, else the training SNR (or the middle of its range)."""
    ch = config["channel"]
    if ch.get("val_snr_db") is not None:
        return float(ch["val_snr_db"])
    spec = ch["snr_db"]
    if isinstance(spec, (list, tuple)):
        return (float(spec[0]) + float(spec[1])) / 2.0
    return float(spec)


def make_channel(config: dict, device: str = "cpu"):
    """The :class:`ntscc_sim.channels.Channel` of the config's ``channel:`` section."""
    from ntscc_sim.channels import Channel

    ch = config["channel"]
    return Channel(ch.get("kind", "awgn"), ch.get("csi", "perfect"), ch.get("coherence"), str(device))
