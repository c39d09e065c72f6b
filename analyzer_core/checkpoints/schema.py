"""JSON documents of checkpoint files, schema version 2, and the upgrade from 1.

A checkpoint file is the JSON form of :class:`CheckpointData`, written by
:func:`checkpoint_to_json` and read by :func:`checkpoint_from_json`.

Schema version 2 stores each metric name once per file, in three top-level
name tables, and each measurement stores lists of values in table order::

    "metric_names": ["perf_throughput", "perf_latency_p99", "cpu_utilization"],
    "gpu_uuids": ["GPU-0f0e...", "GPU-5d1c..."],
    "gpu_metric_names": ["gpu_utilization", "gpu_used_memory"],
    "measurements": [{..., "metrics": [1250.5, 2.1, 38.0],
                      "gpu_metrics": [[40.0, 812.5], null]}]

Value ``i`` of ``metrics`` belongs to ``metric_names[i]``, and entry ``g`` of
``gpu_metrics`` contains GPU ``gpu_uuids[g]``'s values in ``gpu_metric_names``
order. A ``null``, or the end of a list shorter than its table, marks a
metric or GPU that the measurement lacks. ``gpu_uuids`` starts with the
machine's GPUs in order, so GPU ``g`` is ``machine.gpus[g]`` when the machine
lists it. The table may name more GPUs, because a remote Triton server reports
its own GPUs, which the machine record of the profiling host does not list.

Version 1 stored ``metrics`` and ``gpu_metrics`` as objects keyed by name in
every measurement. :func:`upgrade_from_version_1` converts such a document.
"""

from __future__ import annotations

from typing import Any

from analyzer_core.checkpoints.fields import (
    check_number_map,
    optional,
    optional_mapping,
    optional_number,
    parse_at_position,
    require,
    require_mapping,
    to_float,
)
from analyzer_core.checkpoints.measurement_codec import (
    MeasurementDecoder,
    MeasurementEncoder,
)
from analyzer_core.errors import CheckpointFormatError
from analyzer_core.records import CheckpointData, GpuInfo, MachineInfo, Variant

SCHEMA_VERSION = 2


def checkpoint_to_json(data: CheckpointData) -> dict[str, Any]:
    """Return the schema-2 document, with the name tables of its measurements."""
    encoder = MeasurementEncoder(gpu.uuid for gpu in data.machine.gpus)
    measurements = [encoder.encode(m) for m in data.measurements]
    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": data.created_at,
        "saved_at": data.saved_at,
        "machine": _machine_to_json(data.machine),
        "variants": [_variant_to_json(variant) for variant in data.variants.values()],
        **encoder.tables(),
        "measurements": measurements,
        "server_only": data.server_only,
    }


def checkpoint_from_json(data: Any) -> CheckpointData:
    """Build CheckpointData from a parsed schema-2 document.

    Raises CheckpointFormatError on a missing or invalid field.
    """
    require_mapping(data, "checkpoint")
    variants = require(data, "variants", list)
    measurements = require(data, "measurements", list)
    parsed_variants = [
        parse_at_position("variants", position, _variant_from_json, item)
        for position, item in enumerate(variants)
    ]
    decoder = MeasurementDecoder(data)
    return CheckpointData(
        machine=_machine_from_json(require(data, "machine", dict)),
        variants={variant.name: variant for variant in parsed_variants},
        measurements=decoder.decode_all(measurements),
        server_only=check_number_map(
            optional_mapping(data, "server_only"), "server_only"
        ),
        created_at=to_float(require(data, "created_at", (int, float)), "created_at"),
        saved_at=optional_number(data, "saved_at"),
    )


def _variant_to_json(variant: Variant) -> dict[str, Any]:
    return {
        "name": variant.name,
        "model": variant.model,
        "config": variant.config,
        "is_default": variant.is_default,
    }


def _variant_from_json(data: Any) -> Variant:
    require_mapping(data, "variant")
    variant = Variant(
        name=require(data, "name", str),
        model=require(data, "model", str),
        config=require(data, "config", dict),
        is_default=optional(data, "is_default", bool) or False,
    )
    variant.check_config()
    return variant


def _machine_to_json(machine: MachineInfo) -> dict[str, Any]:
    return {
        "cpu_model": machine.cpu_model,
        "triton_version": machine.triton_version,
        "gpus": [vars(gpu) for gpu in machine.gpus],
    }


def _machine_from_json(data: Any) -> MachineInfo:
    require_mapping(data, "machine")
    gpus = data.get("gpus", [])
    if not isinstance(gpus, list):
        raise CheckpointFormatError("machine.gpus is not a list")
    return MachineInfo(
        cpu_model=require(data, "cpu_model", str),
        triton_version=require(data, "triton_version", str),
        gpus=[_gpu_from_json(gpu, position) for position, gpu in enumerate(gpus)],
    )


def _gpu_from_json(data: Any, position: int) -> GpuInfo:
    where = f"machine.gpus[{position}]"
    require_mapping(data, where)
    try:
        return GpuInfo(
            name=require(data, "name", str),
            uuid=require(data, "uuid", str),
            memory_total_mb=optional_number(data, "memory_total_mb"),
        )
    except CheckpointFormatError as error:
        raise CheckpointFormatError(f"{where}: {error}") from None


def upgrade_from_version_1(document: dict[str, Any]) -> dict[str, Any]:
    """Convert a parsed schema-1 document to schema 2, without changing ``document``.

    Version 1 keyed ``metrics`` and each GPU's ``gpu_metrics`` by name in every
    measurement. Raises CheckpointFormatError when one of those objects has the
    wrong type or a null value. ``checkpoint_from_json`` checks the rest.
    """
    measurements = document.get("measurements")
    if not isinstance(measurements, list):
        return document
    encoder = MeasurementEncoder(_machine_gpu_uuids(document.get("machine")))
    upgraded = [
        parse_at_position("measurements", position, encoder.upgrade, item)
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
