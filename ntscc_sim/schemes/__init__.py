"""Scheme registry: scenario ``kind`` -> implementation (loaded lazily).

Kinds are registered by dotted path so that validating a scenario imports only
the schemes it uses. Reserved kinds without an implementation yet are rejected
with a clear message.
"""

from .base import Scheme, SchemeContext, config_key
from .registry import RESERVED_KINDS, SCHEME_PATHS, available_kinds, get_scheme_class

__all__ = ["RESERVED_KINDS", "SCHEME_PATHS", "Scheme", "SchemeContext", "available_kinds", "config_key", "get_scheme_class"]
