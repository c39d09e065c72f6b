"""Schema-2 encoding of measurements, with the name tables of one document.

A measurement stores its metric values as lists in the order of the document's
``metric_names``, ``gpu_uuids`` and ``gpu_metric_names`` tables, as the
docstring of ``analyzer_core.checkpoints.schema`` describes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain, repeat
from typing import Any

from analyzer_core.checkpoints.fields import (
    check_integer,
    check_number,
    optional,
    optional_integer,
    optional_number,
    require,
    require_mapping,
    to_float,
    type_name,
)
from analyzer_core.errors import CheckpointFormatError
from analyzer_core.records import Measurement, MeasurementStatus

_NEW_LAYOUT = object()


class _NameTable:
    """Names in first-seen order, each with its position in the value lists."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: list[str] = []
        self._positions: dict[str, int] = {}
        # Key order of an encoded mapping -> positions of its keys, or None when
        # the keys are the table's first names in table order.
        self._layouts: dict[tuple[str, ...], list[int] | None] = {}
        for name in names:
            self._position(name)

    def encode(self, values: Mapping[str, Any]) -> list[Any]:
        """Return the values of ``values`` in table order, None where a name is absent.

        Names not yet in the table are appended to it, so earlier lists stay valid.
        """
        keys = tuple(values)
        positions = self._layouts.get(keys, _NEW_LAYOUT)
        if positions is _NEW_LAYOUT:
            positions = self._layouts[keys] = self._layout(keys)
        if positions is None:
            return list(values.values())
        encoded: list[Any] = [None] * (max(positions) + 1)
        for position, value in zip(positions, values.values(), strict=True):
            encoded[position] = value
        return encoded

    def _layout(self, keys: tuple[str, ...]) -> list[int] | None:
        positions = [self._position(key) for key in keys]
        return None if positions == list(range(len(keys))) else positions

    def _position(self, name: str) -> int:
        position = self._positions.get(name)
        if position is None:
            position = self._positions[name] = len(self.names)
            self.names.append(name)
        return position


class MeasurementEncoder:
    """Encoder of measurements as schema-2 objects, collecting their name tables."""

    def __init__(self, machine_gpu_uuids: Iterable[str]) -> None:
        self.metric_names = _NameTable()
        self.gpu_uuids = _NameTable(machine_gpu_uuids)
        self.gpu_metric_names = _NameTable()

    def tables(self) -> dict[str, list[str]]:
        return {
            "metric_names": self.metric_names.names,
            "gpu_uuids": self.gpu_uuids.names,
            "gpu_metric_names": self.gpu_metric_names.names,
        }

    def encode(self, measurement: Measurement) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": measurement.model,
            "variant": measurement.variant,
            "batch_size": measurement.batch_size,
            "concurrency": measurement.concurrency,
            "time": round(measurement.timestamp, 3),
            "metrics": self.metric_names.encode(measurement.metrics),
        }
        if measurement.request_rate is not None:
            data["request_rate"] = measurement.request_rate
        if measurement.gpu_metrics:
            data["gpu_metrics"] = self._encode_gpus(measurement.gpu_metrics)
        if measurement.status is not MeasurementStatus.OK:
            data["status"] = measurement.status.value
        if measurement.error_log is not None:
            data["error_log"] = measurement.error_log
        return data

    def _encode_gpus(self, gpu_metrics: Mapping[str, Mapping[str, Any]]) -> list[Any]:
        per_gpu = {
            uuid: self.gpu_metric_names.encode(values)
            for uuid, values in gpu_metrics.items()
        }
        return self.gpu_uuids.encode(per_gpu)

    def upgrade(self, item: Any) -> Any:
        """Convert a schema-1 measurement object to schema 2.

        Other values pass through unchanged for ``checkpoint_from_json`` to reject.
        """
        if not isinstance(item, dict):
            return item
        upgraded = dict(item)
        if "metrics" in item:
            metrics = _version_1_values(item["metrics"], "metrics")
            upgraded["metrics"] = self.metric_names.encode(metrics)
        # Version 1 read a missing gpu_metrics, or any false value such as null or
        # {}, as "no GPU metrics".
        gpu_metrics = upgraded.pop("gpu_metrics", None)
        if gpu_metrics:
            if not isinstance(gpu_metrics, dict):
                raise CheckpointFormatError(
                    f"field 'gpu_metrics' has type {type_name(gpu_metrics)}, "
                    "expected an object"
                )
            per_gpu = {
                uuid: _version_1_values(values, f"gpu_metrics[{uuid}]")
                for uuid, values in gpu_metrics.items()
            }
            upgraded["gpu_metrics"] = self._encode_gpus(per_gpu)
        return upgraded


def _version_1_values(values: Any, label: str) -> dict[str, Any]:
    """Return a schema-1 name-to-value object after checking its type.

    A null value is rejected, because null means "absent" in schema 2.
    """
    if not isinstance(values, dict):
        raise CheckpointFormatError(
            f"field {label!r} has type {type_name(values)}, expected an object"
        )
    if None in values.values():
        name = next(name for name, value in values.items() if value is None)
        raise CheckpointFormatError(f"{label}[{name!r}] is not a number")
    return values


