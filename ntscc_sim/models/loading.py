"""Load trained NTC / NTSCC models by zoo name or checkpoint path (cached per process)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = ["checkpoint_files", "load_model", "resolve_checkpoint"]


def resolve_checkpoint(name_or_path: str) -> str:
    """A zoo name (``ntscc_sim.zoo.resolve``) or a checkpoint file / folder -> checkpoint path."""
    p = Path(str(name_or_path)).expanduser()
    if p.exists():
        return str(p)
    try:
        from ntscc_sim.zoo import resolve
    except ImportError:  # zoo not installed: only paths work
        raise FileNotFoundError(f"checkpoint not found: {name_or_path}") from None
    return str(resolve(str(name_or_path)))


def checkpoint_files(names) -> list[str]:
    """Absolute paths of the checkpoint files behind zoo names / paths (a scheme's ``assets()``)."""
    from ntscc_sim.train.checkpoint import checkpoint_file

    names = [names] if isinstance(names, str) else names
    return [str(checkpoint_file(resolve_checkpoint(n)).absolute()) for n in names]


def checkpoint_list_check(label: str):
    """A scenario ``Field`` check: one checkpoint (zoo name or path) or a list -> list of names.

    Unknown checkpoints are scenario errors naming the key, e.g. ``schemes[0].checkpoint[1]``.
    """

    def check(value, key):
        from ntscc_sim.scenario import ScenarioError

        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, str) and v.strip() for v in items):
            raise ScenarioError(key, f"expected a checkpoint (zoo name or path) or a list of them, got {value!r}")
        for i, v in enumerate(items):
            try:
                resolve_checkpoint(v)
            except (FileNotFoundError, KeyError, ValueError) as exc:
                where = f"{key}[{i}]" if isinstance(value, list) else key
                raise ScenarioError(where, f"unknown {label} checkpoint {v!r}: {exc}") from None
        return list(items)

    return check


@lru_cache(maxsize=16)
def _load(path: str, device: str, kind: str | None):
    from ntscc_sim.train import load_checkpoint

    task, model, config, meta = load_checkpoint(path, device)
    if kind is not None and meta.get("task") != kind:
        raise ValueError(f"{path}: a {meta.get('task')!r} checkpoint, expected {kind!r}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, config, meta


def load_model(name_or_path: str, device: str = "cpu", kind: str | None = None):
    """``(model, config, meta)`` of a checkpoint, model in eval mode without gradients.

    ``kind`` (``ntc`` / ``ntscc``) checks the checkpoint's task. Results are cached, so
    do not modify the returned model.
    """
    return _load(resolve_checkpoint(name_or_path), str(device), kind)
