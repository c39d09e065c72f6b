"""Manual search: the cross product of user-given model config parameter values.

The values come from ``profile_models: {MODEL: {model_config_parameters: ...}}``
in the config file, written as in Model Analyzer:

* a list under a single field sweeps its values
  (``max_queue_delay_microseconds: [100, 200]``);
* a repeated scalar field takes a flat list as one value and sweeps a list of
  lists (``preferred_batch_size: [[4, 8], [8, 16]]`` is two variants);
* a repeated message field takes a list of mappings as one value, and lists
  inside those mappings sweep (``instance_group: [{kind: KIND_CPU, count: [1, 2]}]``
  is two variants);
* an empty mapping sets a message to Triton's defaults (``dynamic_batching: {}``).

Field names are checked against Triton's ``ModelConfig`` message, so a typo is
rejected before anything starts.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from tritonclient.grpc import model_config_pb2

from analyzer_core.errors import ConfigError
from analyzer_core.triton.variants import VariantSettings

logger = logging.getLogger(__name__)

MODEL_CONFIG = model_config_pb2.ModelConfig.DESCRIPTOR


def expand_parameters(
    parameters: dict[str, Any], where: str
) -> list[tuple[tuple[str, Any], ...]]:
    """Expand ``model_config_parameters`` into one tuple of dotted-key settings per
    variant; raises ConfigError naming the field at ``where``."""
    combinations = _message_options(parameters, MODEL_CONFIG, where)
    return [tuple(_dotted(option, MODEL_CONFIG, "")) for option in combinations]


def _message_options(value: Any, message: Descriptor, where: str) -> list[dict]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where} must be a mapping of {message.name} fields, got {value!r}."
        )
    per_key = []
    for key, child in value.items():
        field = message.fields_by_name.get(key)
        if field is None:
            known = ", ".join(sorted(message.fields_by_name))
            raise ConfigError(
                f"{where}: unknown {message.name} field {key!r}; fields there: {known}."
            )
        options = _field_options(child, field, f"{where}.{key}")
        per_key.append([(key, option) for option in options])
    return [dict(combination) for combination in itertools.product(*per_key)]


def _field_options(value: Any, field: FieldDescriptor, where: str) -> list[Any]:
    if _is_map(field):
        return _map_options(value, field, where)
    if field.label == FieldDescriptor.LABEL_REPEATED:
        return _repeated_options(value, field, where)
    candidates = _candidates(value, where)
    if field.type != FieldDescriptor.TYPE_MESSAGE:
        for candidate in candidates:
            if isinstance(candidate, (list, dict)):
                raise ConfigError(
                    f"{where} takes one value per variant, got {candidate!r}."
                )
        return candidates
    options = []
    for candidate in candidates:
        options += _message_options(candidate, field.message_type, where)
    return options


def _repeated_options(value: Any, field: FieldDescriptor, where: str) -> list[Any]:
    """Sweep the items of a list of lists. Any other value is one list value."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        candidates = value
    else:
        candidates = [value if isinstance(value, list) else [value]]
    options = []
    for items in candidates:
        if not items:
            raise ConfigError(f"{where} has an empty list; give at least one value.")
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            options.append(items)
            continue
        per_item = [
            _message_options(item, field.message_type, f"{where}[{index}]")
            for index, item in enumerate(items)
        ]
        options += [list(combination) for combination in itertools.product(*per_item)]
    return options


def _map_options(value: Any, field: FieldDescriptor, where: str) -> list[dict]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping of names to values.")
    value_field = field.message_type.fields_by_name["value"]
    per_key = [
        [(key, option) for option in _field_options(child, value_field, where)]
        for key, child in value.items()
    ]
    return [dict(combination) for combination in itertools.product(*per_key)]


def _candidates(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        return [value]
    if not value:
        raise ConfigError(f"{where} is an empty list; give at least one value.")
    return value


def _is_map(field: FieldDescriptor) -> bool:
    message = field.message_type
    return message is not None and message.GetOptions().map_entry


def _dotted(option: dict, message: Descriptor, prefix: str) -> list[tuple[str, Any]]:
    """Flatten nested singular messages and maps into ``a.b.c`` keys, so a variant
    changes only the fields it names and keeps the model's other settings."""
    pairs = []
    for key, value in option.items():
        field = message.fields_by_name[key]
        path = f"{prefix}{key}"
        if _is_map(field):
            pairs += [(f"{path}.{name}", item) for name, item in value.items()]
        elif (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and field.label != FieldDescriptor.LABEL_REPEATED
            and value
        ):
            pairs += _dotted(value, field.message_type, f"{path}.")
        else:
            pairs.append((path, value))
    return pairs


class ManualSearch:
    """The default config, then every combination of the given parameter values."""

    def __init__(self, model: str, parameters: dict[str, Any]) -> None:
        self.model = model
        where = f"profile_models.{model}.model_config_parameters"
        self.combinations = expand_parameters(parameters, where) if parameters else []
        self.pruned: list[VariantSettings] = []

    def planned_settings(self) -> list[VariantSettings]:
        return [VariantSettings()] + [
            VariantSettings(extra=combination) for combination in self.combinations
        ]

    def report(self, best_throughput: float, variant: str = "") -> None:
        """Ignore the throughput: a manual search visits every combination."""

    def __iter__(self) -> Iterator[VariantSettings]:
        if not self.combinations:
            logger.info(
                "Manual search of %s has no model_config_parameters; measuring its "
                "default config only",
                self.model,
            )
        yield from self.planned_settings()
