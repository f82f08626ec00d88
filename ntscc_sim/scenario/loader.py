"""Load and validate a scenario YAML file into a :class:`Scenario`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..channels.model import CHANNEL_KINDS, CSI_CHOICES
from ..config import DEVICE_CHOICES
from ..datasets.images import BUILTIN_NAMES, DATASET_KINDS
from .errors import ScenarioError
from .fields import Field, cbr_range, section, validate_mapping

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_output_name(value, key):
    if not _NAME_RE.match(value):
        raise ScenarioError(key, f"invalid name {value!r}: use letters, digits, '.', '_' or '-' (it names the output folder)")
    return value


def _check_crop(value, key):
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) and v > 0 for v in value):
        raise ScenarioError(key, f"expected [height, width] in pixels, got {value!r}")
    return value


DATASET_SCHEMA = {
    "kind": Field("str", choices=DATASET_KINDS, doc="folder | cifar10 | builtin | banana"),
    "path": Field("str", default=None, doc="folder of images (folder) or CIFAR-10 python-batch folder (cifar10)"),
    "limit": Field("int", default=None, min=1, nullable=True, doc="use only the first N images"),
    "split": Field("str", default="test", choices=("test", "train"), doc="cifar10 split"),
    "names": Field("list", default=None, item=Field("str", choices=BUILTIN_NAMES), nullable=True, doc="builtin images"),
    "crop": Field("any", default=None, check=_check_crop, nullable=True, doc="builtin: centre crop [H, W]"),
}

CHANNEL_SCHEMA = {
    "kind": Field("str", default="awgn", choices=CHANNEL_KINDS),
    "csi": Field("str", default="perfect", choices=CSI_CHOICES, doc="receiver channel knowledge"),
    "coherence": Field("int", default=None, min=1, nullable=True, doc="rayleigh-block: symbols per fading block (default: one block per image)"),
}

REPORT_SCHEMA = {
    "anchor": Field("str", default=None, nullable=True, doc="scheme name used as BD reference"),
    "extra_anchors": Field("list", default=lambda: [], item=Field("str"), scalar_ok=True,
                           doc="further BD references: every scheme is also compared with each"),
    "min_points": Field("int", default=4, min=3, doc="points each RD curve needs for a BD value"),
    "bd_cbr_range": Field("any", default=None, nullable=True, check=lambda v, k: list(cbr_range(v, k)),
                          doc="[lo, hi]: BD values only over CBR in [lo, hi] (fractions like 1/64 allowed)"),
    "metric": Field("str", default="psnr", choices=("psnr", "ms_ssim_db")),
    "formats": Field("list", default=lambda: ["md", "csv", "html"], item=Field("str", choices=("md", "csv", "tex", "html")), scalar_ok=True),
    "overlay": Field("list", default=lambda: [], item=Field("str"), scalar_ok=True, doc="CompressAI JSON / CSV curves drawn on RD figures"),
    "enabled": Field("bool", default=True),
}

RUN_SCHEMA = {
    "batch_images": Field("int", default=8, min=1, doc="images per work unit (does not change results)"),
    "rate_maps": Field("bool", default=False, doc="write NTSCC rate-allocation maps"),
}

# keys every YAML file of the project (scenarios, training configs, the banana experiment) starts with
COMMON_FIELDS = {
    "name": Field("str", check=check_output_name),
    "description": Field("str", default=""),
    "seed": Field("int", default=0, min=0),
    "device": Field("str", default="auto", choices=DEVICE_CHOICES),
}

TOP_SCHEMA = {
    **COMMON_FIELDS,
    "dataset": Field("map", schema=DATASET_SCHEMA),
    "channel": section(CHANNEL_SCHEMA),
    "snr_db": Field("list", item=Field("number", min=-50, max=100), min_len=1, scalar_ok=True),
    "schemes": Field("list", item=Field("any"), min_len=1),
    "metrics": Field("list", default=lambda: ["psnr", "ms_ssim"], item=Field("str", choices=("psnr", "ms_ssim")), scalar_ok=True),
    "report": section(REPORT_SCHEMA),
    "run": section(RUN_SCHEMA),
}

SCHEME_COMMON = {
    "name": Field("str"),
    "kind": Field("str"),
}


@dataclass
class Scenario:
    """A validated scenario: ``data`` is the resolved mapping (defaults filled in)."""

    data: dict
    path: str | None = None

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def schemes(self) -> list[dict]:
        return self.data["schemes"]


def require_name_and_kind(raw, path: str) -> None:
    """A scheme entry must be a mapping with ``name`` and ``kind`` (checked before its own schema)."""
    if not isinstance(raw, dict):
        raise ScenarioError(path, f"expected a mapping with 'name' and 'kind', got {raw!r}")
    for key in ("name", "kind"):
        if key not in raw:
            raise ScenarioError(f"{path}.{key}", "missing required key")


def _validate_scheme(raw, index: int, scenario: dict) -> dict:
    from ..schemes.registry import RESERVED_KINDS, SCHEME_PATHS, get_scheme_class

    path = f"schemes[{index}]"
    require_name_and_kind(raw, path)
    kind = raw["kind"]
    if kind not in SCHEME_PATHS:
        import difflib

        hint = difflib.get_close_matches(str(kind), RESERVED_KINDS, n=1)
        more = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ScenarioError(f"{path}.kind", f"unknown scheme kind {kind!r}; choose from {list(RESERVED_KINDS)}{more}")
    if SCHEME_PATHS[kind] is None:
        raise ScenarioError(f"{path}.kind", f"scheme kind {kind!r} is reserved but not implemented yet")
    cls = get_scheme_class(kind)
    schema = {**SCHEME_COMMON, **cls.PARAMS}
    params = validate_mapping(raw, schema, path)
    params = cls.check_params(params, path, scenario)
    return params


def validate_scenario(raw, path: str | None = None) -> Scenario:
    """Validate a parsed YAML mapping; raise :class:`ScenarioError` naming the key path."""
    if not isinstance(raw, dict):
        raise ScenarioError("", f"scenario must be a YAML mapping, got {type(raw).__name__}")
    if isinstance(raw.get("dataset"), dict) and raw["dataset"].get("kind") == "banana":
        raise ScenarioError("dataset.kind", "dataset kind 'banana' is only used by the banana experiment: "
                            "add 'experiment: banana' at the top level (scenarios/banana.yaml)")
    data = validate_mapping(raw, TOP_SCHEMA, "")
    schemes = [_validate_scheme(s, i, data) for i, s in enumerate(data["schemes"])]
    names = {}
    for i, s in enumerate(schemes):
        if s["name"] in names:
            raise ScenarioError(f"schemes[{i}].name", f"duplicate scheme name {s['name']!r} (also schemes[{names[s['name']]}])")
        names[s["name"]] = i
    data["schemes"] = schemes
    anchor = data["report"]["anchor"]
    if anchor is not None and anchor not in names and not any(anchor.startswith(n) for n in names):
        raise ScenarioError("report.anchor", f"anchor {anchor!r} is not a scheme name; choose from {list(names)}")
    for i, extra in enumerate(data["report"]["extra_anchors"]):
        if extra not in names and not any(extra.startswith(n) for n in names):
            raise ScenarioError(f"report.extra_anchors[{i}]", f"{extra!r} is not a scheme name; choose from {list(names)}")
    _check_dataset(data["dataset"])
    return Scenario(data=data, path=path)


def _check_dataset(spec: dict) -> None:
    kind = spec["kind"]
    if kind in ("folder", "cifar10") and not spec.get("path"):
        raise ScenarioError("dataset.path", f"dataset kind {kind!r} needs a 'path'")


def load_scenario(path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError("", f"scenario file not found: {path}")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ScenarioError("", f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        raise ScenarioError("", f"{path}: scenario file is empty")
    return validate_scenario(raw, str(p))
