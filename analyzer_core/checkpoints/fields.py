"""Field checks for parsed checkpoint documents.

The checks raise CheckpointFormatError naming the field when a value is
missing, has the wrong type, or is an integer too large to convert to float.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from analyzer_core.errors import CheckpointFormatError


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def require_mapping(data: Any, label: str) -> bool:
    if not isinstance(data, dict):
        raise CheckpointFormatError(
            f"{label} has type {type_name(data)}, expected an object"
        )
    return True


def require(data: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    """Return ``data[key]``, raising unless it has type ``kind``.

    A boolean is accepted only when ``kind`` is bool, though bool subclasses int.
    """
    if key not in data:
        raise CheckpointFormatError(f"missing field {key!r}")
    value = data[key]
    if isinstance(value, bool) and kind is not bool:
        raise CheckpointFormatError(f"field {key!r} is a boolean")
    if not isinstance(value, kind):
        raise CheckpointFormatError(f"field {key!r} has type {type_name(value)}")
    return value


def optional(data: dict, key: str, kind: type) -> Any:
    """Return ``data[key]`` when it has type ``kind``, None when absent or null."""
    if data.get(key) is None:
        return None
    return require(data, key, kind)


def optional_integer(data: dict, key: str) -> int | None:
    if data.get(key) is None:
        return None
    return check_integer(require(data, key, int), key)


def check_integer(value: int, key: str) -> int:
    """Return ``value``, rejecting integers too large for tables to convert to float."""
    check_number(value, f"field {key!r}")
    return value


def optional_number(data: dict, key: str) -> float | None:
    """Return ``data[key]`` as a float, None when absent or null."""
    if data.get(key) is None:
        return None
    return to_float(require(data, key, (int, float)), key)


def to_float(value: int | float, key: str) -> float:
    """Convert to float, rejecting integers too large for one (a 400-digit time)."""
    try:
        return float(value)
    except OverflowError:
        raise CheckpointFormatError(f"field {key!r} is too large a number") from None


def check_number(value: Any, label: str) -> int | float:
    """Return ``value`` unchanged if it is a number that converts to float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CheckpointFormatError(f"{label} is not a number")
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise CheckpointFormatError(f"{label} is too large a number") from None
    return value


def optional_mapping(data: dict, key: str) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise CheckpointFormatError(f"field {key!r} is not an object")
    return value


def check_number_map(values: Any, label: str) -> dict[str, float]:
    require_mapping(values, label)
    for key, value in values.items():
        check_number(value, f"{label}[{key!r}]")
    return values


def parse_at_position(
    field_name: str, position: int, parse: Callable[[Any], Any], item: Any
) -> Any:
    """Call ``parse(item)``, prefixing any format error with ``field[position]``."""
    try:
        return parse(item)
    except CheckpointFormatError as error:
        raise CheckpointFormatError(f"{field_name}[{position}]: {error}") from None
