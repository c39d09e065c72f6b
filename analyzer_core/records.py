"""In-memory records of a profiling run: variants, measurements, the machine.

:class:`CheckpointData` is everything a checkpoint file stores, and
``analyzer_core.checkpoints.schema`` converts it to and from the file's JSON
document. Latencies are in milliseconds, throughput in inferences per second,
memory in MB and utilization in percent, as in ``analyzer_core.metrics.catalog``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from analyzer_core.checkpoints.fields import type_name
from analyzer_core.errors import CheckpointFormatError

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
                    f"{type_name(gpus)}, expected a list"
                )
        batching = self.config.get("dynamic_batching")
        if batching is not None and not isinstance(batching, dict):
            raise CheckpointFormatError(
                f"config of variant {self.name!r}: dynamic_batching has type "
                f"{type_name(batching)}, expected an object"
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
        """Return the schema-2 document that ``checkpoint_to_json`` builds."""
        # Imported here because the schema module imports this one.
        from analyzer_core.checkpoints.schema import checkpoint_to_json

        return checkpoint_to_json(self)

    @classmethod
    def from_json(cls, data: Any) -> CheckpointData:
        """Build from a parsed schema-2 document with ``checkpoint_from_json``."""
        from analyzer_core.checkpoints.schema import checkpoint_from_json

        return checkpoint_from_json(data)
