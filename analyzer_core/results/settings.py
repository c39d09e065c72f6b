"""Objectives, constraints and top-N count that decide how variants are ranked.

The YAML keys are Model Analyzer's. ``objectives`` is a list of metric tags or
a mapping of tag to weight, and ``constraints`` maps a tag to ``{min: x}`` or
``{max: x}``. ``profile_models`` is a comma-separated string, a list, or a
mapping of model name to its own ``objectives`` and ``constraints``.
``num_configs_per_model`` sets the number of top variants. Other keys of a
profile configuration file are ignored here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from analyzer_core.errors import ConfigError
from analyzer_core.metrics.catalog import METRICS

logger = logging.getLogger(__name__)

Constraints = dict[str, dict[str, float]]
BOUNDS = ("min", "max")


@dataclass
class RankingSettings:
    """How to rank variants: weighted objectives, constraint limits, top-N count.

    Per-model objectives replace the global objectives of that model. A
    per-model constraint on a metric replaces the global constraint on the same
    metric, and global constraints on other metrics still apply.
    """

    objectives: dict[str, float] = field(
        default_factory=lambda: {"perf_throughput": 1.0}
    )
    constraints: Constraints = field(default_factory=dict)
    model_objectives: dict[str, dict[str, float]] = field(default_factory=dict)
    model_constraints: dict[str, Constraints] = field(default_factory=dict)
    top_n: int = 3
    models: list[str] | None = None

    def __post_init__(self) -> None:
        validate_objectives(self.objectives, "objectives")
        validate_constraints(self.constraints, "constraints")
        for model, objectives in self.model_objectives.items():
            validate_objectives(objectives, f"profile_models.{model}.objectives")
        for model, constraints in self.model_constraints.items():
            validate_constraints(constraints, f"profile_models.{model}.constraints")
        check_top_n(self.top_n, "top_n")

    def objectives_for(self, model: str) -> dict[str, float]:
        return dict(self.model_objectives.get(model) or self.objectives)

    def constraints_for(self, model: str) -> Constraints:
        merged = {tag: dict(bounds) for tag, bounds in self.constraints.items()}
        merged.update(self.model_constraints.get(model, {}))
        return merged


def validate_objectives(objectives: dict[str, float], where: str) -> None:
    """Raise ConfigError unless every key is a known metric with a positive weight."""
    if not objectives:
        raise ConfigError(f"{where} is empty; name at least one metric tag.")
    for tag, weight in objectives.items():
        _require_known_tag(tag, where)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ConfigError(f"{where}: weight {weight!r} of {tag} is not a number.")
        if weight <= 0:
            raise ConfigError(f"{where}: weight {weight} of {tag} must be above 0.")


def validate_constraints(constraints: Constraints, where: str) -> None:
    """Raise ConfigError unless each constraint is ``{min|max: number}`` on a known
    metric tag."""
    for tag, bounds in constraints.items():
        _require_known_tag(tag, where)
        if not isinstance(bounds, dict) or not bounds:
            raise ConfigError(
                f"{where}: constraint on {tag} must be a mapping like {{max: 100}}, "
                f"got {bounds!r}."
            )
        for bound, limit in bounds.items():
            if bound not in BOUNDS:
                raise ConfigError(
                    f"{where}: constraint on {tag} has key {bound!r}; use min or max."
                )
            if isinstance(limit, bool) or not isinstance(limit, (int, float)):
                raise ConfigError(
                    f"{where}: {bound} limit {limit!r} of {tag} is not a number."
                )
            if not math.isfinite(limit):
                raise ConfigError(
                    f"{where}: {bound} limit {limit!r} of {tag} is not finite; "
                    "give a number."
                )


def _require_known_tag(tag: object, where: str) -> None:
    if tag not in METRICS:
        known = ", ".join(sorted(METRICS))
        raise ConfigError(f"{where}: unknown metric {tag!r}; known metrics: {known}.")


def load_ranking_settings(yaml_path: Path) -> RankingSettings:
    """Read ranking settings from a Model Analyzer style YAML file."""
    try:
        document = yaml.safe_load(Path(yaml_path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(
            f"Cannot read config file {yaml_path}: {error.strerror}."
        ) from error
    except yaml.YAMLError as error:
        raise ConfigError(
            f"Config file {yaml_path} is not valid YAML: {error}"
        ) from error
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"Config file {yaml_path} must hold a mapping at the top.")
    try:
        return settings_from_mapping(document)
    except ConfigError as error:
        raise ConfigError(f"Config file {yaml_path}: {error}") from error


def check_top_n(value: Any, name: str) -> int:
    """Return ``value`` if it is a whole number of variants, 1 or more.

    ``name`` is what the user wrote: a flag or a config file key.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} {value!r} is not an integer; use 1 or more.")
    if value < 1:
        raise ConfigError(f"{name} {value} is less than 1; use 1 or more.")
    return value


def settings_from_mapping(document: dict[str, Any]) -> RankingSettings:
    """Build RankingSettings from a parsed Model Analyzer style configuration."""
    settings = RankingSettings()
    if "objectives" in document:
        settings.objectives = _parse_objectives(document["objectives"], "objectives")
    if "constraints" in document:
        settings.constraints = _parse_constraints(document["constraints"])
    if "num_configs_per_model" in document:
        settings.top_n = check_top_n(
            document["num_configs_per_model"], "num_configs_per_model"
        )
    _apply_profile_models(settings, document.get("profile_models"))
    settings.__post_init__()
    return settings


def _parse_objectives(value: Any, where: str) -> dict[str, float]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return {str(tag): 1.0 for tag in value}
    if isinstance(value, dict):
        return {str(tag): (1.0 if w is None else w) for tag, w in value.items()}
    raise ConfigError(f"{where} must be a list of metric tags or a mapping to weights.")


def _parse_constraints(value: Any) -> Constraints:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError("constraints must map metric tags to {min: x} or {max: x}.")
    return {str(tag): bounds for tag, bounds in value.items()}


def _apply_profile_models(settings: RankingSettings, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, str):
        settings.models = [name.strip() for name in value.split(",") if name.strip()]
        return
    if isinstance(value, list):
        settings.models = [str(name) for name in value]
        return
    if not isinstance(value, dict):
        raise ConfigError("profile_models must be a string, a list or a mapping.")
    settings.models = [str(name) for name in value]
    for name, options in value.items():
        options = options or {}
        if not isinstance(options, dict):
            raise ConfigError(f"profile_models.{name} must be a mapping.")
        if "objectives" in options:
            where = f"profile_models.{name}.objectives"
            settings.model_objectives[str(name)] = _parse_objectives(
                options["objectives"], where
            )
        if "constraints" in options:
            settings.model_constraints[str(name)] = _parse_constraints(
                options["constraints"]
            )
