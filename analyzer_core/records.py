"""Records of a profiling run: variants, measurements, the machine, the checkpoint.

A checkpoint file is the JSON form of :class:`CheckpointData` (see
``to_json``/``from_json``). Latencies are in milliseconds, throughput in
inferences per second, memory in MB and utilization in percent, as in
``analyzer_core.metrics.catalog``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from analyzer_core.errors import CheckpointFormatError

SCHEMA_VERSION = 1
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
        return cls(
            name=_require(data, "name", str),
            model=_require(data, "model", str),
            config=_require(data, "config", dict),
            is_default=bool(data.get("is_default", False)),
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

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model,
            "variant": self.variant,
            "batch_size": self.batch_size,
            "concurrency": self.concurrency,
            "time": round(self.timestamp, 3),
            "metrics": self.metrics,
        }
        if self.request_rate is not None:
            data["request_rate"] = self.request_rate
        if self.gpu_metrics:
            data["gpu_metrics"] = self.gpu_metrics
        if self.status is not MeasurementStatus.OK:
            data["status"] = self.status.value
        if self.error_log:
            data["error_log"] = self.error_log
        return data

    @classmethod
    def from_json(cls, data: Any) -> Measurement:
        _require_mapping(data, "measurement")
        concurrency = data.get("concurrency")
        request_rate = data.get("request_rate")
        if concurrency is not None and not isinstance(concurrency, int):
            raise CheckpointFormatError(
                f"measurement concurrency {concurrency!r} is not an integer"
            )
        if request_rate is not None and not isinstance(request_rate, (int, float)):
            raise CheckpointFormatError(
                f"measurement request_rate {request_rate!r} is not a number"
            )
        try:
            status = MeasurementStatus(data.get("status", "ok"))
        except ValueError:
            raise CheckpointFormatError(
                f"unknown measurement status {data.get('status')!r}"
            ) from None
        return cls(
            model=_require(data, "model", str),
            variant=_require(data, "variant", str),
            batch_size=_require(data, "batch_size", int),
            concurrency=concurrency,
            request_rate=request_rate,
            metrics=_number_map(_require(data, "metrics", dict), "metrics"),
            gpu_metrics={
                str(uuid): _number_map(values, f"gpu_metrics[{uuid}]")
                for uuid, values in _optional_mapping(data, "gpu_metrics").items()
            },
            timestamp=_finite(_require(data, "time", (int, float)), "time"),
            status=status,
            error_log=data.get("error_log"),
        )


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
            gpus=[
                GpuInfo(
                    name=_require(gpu, "name", str),
                    uuid=_require(gpu, "uuid", str),
                    memory_total_mb=gpu.get("memory_total_mb"),
                )
                for gpu in gpus
                if _require_mapping(gpu, "machine.gpus entry")
            ],
        )


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
        return {
            "schema_version": SCHEMA_VERSION,
            "created_at": self.created_at,
            "saved_at": self.saved_at,
            "machine": self.machine.to_json(),
            "variants": [variant.to_json() for variant in self.variants.values()],
            "measurements": [m.to_json() for m in self.measurements],
            "server_only": self.server_only,
        }

    @classmethod
    def from_json(cls, data: Any) -> CheckpointData:
        """Build from a parsed checkpoint document, raising CheckpointFormatError."""
        _require_mapping(data, "checkpoint")
        variants = _require(data, "variants", list)
        measurements = _require(data, "measurements", list)
        parsed_variants = [Variant.from_json(item) for item in variants]
        return cls(
            machine=MachineInfo.from_json(_require(data, "machine", dict)),
            variants={variant.name: variant for variant in parsed_variants},
            measurements=[Measurement.from_json(item) for item in measurements],
            server_only=_number_map(
                _optional_mapping(data, "server_only"), "server_only"
            ),
            created_at=_finite(
                _require(data, "created_at", (int, float)), "created_at"
            ),
            saved_at=data.get("saved_at"),
        )


def _require_mapping(data: Any, what: str) -> bool:
    if not isinstance(data, dict):
        raise CheckpointFormatError(
            f"{what} is a {type(data).__name__}, expected an object"
        )
    return True


def _require(data: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data:
        raise CheckpointFormatError(f"missing field {key!r}")
    value = data[key]
    if isinstance(value, bool) and kind is not bool:
        raise CheckpointFormatError(f"field {key!r} is a boolean")
    if not isinstance(value, kind):
        raise CheckpointFormatError(f"field {key!r} has type {type(value).__name__}")
    return value


def _finite(value: int | float, key: str) -> float:
    """Convert to float, rejecting integers too large for one (a 400-digit time)."""
    try:
        return float(value)
    except OverflowError:
        raise CheckpointFormatError(f"field {key!r} is too large a number") from None


def _optional_mapping(data: dict, key: str) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise CheckpointFormatError(f"field {key!r} is not an object")
    return value


def _number_map(values: Any, what: str) -> dict[str, float]:
    _require_mapping(values, what)
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CheckpointFormatError(f"{what}[{key!r}] is not a number")
    return values
