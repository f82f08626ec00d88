"""What a result row was computed with, and whether an output folder's rows still match.

The *fingerprint* of a sweep (stored in ``run.json``) holds the seed, dataset and channel,
and per scheme its kind, result-changing parameters, the package and scheme code versions
and the SHA-256 of every checkpoint it uses. Rows computed under another fingerprint are
never mixed with new ones: :func:`conflicts` names what changed so that the run can stop
(exit 2) or, with ``--overwrite``, drop exactly the affected rows.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

__all__ = ["checkpoint_sha256", "fingerprint", "conflicts", "merge"]

GLOBAL_KEYS = ("seed", "dataset", "channel")
_HASHES: dict[tuple, str] = {}


def checkpoint_sha256(name_or_path) -> str:
    """SHA-256 (hex) of the file a zoo name / checkpoint path resolves to, cached per
    ``(path, size, mtime)`` so a rewritten file is hashed again."""
    from .zoo import resolve

    path = os.path.realpath(resolve(str(name_or_path)))
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def scheme_fingerprint(scheme) -> dict:
    """``{kind, params, version, checkpoints}`` of one scheme (see module docstring)."""
    from . import __version__

    return {
        "kind": scheme.kind,
        "params": scheme.fingerprint(),
        "version": {"ntscc_sim": __version__, "scheme": scheme.version},
        "checkpoints": {str(c): checkpoint_sha256(c) for c in scheme.checkpoints()},
    }


def fingerprint(scenario: dict, schemes) -> dict:
    """What must match for rows in the same folder to be comparable (JSON-normalised)."""
    fp = {
        "seed": scenario["seed"],
        "dataset": {k: v for k, v in scenario["dataset"].items() if k != "limit"},
        "channel": scenario["channel"],
        "schemes": {s.name: scheme_fingerprint(s) for s in schemes},
    }
    return json.loads(json.dumps(fp, default=str))


def _short(digest) -> str:
    return f"{digest[:12]}.." if isinstance(digest, str) else "none"


def scheme_change(old: dict, new: dict) -> str | None:
    """What differs between two scheme fingerprints (one phrase), or None if rows are reusable.

    Checkpoints only in one of them are sweep-axis changes (new configurations), not conflicts.
    """
    if old.get("kind") != new["kind"]:
        return f"kind changed ({old.get('kind')} -> {new['kind']})"
    if old.get("params") != new["params"]:
        oldp, newp = old.get("params") or {}, new["params"]
        for k in sorted(set(oldp) | set(newp)):
            if oldp.get(k) != newp.get(k):
                return f"parameter {k!r} changed ({oldp.get(k)!r} -> {newp.get(k)!r})"
    if "version" not in old or "checkpoints" not in old:
        return "rows were computed before code versions and checkpoint hashes were recorded"
    for part in ("ntscc_sim", "scheme"):
        if old["version"].get(part) != new["version"][part]:
            what = "package ntscc_sim" if part == "ntscc_sim" else "scheme code"
            return f"{what} version changed ({old['version'].get(part)} -> {new['version'][part]})"
    for name, digest in new["checkpoints"].items():
        before = old["checkpoints"].get(name)
        if before is not None and before != digest:
            return f"checkpoint {name}: weights changed (sha256 {_short(before)} -> {_short(digest)})"
    return None


def conflicts(old: dict | None, new: dict) -> tuple[str | None, dict[str, str]]:
    """``(global_change, {scheme: change})`` between a folder's fingerprint and the new one.

    ``global_change`` names a changed seed/dataset/channel (then no row is reusable); the dict
    names each scheme present in both whose rows are stale.
    """
    if not old:
        return None, {}
    for key in GLOBAL_KEYS:
        if old.get(key) != new[key]:
            return f"{key} changed ({old.get(key)!r} -> {new[key]!r})", {}
    stale = {}
    for name, spec in new["schemes"].items():
        if name in old.get("schemes", {}):
            change = scheme_change(old["schemes"][name], spec)
            if change:
                stale[name] = change
    return None, stale


def merge(old: dict | None, new: dict) -> dict:
    """The fingerprint to store: ``new`` plus schemes of ``old`` that are not in this scenario
    (their rows stay in the folder and must stay guarded)."""
    if not old or any(old.get(k) != new[k] for k in GLOBAL_KEYS):
        return new
    schemes = {k: v for k, v in old.get("schemes", {}).items() if k not in new["schemes"]}
    schemes.update(new["schemes"])
    return {**new, "schemes": schemes}


def read_fingerprint(run_json: Path) -> dict | None:
    """The fingerprint stored in a folder's ``run.json`` (None when absent or unreadable)."""
    try:
        return json.loads(Path(run_json).read_text()).get("fingerprint")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