class MeasurementDecoder:
    """Decoder of schema-2 measurement objects with one document's name tables."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.metric_names = _name_table(document, "metric_names")
        self.gpu_uuids = _name_table(document, "gpu_uuids")
        self.gpu_metric_names = _name_table(document, "gpu_metric_names")
        # Error labels, built once because a load decodes up to GPUs x measurements.
        self._gpu_labels = [f"gpu_metrics[{uuid}]" for uuid in self.gpu_uuids]

    def decode_all(self, items: list) -> list[Measurement]:
        """Decode every item, prefixing a format error with ``measurements[i]``."""
        measurements = []
        for position, item in enumerate(items):
            try:
                measurements.append(self.decode(item))
            except CheckpointFormatError as error:
                message = f"measurements[{position}]: {error}"
                raise CheckpointFormatError(message) from None
        return measurements

    def decode(self, data: Any) -> Measurement:
        # Each field is first checked for the exact type that save writes. Only
        # when that check fails does it go through the general helper, which
        # accepts the value or raises naming the field. Skipping the helper
        # calls cut from_json's CPU time by 17 to 25 % (10,000 measurements
        # with 8 to 0 GPUs, best of 9 runs).
        require_mapping(data, "measurement")
        get = data.get

        metrics = get("metrics")
        if (
            type(metrics) is list
            and len(metrics) <= len(self.metric_names)
            and set(map(type, metrics)) <= _FLOAT_ONLY
        ):
            metrics = dict(zip(self.metric_names, metrics, strict=False))
        else:
            metrics = _decode_values(
                self.metric_names,
                "metric_names",
                require(data, "metrics", list),
                "metrics",
            )

        model = get("model")
        if type(model) is not str:
            model = require(data, "model", str)
        variant = get("variant")
        if type(variant) is not str:
            variant = require(data, "variant", str)

        batch_size = get("batch_size")
        if type(batch_size) is not int or not -_INT64 <= batch_size < _INT64:
            batch_size = check_integer(require(data, "batch_size", int), "batch_size")
        concurrency = get("concurrency")
        if concurrency is not None and (
            type(concurrency) is not int or not -_INT64 <= concurrency < _INT64
        ):
            concurrency = optional_integer(data, "concurrency")
        timestamp = get("time")
        if type(timestamp) is not float:
            timestamp = to_float(require(data, "time", (int, float)), "time")

        per_gpu = get("gpu_metrics")
        return Measurement(
            model=model,
            variant=variant,
            batch_size=batch_size,
            concurrency=concurrency,
            request_rate=optional_number(data, "request_rate"),
            metrics=metrics,
            gpu_metrics={} if per_gpu is None else self._gpu_metrics(per_gpu),
            timestamp=timestamp,
            status=_status(data["status"]) if "status" in data else _OK,
            error_log=optional(data, "error_log", str),
        )

    def _gpu_metrics(self, per_gpu: Any) -> dict[str, dict[str, float]]:
        names = self.gpu_metric_names
        # Fast path, checked in C: a list of float lists that fit their tables.
        if (
            type(per_gpu) is list
            and set(map(type, per_gpu)) <= _LIST_ONLY
            and len(per_gpu) <= len(self.gpu_uuids)
            and max(map(len, per_gpu), default=0) <= len(names)
            and set(map(type, chain.from_iterable(per_gpu))) <= _FLOAT_ONLY
        ):
            per_uuid = map(dict, map(zip, repeat(names), per_gpu))
            return dict(zip(self.gpu_uuids, per_uuid, strict=False))
        return self._check_gpu_metrics(per_gpu)

    def _check_gpu_metrics(self, per_gpu: Any) -> dict[str, dict[str, float]]:
        """Decode GPU values one by one, raising a format error that names the field."""
        if not isinstance(per_gpu, list):
            raise CheckpointFormatError(
                f"field 'gpu_metrics' has type {type_name(per_gpu)}, expected a list"
            )
        _check_length(per_gpu, "gpu_metrics", self.gpu_uuids, "gpu_uuids")
        decoded = {}
        for position, values in enumerate(per_gpu):
            if values is None:
                continue
            if not isinstance(values, list):
                raise CheckpointFormatError(
                    f"field {self._gpu_labels[position]!r} has type "
                    f"{type_name(values)}, expected a list"
                )
            decoded[self.gpu_uuids[position]] = _decode_values(
                self.gpu_metric_names,
                "gpu_metric_names",
                values,
                self._gpu_labels[position],
            )
        return decoded


_OK = MeasurementStatus.OK
_STATUSES = {status.value: status for status in MeasurementStatus}


def _status(value: Any) -> MeasurementStatus:
    status = _STATUSES.get(value) if isinstance(value, str) else None
    if status is None:
        raise CheckpointFormatError(f"unknown measurement status {value!r}")
    return status


def _name_table(document: dict[str, Any], key: str) -> list[str]:
    names = require(document, key, list)
    for name in names:
        if not isinstance(name, str):
            raise CheckpointFormatError(
                f"field {key!r} contains {name!r}, not a string"
            )
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise CheckpointFormatError(f"field {key!r} lists {repeated!r} twice")
    return names


def _check_length(values: list, label: str, names: list[str], table: str) -> None:
    if len(values) > len(names):
        raise CheckpointFormatError(
            f"field {label!r} has {len(values)} entries, more than the "
            f"{len(names)} in {table!r}"
        )


_FLOAT_ONLY = {float}
_LIST_ONLY = {list}
# Bound of the integers that take decode's fast path. Larger ones go through
# check_integer, which checks that they convert to float.
_INT64 = 2**63


def _decode_values(
    names: list[str], table: str, values: list, label: str
) -> dict[str, float]:
    """Pair a schema-2 value list with its name table, dropping nulls."""
    _check_length(values, label, names, table)
    # Fast path for the common case, checked in C: every value is a float.
    if set(map(type, values)) <= _FLOAT_ONLY:
        return dict(zip(names, values, strict=False))
    decoded = {}
    for name, value in zip(names, values, strict=False):
        if value is not None:
            decoded[name] = check_number(value, f"{label}[{name!r}]")
    return decoded
