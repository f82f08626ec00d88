"""Crash-safe file writes: the one atomic-write helper of the package.

A file is written to a temporary file in the same folder, flushed to disk and renamed over
the target, so readers (and a rerun after a crash) see either the old or the new content,
never a partial file. Temporary files are named ``.<name>.tmp-*`` and removed on failure.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_json"]


def atomic_write(path, data: bytes | str) -> None:
    """Write ``data`` (bytes, or text written as UTF-8 without newline translation) to ``path`` atomically.

    Creates the parent folder if needed.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_json(path, obj) -> None:
    """``obj`` as indented JSON (non-JSON values through ``str``), written with :func:`atomic_write`."""
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
