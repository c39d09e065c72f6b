"""Profile options from a YAML config file and the command line, in one table.

Every option has one key, written in snake_case in YAML and as the same words
in kebab-case on the command line (``run_config_search_max_concurrency`` is
``--run-config-search-max-concurrency``), as in Model Analyzer. A flag given on
the command line wins over the same key in the file. Each value goes through
the converter in :data:`CONVERTERS`, which raises ConfigError naming the key
(and the file line) and the fix.
"""

from __future__ import annotations

import difflib
import json
import math
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from analyzer_core.errors import ConfigError
from analyzer_core.results.settings import RankingSettings, settings_from_mapping


class _LineMapping(dict):
    """A YAML mapping that remembers the line (1-based) of each key."""

    lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings carry key lines and reject duplicate keys."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineMapping:
    lines: dict[str, int] = {}
    for key_node, _ in node.value:
        line = key_node.start_mark.line + 1
        if key_node.value in lines:
            raise ConfigError(
                f"line {line}: key {key_node.value!r} appears twice (first on line "
                f"{lines[key_node.value]}); keep one of them."
            )
        lines[key_node.value] = line
    mapping = _LineMapping(loader.construct_mapping(node, deep=True))
    mapping.lines = lines
    return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


# -- converters: (value from YAML or the command line, where) -> value ---------------


def to_path(value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a path, got {value!r}.")
    return Path(value)


def to_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where} must be an integer, got {value!r}.")
    return value


def to_float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where} must be a number, got {value!r}.")
    return float(value)


def to_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {value!r}.")
    return value


def to_int_list(value: Any, where: str) -> list[int]:
    """Accept ``1,2,4``, ``[1, 2, 4]``, a single integer, or ``{start, stop, step}``."""
    numbers = to_number_list(value, where)
    if any(number != int(number) for number in numbers):
        raise ConfigError(f"{where} must list integers, got {value!r}.")
    return [int(number) for number in numbers]


def to_number_list(value: Any, where: str) -> list[float | int]:
    if isinstance(value, dict):
        return _range_list(value, where)
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    elif not isinstance(value, list):
        value = [value]
    if not value:
        raise ConfigError(f"{where} is an empty list; give at least one value.")
    return [_number(item, where) for item in value]


def _number(item: Any, where: str) -> float | int:
    if isinstance(item, str):
        try:
            return int(item)
        except ValueError:
            pass
        try:
            number = float(item)
        except ValueError:
            raise ConfigError(
                f"{where} has {item!r}, which is not a number; write e.g. 1,2,4."
            ) from None
        if not math.isfinite(number):
            raise ConfigError(f"{where} has {item!r}; use a finite number.")
        return int(number) if number.is_integer() else number
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        raise ConfigError(f"{where} has {item!r}, which is not a number.")
    if isinstance(item, float) and not math.isfinite(item):
        raise ConfigError(f"{where} has {item!r}; use a finite number.")
    return item


def _range_list(value: dict, where: str) -> list[int]:
    unknown = set(value) - {"start", "stop", "step"}
    if unknown or "start" not in value or "stop" not in value:
        raise ConfigError(
            f"{where} as a range takes start, stop and an optional step, "
            f"got {dict(value)!r}."
        )
    start = to_int(value["start"], f"{where}.start")
    stop = to_int(value["stop"], f"{where}.stop")
    step = to_int(value.get("step", 1), f"{where}.step")
    if step < 1 or stop < start:
        raise ConfigError(
            f"{where} range needs step >= 1 and stop >= start, got {dict(value)!r}."
        )
    return list(range(start, stop + 1, step))


def to_name_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a comma-separated list of names.")
    return value


def to_flags(value: Any, where: str) -> list[str]:
    """Accept one string (split like a shell line), a list, or a mapping of
    flag names to values (``{percentile: 95}`` gives ``--percentile=95``)."""
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, dict):
        flags = []
        for name, flag_value in value.items():
            flag = f"--{str(name).lstrip('-')}"
            flags.append(flag if flag_value in (None, True) else f"{flag}={flag_value}")
        return flags
    raise ConfigError(f"{where} must be a string, a list or a mapping of flags.")


def choice(*choices: str) -> Callable[[Any, str], str]:
    def convert(value: Any, where: str) -> str:
        if value not in choices:
            raise ConfigError(
                f"{where} is {value!r}; use one of: {', '.join(choices)}."
            )
        return value

    return convert


def _keep(value: Any, where: str) -> Any:
    return value


