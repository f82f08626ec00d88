"""Where each scheme kind lives."""

from __future__ import annotations

import importlib

# kind -> "module:Class"; a kind maps to None while reserved but not implemented.
SCHEME_PATHS: dict[str, str | None] = {
    "bpg-ldpc": "baselines.separation:BPGLDPCScheme",
    "bpg-capacity": "baselines.separation:BPGCapacityScheme",
    "ntc-ldpc": "baselines.separation.ntc:NTCLDPCScheme",
    "ntc-capacity": "baselines.separation.ntc:NTCCapacityScheme",
    "ntscc": "ntscc_sim.schemes.ntscc:NTSCCScheme",
    "deep-jscc": "baselines.deep_jscc.scheme:DeepJSCCScheme",
}
RESERVED_KINDS = tuple(SCHEME_PATHS)


def available_kinds() -> list[str]:
    """Kinds that have an implementation."""
    return [k for k, v in SCHEME_PATHS.items() if v is not None]


def get_scheme_class(kind: str):
    """Import and return the Scheme subclass for ``kind`` (KeyError/NotImplementedError otherwise)."""
    path = SCHEME_PATHS[kind]
    if path is None:
        raise NotImplementedError(kind)
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
