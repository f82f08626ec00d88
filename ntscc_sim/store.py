"""Results store: ``points.csv`` written incrementally and crash-safely.

* Each work unit's rows are appended with one ``write`` + ``fsync`` on an
  ``O_APPEND`` descriptor; a line cut short by a crash (kill -9) is dropped on
  the next open, so a point is either fully there or recomputed.
* Rows are keyed by ``(scheme, config, snr_db, image)``; a rerun skips keys already
  present and never duplicates one.
* :meth:`ResultStore.finalize` rewrites the file atomically (temp file + rename)
  in canonical sweep order, so an interrupted-and-resumed run ends with exactly
  the same ``points.csv`` as an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .files import atomic_write


POINTS = "points.csv"
KEY_COLUMNS = ("scheme", "config", "snr_db", "image")


def format_value(v) -> str:
    """Text form of a cell: floats in shortest round-trip repr, None/NaN as empty."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float):
        if v != v:
            return ""
        return repr(v)
    return str(v)


def snr_text(snr_db: float) -> str:
    """Canonical text of an SNR value in keys and CSV cells."""
    return format_value(float(snr_db))


class ResultStore:
    """Append-only, crash-safe ``points.csv`` in ``out_dir`` with the given columns."""

    def __init__(self, out_dir, columns):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / POINTS
        self.columns = list(columns)
        self.rows: dict[tuple, dict] = {}

    # -- opening / repair -------------------------------------------------
    def open(self, drop=None, keep_keys=None) -> "ResultStore":
        """Read the rows already there; ``drop(scheme_cell) -> bool`` discards stale ones
        (``--overwrite``) and ``keep_keys`` (a set of keys) every row not in it (``--prune``),
        in the same atomic rewrite."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        existing_cols, rows = self._read_existing()
        for r in rows:
            if drop is not None and drop(r["scheme"]):
                continue
            if keep_keys is not None and self.key(r) not in keep_keys:
                continue
            self.rows[self.key(r)] = r
        # columns of the file that this sweep does not write, kept while a row still has a value there
        extra = [c for c in existing_cols if c not in self.columns and any(r.get(c) for r in self.rows.values())]
        self.columns += extra
        # always rewrite: drops a line cut by a crash and adopts the new header
        self._rewrite(list(self.rows.values()))
        return self

    def _read_existing(self):
        if not self.path.exists():
            return [], []
        with open(self.path, newline="") as f:
            raw = f.read()
        if raw and not raw.endswith("\n"):
            raw = raw[: raw.rfind("\n") + 1]  # drop a line cut by a crash
        if not raw:
            return [], []
        reader = csv.DictReader(io.StringIO(raw, newline=""))
        cols = list(reader.fieldnames or [])
        rows = []
        for r in reader:
            if None in r or any(v is None for v in r.values()):
                continue  # malformed (short) line
            if r.get("derived") == "1":
                continue  # derived rows are recomputed at the end
            rows.append(dict(r))
        return cols, rows

    def _rewrite(self, rows) -> None:
        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in self.columns})
        atomic_write(self.path, buf.getvalue())

    # -- keys ---------------------------------------------------------------
    @staticmethod
    def key(row: dict) -> tuple:
        return tuple(str(row[c]) for c in KEY_COLUMNS)

    def has(self, scheme: str, config: str, snr_db: float, image: str) -> bool:
        return (scheme, config, snr_text(snr_db), image) in self.rows

    # -- appending ------------------------------------------------------------
    def append(self, rows: list[dict]) -> None:
        """Append finished rows (dicts of raw values) in one atomic-enough write."""
        if not rows:
            return
        text_rows = [{c: format_value(r.get(c)) for c in self.columns} for r in rows]
        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        w.writerows(text_rows)
        data = buf.getvalue().encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        for r in text_rows:
            self.rows[self.key(r)] = r

    # -- final canonical form -------------------------------------------------------
    def finalize(self, order: list[tuple], derived: list[dict] = ()) -> None:
        """Rewrite points.csv in canonical ``order`` (a list of keys), then derived rows."""
        rank = {k: i for i, k in enumerate(order)}
        rows = sorted(self.rows.values(), key=lambda r: (rank.get(self.key(r), len(rank)), self.key(r)))
        derived_text = [{c: format_value(r.get(c)) for c in self.columns} for r in derived]
        self._rewrite(rows + derived_text)
