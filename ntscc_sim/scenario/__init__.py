"""Scenario files: strict schema, validation with key paths, sweep expansion.

A scenario is a YAML file describing a dataset, a channel, an SNR list and the
schemes to compare (docs/scenarios.md lists every key and its default).
"""

from .errors import ScenarioError
from .fields import Field, fraction, section, validate_mapping
from .loader import Scenario, load_scenario, validate_scenario

__all__ = ["Field", "Scenario", "ScenarioError", "fraction", "load_scenario", "section", "validate_mapping", "validate_scenario"]
