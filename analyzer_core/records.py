"""Records of a profiling run: variants, measurements, the machine, the checkpoint.

A checkpoint file is the JSON form of :class:`CheckpointData` (see
``to_json``/``from_json``). Latencies are in milliseconds, throughput in
inferences per second, memory in MB and utilization in percent, as in
``analyzer_core.metrics.catalog``.

Schema version 2 stores each metric name once per file, in three top-level
name tables, and each measurement stores lists of values in table order::

    "metric_names": ["perf_throughput", "perf_latency_p99", "cpu_utilization"],
    "gpu_uuids": ["GPU-0f0e...", "GPU-5d1c..."],
    "gpu_metric_names": ["gpu_utilization", "gpu_used_memory"],
    "measurements": [{..., "metrics": [1250.5, 2.1, 38.0],
                      "gpu_metrics": [[40.0, 812.5], null]}]

Value ``i`` of ``metrics`` belongs to ``metric_names[i]``, and entry ``g`` of
``gpu_metrics`` holds GPU ``gpu_uuids[g]``'s values in ``gpu_metric_names``
order. A ``null``, or the end of a list shorter than its table, marks a
metric or GPU that the measurement lacks. ``gpu_uuids`` starts with the
machine's GPUs in order, so GPU ``g`` is ``machine.gpus[g]`` when the machine
lists it. The table may name more GPUs, because a remote Triton server reports
its own GPUs, which the machine record of the profiling host does not list.

Version 1 stored ``metrics`` and ``gpu_metrics`` as objects keyed by name in
every measurement. :func:`upgrade_from_version_1` converts such a document.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from itertools import chain, repeat
from typing import Any

from analyzer_core.errors import CheckpointFormatError

SCHEMA_VERSION = 2
DEFAULT_VARIANT_SUFFIX = "_config_default"


def variant_name(model: str, index: int | None) -> str:
    """Name a variant as Model Analyzer does: ``<model>_config_<k>`` or ``_default``."""
    if index is None:
        return f"{model}{DEFAULT_VARIANT_SUFFIX}"
    return f"{model}_config_{index}"


def model_from_variant_name(name: str) -> str:
    """Map a variant name back to its model, splitting at the last ``_config_``.

    ``ocr_config_v2_config_3`` belongs to model ``ocr_config_v2``.
    """
    model, separator, _ = name.rpartition("_config_")
    return model if separator else name


@dataclass
class Variant:
    """One model configuration that was loaded into Triton and measured."""

    name: str
    model: str
    config: dict[str, Any]
    is_default: bool = False

    @property
    def max_batch_size(self) -> int:
        return int(self.config.get("max_batch_size", 0))

    @property
    def instance_count(self) -> int:
        groups = self.config.get("instance_group") or [{}]
        return sum(int(group.get("count", 1)) for group in groups)

    @property
    def instance_kind(self) -> str:
        groups = self.config.get("instance_group") or [{}]
        return str(groups[0].get("kind", "KIND_CPU")).removeprefix("KIND_")

    @property
    def dynamic_batching(self) -> bool:
        return "dynamic_batching" in self.config

    def describe(self) -> str:
        """Summarise the settings: ``2 CPU instances, max batch size 8, dynamic batching``."""
        plural = "s" if self.instance_count != 1 else ""
        parts = [f"{self.instance_count} {self.instance_kind} instance{plural}"]
        parts.append(f"max batch size {self.max_batch_size}")
        parts.append(
            "dynamic batching" if self.dynamic_batching else "no dynamic batching"
        )
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "config": self.config,
            "is_default": self.is_default,
        }

    @classmethod
    def from_json(cls, data: Any) -> Variant:
        _require_mapping(data, "variant")
        variant = cls(
            name=_require(data, "name", str),
            model=_require(data, "model", str),
            config=_require(data, "config", dict),
            is_default=_optional(data, "is_default", bool) or False,
        )
        variant.check_config()
        return variant

    def check_config(self) -> None:
        """Raise CheckpointFormatError unless reports can read the config's settings.

        ``describe`` reads every property that tables and reports read, so a
        config such as ``{"instance_group": "two"}`` fails at load time.
        Tables convert the counts to float, so they must fit one.
        """
        try:
            self.describe()
            float(self.max_batch_size)
            float(self.instance_count)
        except _INVALID_CONFIG_ERRORS as error:
            raise CheckpointFormatError(
                f"config of variant {self.name!r} has an invalid max_batch_size or "
                f"instance_group: {type(error).__name__}: {error}"
            ) from None
        for group in self.config.get("instance_group") or []:
            gpus = group.get("gpus")
            if gpus is not None and not isinstance(gpus, list):
                raise CheckpointFormatError(
                    f"config of variant {self.name!r}: instance_group gpus has type "
                    f"{_type_name(gpus)}, expected a list"
                )
        batching = self.config.get("dynamic_batching")
        if batching is not None and not isinstance(batching, dict):
            raise CheckpointFormatError(
                f"config of variant {self.name!r}: dynamic_batching has type "
                f"{_type_name(batching)}, expected an object"
            )


# Exceptions that int(), str() and dict access raise on a config of the wrong shape.
_INVALID_CONFIG_ERRORS = (
    TypeError,
    ValueError,
    AttributeError,
    KeyError,
    OverflowError,
)


class MeasurementStatus(Enum):
    OK = "ok"
    FAILED = "failed"


@dataclass
class Measurement:
    """One perf_analyzer run: a variant at one batch size and load level."""

    model: str
    variant: str
    batch_size: int
    concurrency: int | None
    metrics: dict[str, float]
    request_rate: float | None = None
    gpu_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)
    status: MeasurementStatus = MeasurementStatus.OK
    error_log: str | None = None

    @property
    def key(self) -> tuple[str, str, int, int | None, float | None]:
        """The identity used to skip a run already measured."""
        return (
            self.model,
            self.variant,
            self.batch_size,
            self.concurrency,
            self.request_rate,
        )

    @property
    def ok(self) -> bool:
        return self.status is MeasurementStatus.OK


@dataclass
class GpuInfo:
    name: str
    uuid: str
    memory_total_mb: float | None = None


@dataclass
class MachineInfo:
    """The hardware and server a checkpoint was measured on."""

    cpu_model: str
    triton_version: str
    gpus: list[GpuInfo] = field(default_factory=list)

    def describe(self) -> str:
        gpus = ", ".join(f"{gpu.name} ({gpu.uuid})" for gpu in self.gpus) or "no GPU"
        return f"CPU {self.cpu_model}; {gpus}; Triton {self.triton_version}"

    def same_hardware(self, other: MachineInfo) -> bool:
        """Compare CPU model and GPU UUIDs; the Triton version may differ."""
        return self.cpu_model == other.cpu_model and sorted(
            gpu.uuid for gpu in self.gpus
        ) == sorted(gpu.uuid for gpu in other.gpus)

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu_model": self.cpu_model,
            "triton_version": self.triton_version,
            "gpus": [vars(gpu) for gpu in self.gpus],
        }

    @classmethod
    def from_json(cls, data: Any) -> MachineInfo:
        _require_mapping(data, "machine")
        gpus = data.get("gpus", [])
        if not isinstance(gpus, list):
            raise CheckpointFormatError("machine.gpus is not a list")
        return cls(
            cpu_model=_require(data, "cpu_model", str),
            triton_version=_require(data, "triton_version", str),
            gpus=[_gpu_from_json(gpu, position) for position, gpu in enumerate(gpus)],
        )


def _gpu_from_json(data: Any, position: int) -> GpuInfo:
    where = f"machine.gpus[{position}]"
    _require_mapping(data, where)
    try:
        return GpuInfo(
            name=_require(data, "name", str),
            uuid=_require(data, "uuid", str),
            memory_total_mb=_optional_number(data, "memory_total_mb"),
        )
    except CheckpointFormatError as error:
        raise CheckpointFormatError(f"{where}: {error}") from None


@dataclass
class CheckpointData:
    """Everything a checkpoint file stores."""

    machine: MachineInfo
    variants: dict[str, Variant] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    server_only: dict[str, float] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    saved_at: float | None = None
    source: str = "analyzer_core"

    def models(self) -> list[str]:
        """List the profiled models in the order they were first seen."""
        names = [variant.model for variant in self.variants.values()]
        names += [measurement.model for measurement in self.measurements]
        return list(dict.fromkeys(names))

    def variants_of(self, model: str) -> list[Variant]:
        return [variant for variant in self.variants.values() if variant.model == model]

    def measurements_of(self, variant: str) -> list[Measurement]:
        return [m for m in self.measurements if m.variant == variant]

    def measured_keys(self) -> set[tuple]:
        return {m.key for m in self.measurements}

    def to_json(self) -> dict[str, Any]:
        """Return the schema-2 document, with the name tables of its measurements."""
        encoder = _MeasurementEncoder(gpu.uuid for gpu in self.machine.gpus)
        measurements = [encoder.encode(m) for m in self.measurements]
        return {
            "schema_version": SCHEMA_VERSION,
            "created_at": self.created_at,
            "saved_at": self.saved_at,
            "machine": self.machine.to_json(),
            "variants": [variant.to_json() for variant in self.variants.values()],
            **encoder.tables(),
            "measurements": measurements,
            "server_only": self.server_only,
        }

    @classmethod
    def from_json(cls, data: Any) -> CheckpointData:
        """Build from a parsed schema-2 document, raising CheckpointFormatError."""
        _require_mapping(data, "checkpoint")
        variants = _require(data, "variants", list)
        measurements = _require(data, "measurements", list)
        parsed_variants = [
            _at_position("variants", position, Variant.from_json, item)
            for position, item in enumerate(variants)
        ]
        decoder = _MeasurementDecoder(data)
        return cls(
            machine=MachineInfo.from_json(_require(data, "machine", dict)),
            variants={variant.name: variant for variant in parsed_variants},
            measurements=decoder.decode_all(measurements),
            server_only=_number_map(
                _optional_mapping(data, "server_only"), "server_only"
            ),
            created_at=_finite(
                _require(data, "created_at", (int, float)), "created_at"
            ),
            saved_at=_optional_number(data, "saved_at"),
        )


def upgrade_from_version_1(document: dict[str, Any]) -> dict[str, Any]:
    """Convert a parsed schema-1 document to schema 2, without changing ``document``.

    Version 1 keyed ``metrics`` and each GPU's ``gpu_metrics`` by name in every
    measurement. Raises CheckpointFormatError when one of those objects has the
    wrong type or a null value. ``CheckpointData.from_json`` checks the rest.
    """
    measurements = document.get("measurements")
    if not isinstance(measurements, list):
        return document
    encoder = _MeasurementEncoder(_machine_gpu_uuids(document.get("machine")))
    upgraded = [
        _at_position("measurements", position, encoder.upgrade, item)
        for position, item in enumerate(measurements)
    ]
    return {**document, **encoder.tables(), "measurements": upgraded}


def _machine_gpu_uuids(machine: Any) -> list[str]:
    """List the UUIDs of a not yet validated machine record, skipping bad entries."""
    gpus = machine.get("gpus") if isinstance(machine, dict) else None
    if not isinstance(gpus, list):
        return []
    uuids = [gpu.get("uuid") for gpu in gpus if isinstance(gpu, dict)]
    return [uuid for uuid in uuids if isinstance(uuid, str)]


def _at_position(
    field_name: str, position: int, parse: Callable[[Any], Any], item: Any
) -> Any:
    """Call ``parse(item)``, prefixing any format error with ``field[position]``."""
    try:
        return parse(item)
    except CheckpointFormatError as error:
        raise CheckpointFormatError(f"{field_name}[{position}]: {error}") from None


# -- schema-2 measurement encoding ------------------------------------------------------


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


class _MeasurementEncoder:
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

        Other values pass through unchanged, so that from_json rejects them.
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
                    f"field 'gpu_metrics' has type {_type_name(gpu_metrics)}, "
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
            f"field {label!r} has type {_type_name(values)}, expected an object"
        )
    if None in values.values():
        name = next(name for name, value in values.items() if value is None)
        raise CheckpointFormatError(f"{label}[{name!r}] is not a number")
    return values


class _MeasurementDecoder:
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
        _require_mapping(data, "measurement")
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
                _require(data, "metrics", list),
                "metrics",
            )

        model = get("model")
        if type(model) is not str:
            model = _require(data, "model", str)
        variant = get("variant")
        if type(variant) is not str:
            variant = _require(data, "variant", str)

        batch_size = get("batch_size")
        if type(batch_size) is not int or not -_INT64 <= batch_size < _INT64:
            batch_size = _integer(_require(data, "batch_size", int), "batch_size")
        concurrency = get("concurrency")
        if concurrency is not None and (
            type(concurrency) is not int or not -_INT64 <= concurrency < _INT64
        ):
            concurrency = _optional_integer(data, "concurrency")
        timestamp = get("time")
        if type(timestamp) is not float:
            timestamp = _finite(_require(data, "time", (int, float)), "time")

        per_gpu = get("gpu_metrics")
        return Measurement(
            model=model,
            variant=variant,
            batch_size=batch_size,
            concurrency=concurrency,
            request_rate=_optional_number(data, "request_rate"),
            metrics=metrics,
            gpu_metrics={} if per_gpu is None else self._gpu_metrics(per_gpu),
            timestamp=timestamp,
            status=_status(data["status"]) if "status" in data else _OK,
            error_log=_optional(data, "error_log", str),
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
                f"field 'gpu_metrics' has type {_type_name(per_gpu)}, expected a list"
            )
        _check_length(per_gpu, "gpu_metrics", self.gpu_uuids, "gpu_uuids")
        decoded = {}
        for position, values in enumerate(per_gpu):
            if values is None:
                continue
            if not isinstance(values, list):
                raise CheckpointFormatError(
                    f"field {self._gpu_labels[position]!r} has type "
                    f"{_type_name(values)}, expected a list"
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
    names = _require(document, key, list)
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
# _integer, which checks that they convert to float.
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
            decoded[name] = _number(value, f"{label}[{name!r}]")
    return decoded


# -- validation helpers -----------------------------------------------------------------


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _require_mapping(data: Any, what: str) -> bool:
    if not isinstance(data, dict):
        raise CheckpointFormatError(
            f"{what} has type {_type_name(data)}, expected an object"
        )
    return True


def _require(data: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data:
        raise CheckpointFormatError(f"missing field {key!r}")
    value = data[key]
    if isinstance(value, bool) and kind is not bool:
        raise CheckpointFormatError(f"field {key!r} is a boolean")
    if not isinstance(value, kind):
        raise CheckpointFormatError(f"field {key!r} has type {_type_name(value)}")
    return value


def _optional(data: dict, key: str, kind: type) -> Any:
    """Return ``data[key]`` when it has type ``kind``, None when absent or null."""
    if data.get(key) is None:
        return None
    return _require(data, key, kind)


def _optional_integer(data: dict, key: str) -> int | None:
    if data.get(key) is None:
        return None
    return _integer(_require(data, key, int), key)


def _integer(value: int, key: str) -> int:
    """Return ``value``, rejecting integers too large for tables to convert to float."""
    _number(value, f"field {key!r}")
    return value


def _optional_number(data: dict, key: str) -> float | None:
    """Return ``data[key]`` as a float, None when absent or null."""
    if data.get(key) is None:
        return None
    return _finite(_require(data, key, (int, float)), key)


def _finite(value: int | float, key: str) -> float:
    """Convert to float, rejecting integers too large for one (a 400-digit time)."""
    try:
        return float(value)
    except OverflowError:
        raise CheckpointFormatError(f"field {key!r} is too large a number") from None


def _number(value: Any, label: str) -> int | float:
    """Return ``value`` unchanged if it is a number that converts to float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CheckpointFormatError(f"{label} is not a number")
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise CheckpointFormatError(f"{label} is too large a number") from None
    return value


def _optional_mapping(data: dict, key: str) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise CheckpointFormatError(f"field {key!r} is not an object")
    return value


def _number_map(values: Any, what: str) -> dict[str, float]:
    _require_mapping(values, what)
    for key, value in values.items():
        _number(value, f"{what}[{key!r}]")
    return values
