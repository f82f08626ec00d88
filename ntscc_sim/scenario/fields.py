"""A small declarative schema for YAML mappings: typed fields, defaults, choices,
unknown-key detection with "did you mean" hints, errors that name the key path.

Example
-------
>>> schema = {"snr": Field("number", default=10.0), "mode": Field("str", choices=("a", "b"))}
>>> validate_mapping({"mode": "a"}, schema, "x")
{'snr': 10.0, 'mode': 'a'}
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

from .errors import ScenarioError

_REQUIRED = object()


def fraction(value, key: str) -> float:
    """Parse a rate or ratio written as ``2/3``, ``0.6667`` or ``1`` into a float."""
    if isinstance(value, bool):
        raise ScenarioError(key, f"expected a number or fraction like 2/3, got {value!r}")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            raise ScenarioError(key, f"expected a number or fraction like 2/3, got {value!r}") from None
    else:
        raise ScenarioError(key, f"expected a number or fraction like 2/3, got {value!r}")
    if not math.isfinite(out):
        raise ScenarioError(key, f"expected a finite number, got {value!r}")
    return out


def cbr_range(value, key: str) -> tuple[float, float]:
    """``[lo, hi]`` (numbers or fractions like ``1/64``) with ``0 < lo < hi``, as floats.

    Raises :class:`ScenarioError` (a ValueError) naming ``key`` and the value.
    """
    bad = ScenarioError(key, f"expected [lo, hi] with 0 < lo < hi (numbers or fractions like 1/64), got {_describe(value)}")
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise bad
    lo, hi = (fraction(v, f"{key}[{i}]") for i, v in enumerate(value))
    if not 0 < lo < hi:
        raise bad
    return lo, hi


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Field:
    """One key of a mapping.

    kind: ``int``, ``number`` (int or float), ``fraction`` (number or "a/b"), ``str``,
    ``bool``, ``list`` (items validated by ``item``), ``map`` (nested ``schema``) or ``any``.
    """

    kind: str
    default: Any = _REQUIRED
    choices: tuple | None = None
    item: "Field | None" = None
    schema: dict | None = None
    min: float | None = None
    max: float | None = None
    min_len: int = 0
    scalar_ok: bool = False  # a list field also accepts a single item
    check: Callable[[Any, str], Any] | None = None
    doc: str = ""
    nullable: bool = False

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def validate(self, value, key: str):
        if value is None and self.nullable:
            return None
        v = self._convert(value, key)
        if self.choices is not None and v not in self.choices:
            hint = difflib.get_close_matches(str(v), [str(c) for c in self.choices], n=1)
            more = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ScenarioError(key, f"invalid value {_describe(value)}; choose from {list(self.choices)}{more}")
        if self.kind in ("int", "number", "fraction"):
            if self.min is not None and v < self.min:
                raise ScenarioError(key, f"value {_describe(value)} is below the minimum {self.min}")
            if self.max is not None and v > self.max:
                raise ScenarioError(key, f"value {_describe(value)} is above the maximum {self.max}")
        if self.check is not None:
            v = self.check(v, key)
        return v

    def _convert(self, value, key):
        k = self.kind
        if k == "any":
            return value
        if k == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ScenarioError(key, f"expected an integer, got {_describe(value)}")
            return int(value)
        if k == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
                raise ScenarioError(key, f"expected a number, got {_describe(value)}")
            return float(value)
        if k == "fraction":
            return fraction(value, key)
        if k == "str":
            if not isinstance(value, str) or not value.strip():
                raise ScenarioError(key, f"expected a non-empty string, got {_describe(value)}")
            return value
        if k == "bool":
            if not isinstance(value, bool):
                raise ScenarioError(key, f"expected true or false, got {_describe(value)}")
            return value
        if k == "list":
            if not isinstance(value, list):
                if self.scalar_ok and not isinstance(value, (dict, list)):
                    value = [value]
                else:
                    raise ScenarioError(key, f"expected a list, got {_describe(value)}")
            if len(value) < self.min_len:
                raise ScenarioError(key, f"expected at least {self.min_len} item(s), got {len(value)}")
            if self.item is None:
                return list(value)
            return [self.item.validate(v, f"{key}[{i}]") for i, v in enumerate(value)]
        if k == "map":
            if not isinstance(value, dict):
                raise ScenarioError(key, f"expected a mapping, got {_describe(value)}")
            return validate_mapping(value, self.schema or {}, key)
        raise AssertionError(f"unknown field kind {k}")


def validate_mapping(data: dict, schema: dict, path: str = "") -> dict:
    """Validate ``data`` against ``schema`` (name -> Field); fill defaults; reject unknown keys."""
    if not isinstance(data, dict):
        raise ScenarioError(path, f"expected a mapping, got {_describe(data)}")
    for name in data:
        if name not in schema:
            key = f"{path}.{name}" if path else str(name)
            hint = difflib.get_close_matches(str(name), list(schema), n=1)
            more = f" (did you mean {hint[0]!r}?)" if hint else f"; allowed keys: {sorted(schema)}"
            raise ScenarioError(key, f"unknown key {str(name)!r}{more}")
    out = {}
    for name, spec in schema.items():
        key = f"{path}.{name}" if path else name
        if name in data:
            out[name] = spec.validate(data[name], key)
        elif spec.required:
            raise ScenarioError(key, "missing required key")
        else:
            out[name] = spec.default() if callable(spec.default) else spec.default
    return out


def section(schema: dict, **kwargs) -> Field:
    """An optional nested mapping whose default is every key of ``schema`` at its default."""
    return Field("map", default=lambda: validate_mapping({}, schema, ""), schema=schema, **kwargs)