CONVERTERS: dict[str, Callable[[Any, str], Any]] = {
    "model_repository": to_path,
    "profile_models": _keep,
    "checkpoint_directory": to_path,
    "export_path": to_path,
    "output_model_repository_path": to_path,
    "status_file": to_path,
    "run_config_search_mode": choice("brute", "quick", "manual"),
    "run_config_search_disable": to_bool,
    "batch_sizes": to_int_list,
    "concurrency": to_int_list,
    "request_rate": to_number_list,
    "request_rate_search_enable": to_bool,
    "run_config_search_min_concurrency": to_int,
    "run_config_search_max_concurrency": to_int,
    "run_config_search_min_request_rate": to_int,
    "run_config_search_max_request_rate": to_int,
    "run_config_search_min_instance_count": to_int,
    "run_config_search_max_instance_count": to_int,
    "run_config_search_min_model_batch_size": to_int,
    "run_config_search_max_model_batch_size": to_int,
    "no_early_exit": to_bool,
    "no_concurrency_early_exit": to_bool,
    "no_max_batch_size_early_exit": to_bool,
    "measurement_interval": to_int,
    "measurement_request_count": to_int,
    "perf_analyzer_timeout": to_float,
    "perf_analyzer_max_retries": to_int,
    "perf_analyzer_flags": to_flags,
    "perf_analyzer_path": to_path,
    "triton_launch_mode": choice("local", "remote"),
    "triton_grpc_endpoint": _keep,
    "triton_metrics_url": _keep,
    "triton_http_port": to_int,
    "triton_grpc_port": to_int,
    "triton_metrics_port": to_int,
    "checkpoint_index": to_int,
    "fresh_index": to_bool,
}

# Ranking keys, shared with the report command. Profile uses them to steer quick search.
REPORT_KEYS = ("objectives", "constraints", "num_configs_per_model")

MODEL_KEYS = ("model_config_parameters", "parameters", "objectives", "constraints")
MODEL_PARAMETER_KEYS = ("batch_sizes", "concurrency", "request_rate")


def read_config_file(path: Path) -> dict[str, Any]:
    """Read and convert a YAML config file; raises ConfigError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"Cannot read --config-file {path}: {error.strerror}."
        ) from error
    try:
        document = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise ConfigError(
            f"Config file {path} is not valid YAML at line {mark.line + 1}, column "
            f"{mark.column + 1}: {error.problem}; fix the syntax there."
        ) from error
    except ConfigError as error:
        raise ConfigError(f"Config file {path}, {error}") from error
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"Config file {path} must contain a mapping of keys to values at the top."
        )
    return _convert_document(document, path)


def _convert_document(document: _LineMapping, path: Path) -> dict[str, Any]:
    values = {}
    for key, value in document.items():
        where = f"Config file {path}, line {document.lines.get(str(key), '?')}: {key}"
        if key in REPORT_KEYS:
            continue
        if key not in CONVERTERS:
            raise ConfigError(f"{where} is an unknown key{_suggest(key)}")
        if key == "profile_models":
            values["model_options"] = read_model_sections(value, where)
        values[key] = CONVERTERS[key](value, where)
    if _has_ranking_keys(document):
        values["ranking"] = _ranking_settings(document, path)
    return values


def _has_ranking_keys(document: dict) -> bool:
    if any(key in document for key in REPORT_KEYS):
        return True
    models = document.get("profile_models")
    if not isinstance(models, dict):
        return False
    return any(
        isinstance(section, dict)
        and ("objectives" in section or "constraints" in section)
        for section in models.values()
    )


def _ranking_settings(document: dict, path: Path) -> RankingSettings:
    try:
        return settings_from_mapping(document)
    except ConfigError as error:
        raise ConfigError(f"Config file {path}: {error}") from error


def _suggest(key: Any) -> str:
    known = [*CONVERTERS, *REPORT_KEYS]
    close = difflib.get_close_matches(str(key), known, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; known keys: {', '.join(sorted(known))}."


def read_model_sections(value: Any, where: str) -> dict[str, dict[str, Any]]:
    """Return per-model sections of ``profile_models`` when it is a mapping."""
    if not isinstance(value, dict):
        return {}
    sections = {}
    for model, section in value.items():
        section = section or {}
        model_where = f"{where}.{model}"
        if not isinstance(section, dict):
            raise ConfigError(f"{model_where} must be a mapping, got {section!r}.")
        for key in section:
            if key not in MODEL_KEYS:
                raise ConfigError(
                    f"{model_where}.{key} is an unknown key; keys there: "
                    f"{', '.join(MODEL_KEYS)}."
                )
        sections[str(model)] = _model_section(section, model_where)
    return sections


def _model_section(section: dict, where: str) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    parameters = section.get("model_config_parameters")
    if parameters is not None:
        if not isinstance(parameters, dict) or not parameters:
            raise ConfigError(
                f"{where}.model_config_parameters must be a non-empty mapping."
            )
        converted["model_config_parameters"] = json.loads(json.dumps(parameters))
    load = section.get("parameters") or {}
    if not isinstance(load, dict):
        raise ConfigError(f"{where}.parameters must be a mapping.")
    for key, value in load.items():
        if key not in MODEL_PARAMETER_KEYS:
            raise ConfigError(
                f"{where}.parameters.{key} is an unknown key; keys there: "
                f"{', '.join(MODEL_PARAMETER_KEYS)}."
            )
        convert = to_number_list if key == "request_rate" else to_int_list
        converted[key] = convert(value, f"{where}.parameters.{key}")
    return converted


def profile_model_names(value: Any, where: str) -> list[str]:
    """Model names from ``profile_models``: a string, a list or a mapping."""
    if isinstance(value, dict):
        return [str(name) for name in value]
    return to_name_list(value, where)
